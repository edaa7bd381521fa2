//! The compute device of the commands that run networks (`--backend cpu|wgpu`): Burn's CPU
//! backend (flex), or Burn's wgpu backend natively (Vulkan, Metal or DX12, OpenGL where nothing
//! else answers), with the matmul routine chosen as the browser worker chooses it
//! (crates/dough-worker/src/device.rs). `main` starts it once, before the command runs;
//! `crate::device()` hands it out.

use std::sync::OnceLock;

use dough_compute::Device;
use dough_compute::local::Local;

use crate::cli::DeviceOptions;
#[cfg(feature = "wgpu")]
use crate::values::{self, GraphicsApi, Matmul};
use crate::values::Backend;

/// The started device and the words that say what it is.
struct Started {
    device: Device,
    label: String,
    /// The wgpu handles behind the device, kept for the life of the process.
    #[cfg(feature = "wgpu")]
    _setup: Option<burn::tensor::wgpu::WgpuSetup>,
}

static STARTED: OnceLock<Started> = OnceLock::new();

/// Starts the backend `opts` asks for. With `--backend wgpu` it says on stderr which adapter
/// and matmul routine it uses; without an adapter it is an error (never a panic).
pub fn start(opts: &DeviceOptions) -> Result<(), String> {
    opts.check()?;
    let started = match opts.backend {
        Backend::Cpu => cpu(),
        Backend::Wgpu => start_wgpu(opts)?,
    };
    if opts.backend == Backend::Wgpu {
        eprintln!("backend: {}", started.label);
    }
    STARTED.set(started).map_err(|_| "the compute backend was started twice".to_string())
}

fn cpu() -> Started {
    Started {
        device: Device::flex(),
        label: "cpu, flex".into(),
        #[cfg(feature = "wgpu")]
        _setup: None,
    }
}

/// The started device; Burn's CPU backend when none was started.
pub fn device() -> Device {
    STARTED.get().map_or_else(Device::flex, |s| s.device.clone())
}

/// The drivers' compute on the started device: attacks cut into pieces on the CPU, whole on a
/// GPU (as the page's workers run them).
pub fn local() -> Local {
    if STARTED.get().is_some_and(|s| s.device != Device::flex()) { Local::new().whole() } else { Local::new() }
}

/// What the started device is, e.g. `cpu, flex` or `wgpu/vulkan, NVIDIA H200, DiscreteGpu, driver
/// NVIDIA 570.86, matmul auto (default)`.
pub fn label() -> String {
    STARTED.get().map_or_else(|| cpu().label, |s| s.label.clone())
}

#[cfg(not(feature = "wgpu"))]
fn start_wgpu(_: &DeviceOptions) -> Result<Started, String> {
    Err("this dough-cli was built without the wgpu feature (cargo build --profile native -p dough-cli --features wgpu); use --backend cpu".into())
}

/// Asks Burn's wgpu runtime for a device. Burn 0.22's `WgpuOptions::init_with_setup` returns the
/// failure to find an adapter or get a device as a `WgpuInitError` (it does not panic), and hands
/// back the wgpu setup it registered, whose adapter this reports and classifies.
#[cfg(feature = "wgpu")]
fn start_wgpu(opts: &DeviceOptions) -> Result<Started, String> {
    use burn::tensor::wgpu::{WgpuBackend, WgpuInitError, wgpu};

    let mut options = Device::wgpu_options();
    let api = match opts.graphics_api {
        GraphicsApi::Auto => None,
        GraphicsApi::Vulkan => Some(WgpuBackend::Vulkan),
        GraphicsApi::Metal => Some(WgpuBackend::Metal),
        GraphicsApi::Dx12 => Some(WgpuBackend::Dx12),
        GraphicsApi::Gl => Some(WgpuBackend::Gl),
    };
    if let Some(api) = api {
        options = options.graphics_api(api);
    }
    let (device, setup) = options.init_with_setup().map_err(|e| match e {
        WgpuInitError::AdapterUnavailable { .. } | WgpuInitError::UnsupportedGraphicsApi { .. } => {
            format!("no GPU adapter found: {e}; use --backend cpu")
        }
        e => format!("wgpu did not start: {e}; use --backend cpu"),
    })?;
    // A lost device (driver reset) fails every later operation, and Burn may panic there: end
    // with the reason at once, as the worker tells the page. `Destroyed` is a deliberate end.
    setup.device.set_device_lost_callback(|reason, message| {
        if reason != wgpu::DeviceLostReason::Destroyed {
            eprintln!("error: the GPU device was lost ({reason:?}): {message}");
            std::process::exit(1);
        }
    });
    let info = setup.adapter.get_info();
    let report = dough_core::protocol::AdapterReport::from_info(
        &info.name,
        &info.driver,
        &info.driver_info,
        "",
        info.device_type == wgpu::DeviceType::Cpu,
    );
    let (matmul, chosen) = match opts.matmul {
        Some(m) => (m, ""),
        None => (Matmul::default_for(&report.name), " (default)"),
    };
    burn_cubecl::kernel::matmul::set_cube_matmul_routine(matmul.routine());
    let driver = [info.driver.as_str(), info.driver_info.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
    let label = format!(
        "wgpu/{}, {}, {:?}{}{}, matmul {}{chosen}",
        info.backend,
        report.name,
        info.device_type,
        if report.software { " (software)" } else { "" },
        if driver.is_empty() { String::new() } else { format!(", driver {driver}") },
        values::slug(&matmul),
    );
    Ok(Started { device, label, _setup: Some(setup) })
}
