//! Starting the compute device in the worker: WebGPU (through `navigator.gpu`, which dedicated
//! workers have) or the CPU backend, and the adapter's own report of what it is.

#[cfg(feature = "webgpu")]
use burn::tensor::wgpu::WgpuSetup;

use dough_compute::Device;
use dough_core::protocol::{AdapterReport, BackendKind, Reply};

use crate::port;

/// The device that runs, and for WebGPU the handles behind it.
pub struct Compute {
    pub device: Device,
    pub kind: BackendKind,
    #[cfg(feature = "webgpu")]
    setup: Option<WgpuSetup>,
}

impl Compute {
    pub fn cpu() -> Self {
        Self {
            device: Device::flex(),
            kind: BackendKind::Cpu,
            #[cfg(feature = "webgpu")]
            setup: None,
        }
    }

    /// Destroys the GPU device (test-only fault `debug=lose-device`), as a driver reset would.
    pub fn lose_device(&self) {
        #[cfg(feature = "webgpu")]
        if let Some(s) = &self.setup {
            s.device.destroy();
        }
    }
}

/// `navigator.gpu.requestAdapter()`'s report, when there is an adapter.
#[cfg(feature = "webgpu")]
async fn adapter_report() -> Option<AdapterReport> {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    dough_core::protocol::web::adapter_report(&navigator).await
}

fn answer(c: &Compute, adapter: Option<AdapterReport>, note: Option<String>, t0: f64) -> Reply {
    Reply::Backend { backend: c.kind, adapter, note, init_ms: port::now_ms() - t0 }
}

/// Starts `want`. WebGPU falls back to the CPU when there is no adapter or it fails to start;
/// the note says why.
pub async fn start(want: BackendKind) -> (Compute, Reply) {
    let t0 = port::now_ms();
    let answer = |c: &Compute, adapter, note| answer(c, adapter, note, t0);
    if want == BackendKind::Cpu {
        let c = Compute::cpu();
        let r = answer(&c, None, None);
        return (c, r);
    }
    start_webgpu(t0).await
}

/// This build has the CPU backend only (`dough-worker-cpu`).
#[cfg(not(feature = "webgpu"))]
async fn start_webgpu(t0: f64) -> (Compute, Reply) {
    let c = Compute::cpu();
    let r = answer(&c, None, Some("this worker has the CPU backend only".into()), t0);
    (c, r)
}

/// The matmul routine of Burn's CubeCL backend without autotune (patched, vendor/burn-cubecl).
/// Burn's own choice (`Auto`) falls back to a unit matmul staged through workgroup memory; on a
/// software adapter (SwiftShader) CubeCL's tiled CPU gemm, which works in registers without
/// barriers, runs the attack step's matmuls 2.5-3x faster (tests/gpu-profile.mjs). Hardware
/// adapters keep `Auto`. A test-only global `doughMatmulRoutine` (a number, see
/// `set_cube_matmul_routine`), set in the worker before it starts, overrides the choice.
#[cfg(feature = "webgpu")]
fn choose_matmul(adapter: &AdapterReport) {
    /// `set_cube_matmul_routine`'s number for `tiled::Strategy::CpuGemm`.
    const CPU_GEMM: u8 = 7;
    let forced = js_sys::Reflect::get(&js_sys::global(), &"doughMatmulRoutine".into()).ok().and_then(|v| v.as_f64());
    let routine = match forced {
        Some(r) => r as u8,
        None if adapter.software => CPU_GEMM,
        None => 0,
    };
    burn_cubecl::kernel::matmul::set_cube_matmul_routine(routine);
}

#[cfg(feature = "webgpu")]
async fn start_webgpu(t0: f64) -> (Compute, Reply) {
    let answer = |c: &Compute, adapter, note| answer(c, adapter, note, t0);
    let Some(adapter) = adapter_report().await else {
        let c = Compute::cpu();
        let r = answer(&c, None, Some("no WebGPU adapter".into()));
        return (c, r);
    };
    choose_matmul(&adapter);
    match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            // A lost device (driver reset, `destroy`) poisons every later read: tell the page at
            // once, so that it moves the run to a fresh worker on the CPU.
            setup.device.set_device_lost_callback(|reason, message| {
                port::reply(Reply::Failed { id: None, message: format!("{reason:?}: {message}"), gpu: true });
            });
            let c = Compute { device, kind: BackendKind::Webgpu, setup: Some(setup) };
            let r = answer(&c, Some(adapter), None);
            (c, r)
        }
        Err(e) => {
            web_sys::console::warn_1(&format!("WebGPU failed to start, using the CPU: {e:?}").into());
            let c = Compute::cpu();
            let r = answer(&c, Some(adapter), Some(format!("WebGPU failed to start: {e}")));
            (c, r)
        }
    }
}
