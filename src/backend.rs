//! Choosing the compute device: WebGPU when the browser has an adapter, the CPU otherwise.

use dough_core::Device;

use crate::platform::webgpu_adapter_name;

#[derive(Clone, Debug, PartialEq)]
pub enum BackendKind {
    WebGpu { adapter: String },
    Cpu { reason: String },
}

impl BackendKind {
    /// "webgpu" or "cpu", for `data-backend`.
    pub fn slug(&self) -> &'static str {
        match self {
            BackendKind::WebGpu { .. } => "webgpu",
            BackendKind::Cpu { .. } => "cpu",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            BackendKind::WebGpu { adapter } => format!("WebGPU ({adapter})"),
            BackendKind::Cpu { reason } => format!("CPU ({reason})"),
        }
    }
}

#[derive(Clone)]
pub struct Backend {
    pub device: Device,
    pub kind: BackendKind,
}

/// WebGPU if an adapter can be had (and the user did not ask for the CPU), else the CPU.
pub async fn choose(force_cpu: bool) -> Backend {
    let cpu = |reason: &str| Backend { device: Device::flex(), kind: BackendKind::Cpu { reason: reason.into() } };
    if force_cpu {
        return cpu("chosen in the URL");
    }
    let Some(adapter) = webgpu_adapter_name().await else {
        return cpu("no WebGPU adapter");
    };
    match Device::wgpu_options().init_async().await {
        Ok(device) => Backend { device, kind: BackendKind::WebGpu { adapter } },
        Err(e) => {
            web_sys::console::warn_1(&format!("WebGPU initialisation failed, using the CPU: {e:?}").into());
            cpu("WebGPU failed to start")
        }
    }
}
