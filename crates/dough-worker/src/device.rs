//! Starting the compute device in the worker: WebGPU (through `navigator.gpu`, which dedicated
//! workers have) in the `webgpu` build, the CPU backend in the `cpu` build, and the adapter's own
//! report of what it is.

#[cfg(feature = "webgpu")]
use burn::tensor::wgpu::WgpuSetup;

use dough_compute::Device;
use dough_core::protocol::{AdapterReport, BackendKind, Reply};
#[cfg(feature = "webgpu")]
use dough_core::protocol::FailKind;

use crate::port;

/// The device that runs, and for WebGPU the handles behind it.
pub struct Engine {
    pub device: Device,
    pub kind: BackendKind,
    #[cfg(feature = "webgpu")]
    setup: Option<WgpuSetup>,
}

impl Engine {
    #[cfg(feature = "cpu")]
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

fn answer(id: u32, kind: BackendKind, adapter: Option<AdapterReport>, note: Option<String>, t0: f64) -> Reply {
    Reply::Backend { id, backend: kind, adapter, note, init_ms: port::now_ms() - t0 }
}

/// Starts `want` with the backend this build has. `None` (with a `Reply::Backend` naming the
/// CPU and a note saying why) when it has no device to offer: WebGPU asked of the WebGPU build
/// but not available (no adapter, the device request failed), or the CPU asked of it. The page
/// then starts the CPU worker instead. The CPU build answers every request on the CPU.
pub async fn start(id: u32, want: BackendKind) -> (Option<Engine>, Reply) {
    let t0 = port::now_ms();
    #[cfg(feature = "webgpu")]
    if want == BackendKind::Webgpu {
        return start_webgpu(id, t0).await;
    }
    #[cfg(feature = "cpu")]
    {
        let note = (want != BackendKind::Cpu).then(|| "this worker has the CPU backend only".to_string());
        (Some(Engine::cpu()), answer(id, BackendKind::Cpu, None, note, t0))
    }
    #[cfg(not(feature = "cpu"))]
    {
        let _ = want;
        (None, answer(id, BackendKind::Cpu, None, Some("this worker has WebGPU only".into()), t0))
    }
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

/// The message of an error that wraps a JavaScript exception, without the exception's stack
/// (what the page shows on its backend line).
#[cfg(feature = "webgpu")]
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().replace("JsValue(", "")
}

#[cfg(feature = "webgpu")]
async fn start_webgpu(id: u32, t0: f64) -> (Option<Engine>, Reply) {
    let Some(adapter) = adapter_report().await else {
        return (None, answer(id, BackendKind::Cpu, None, Some("no WebGPU adapter".into()), t0));
    };
    choose_matmul(&adapter);
    match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            // A lost device (driver reset, `destroy`) poisons every later read: tell the page at
            // once, so that it moves the run to a fresh worker on the CPU.
            setup.device.set_device_lost_callback(|reason, message| {
                port::reply(Reply::Failed { id: None, message: format!("{reason:?}: {message}"), kind: FailKind::DeviceLost });
            });
            let c = Engine { device, kind: BackendKind::Webgpu, setup: Some(setup) };
            (Some(c), answer(id, BackendKind::Webgpu, Some(adapter), None, t0))
        }
        Err(e) => {
            web_sys::console::warn_1(&format!("WebGPU failed to start: {e:?}").into());
            (None, answer(id, BackendKind::Cpu, Some(adapter), Some(format!("WebGPU failed to start: {}", first_line(&e.to_string()))), t0))
        }
    }
}
