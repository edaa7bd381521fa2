//! Which compute backend runs, and why (`backend=auto|webgpu|cpu`): the plan at start from the
//! user's choice, the adapter's own report and a cached measurement, and the backend line the
//! page shows. The page measures (calibration) and caches; this module only decides and words.

use serde::{Deserialize, Serialize};

use crate::protocol::{AdapterReport, BackendKind};

/// The user's choice (URL key `backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendPref {
    /// Decide by the adapter's report and by measuring.
    #[default]
    Auto,
    Webgpu,
    Cpu,
}

impl BackendPref {
    pub fn slug(self) -> &'static str {
        match self {
            BackendPref::Auto => "auto",
            BackendPref::Webgpu => "webgpu",
            BackendPref::Cpu => "cpu",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" | "" => Some(BackendPref::Auto),
            "webgpu" | "gpu" => Some(BackendPref::Webgpu),
            "cpu" => Some(BackendPref::Cpu),
            _ => None,
        }
    }
}

/// Why the backend that runs was chosen (`data-backend-reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// The URL asked for it.
    Forced,
    /// The browser has no WebGPU adapter.
    NoAdapter,
    /// The adapter is a software renderer: the CPU backend is faster.
    SoftwareAdapter,
    /// Both backends were timed on the real workload (now or on an earlier visit).
    Measured,
    /// The GPU failed during a run; the page moved to the CPU.
    GpuLost,
    /// WebGPU has an adapter but would not start.
    WebgpuFailed,
}

impl Reason {
    pub fn slug(self) -> &'static str {
        match self {
            Reason::Forced => "forced",
            Reason::NoAdapter => "no-adapter",
            Reason::SoftwareAdapter => "software-adapter",
            Reason::Measured => "measured",
            Reason::GpuLost => "gpu-lost",
            Reason::WebgpuFailed => "webgpu-failed",
        }
    }
}

/// Milliseconds per attack step of the same workload on each backend.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub cpu_ms: f64,
    pub webgpu_ms: f64,
}

impl Measurement {
    /// The faster backend (the CPU on a tie: it starts at once and never loses its device).
    pub fn winner(&self) -> BackendKind {
        if self.webgpu_ms < self.cpu_ms { BackendKind::Webgpu } else { BackendKind::Cpu }
    }
}

/// What to start with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub start: BackendKind,
    pub reason: Reason,
    /// Time both backends in the background after the first gallery (which runs on the CPU).
    pub calibrate: bool,
}

/// The plan at start. `cached`: an earlier measurement on this adapter and app version.
/// `force_calibration` (test key `debug=calibrate`) measures even on a software adapter.
/// The first gallery runs on the CPU unless the URL forces WebGPU: its worker is a fraction of the
/// WebGPU worker's size, so it starts sooner. When WebGPU won before, it is measured again in
/// the background and takes over (with warm shaders) after the first gallery.
pub fn plan(pref: BackendPref, adapter: Option<&AdapterReport>, cached: Option<Measurement>, force_calibration: bool) -> Plan {
    let p = |start, reason, calibrate| Plan { start, reason, calibrate };
    match (pref, adapter) {
        (BackendPref::Cpu, _) => p(BackendKind::Cpu, Reason::Forced, false),
        (_, None) => p(BackendKind::Cpu, Reason::NoAdapter, false),
        (BackendPref::Webgpu, Some(_)) => p(BackendKind::Webgpu, Reason::Forced, false),
        (BackendPref::Auto, Some(a)) => match cached {
            Some(m) if !force_calibration => p(BackendKind::Cpu, Reason::Measured, m.winner() == BackendKind::Webgpu),
            _ if a.software && !force_calibration => p(BackendKind::Cpu, Reason::SoftwareAdapter, false),
            _ => p(BackendKind::Cpu, Reason::Measured, true),
        },
    }
}

/// The backend that runs and what is known about the choice.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub kind: BackendKind,
    pub reason: Reason,
    pub adapter: Option<AdapterReport>,
    pub measurement: Option<Measurement>,
    /// A measurement is under way.
    pub measuring: bool,
    /// What failed, for `GpuLost` and `WebgpuFailed`.
    pub note: Option<String>,
}

fn ms(v: f64) -> String {
    if v < 10.0 { format!("{v:.1} ms") } else { format!("{v:.0} ms") }
}

impl Choice {
    /// The backend line, e.g. "CPU (faster here than WebGPU on google swiftshader: 2.1 ms vs 48 ms per step)".
    pub fn describe(&self) -> String {
        let adapter = self.adapter.as_ref().map(|a| a.name.as_str()).unwrap_or("the GPU");
        let why = match (self.reason, self.kind, self.measurement) {
            (Reason::Forced, BackendKind::Cpu, _) => "chosen in the URL".to_string(),
            (Reason::Forced, BackendKind::Webgpu, _) => format!("{adapter}, chosen in the URL"),
            (Reason::NoAdapter, ..) => "no WebGPU adapter".to_string(),
            (Reason::SoftwareAdapter, ..) => format!("WebGPU here is {adapter}, a software renderer, slower than the CPU"),
            (Reason::Measured, BackendKind::Cpu, Some(m)) if self.measuring && m.winner() == BackendKind::Webgpu => format!(
                "WebGPU on {adapter} takes over after the first gallery: it was faster on an earlier visit, {} vs {} per step",
                ms(m.webgpu_ms),
                ms(m.cpu_ms)
            ),
            (Reason::Measured, BackendKind::Cpu, Some(m)) => {
                format!("faster here than WebGPU on {adapter}: {} vs {} per step", ms(m.cpu_ms), ms(m.webgpu_ms))
            }
            (Reason::Measured, BackendKind::Webgpu, Some(m)) => {
                format!("{adapter}: {} vs {} per step on the CPU", ms(m.webgpu_ms), ms(m.cpu_ms))
            }
            (Reason::Measured, BackendKind::Cpu, None) => format!("measuring WebGPU on {adapter} in the background…"),
            (Reason::Measured, BackendKind::Webgpu, None) => adapter.to_string(),
            (Reason::GpuLost, ..) => format!("{}; switched to the CPU", self.note.as_deref().unwrap_or("the GPU failed")),
            (Reason::WebgpuFailed, ..) => self.note.clone().unwrap_or_else(|| "WebGPU failed to start".into()),
        };
        format!("{} ({why})", self.kind.title())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hw() -> AdapterReport {
        AdapterReport { name: "NVIDIA RTX".into(), software: false }
    }
    fn sw() -> AdapterReport {
        AdapterReport { name: "google swiftshader".into(), software: true }
    }

    #[test]
    fn plans_follow_the_choice_the_adapter_and_the_cache() {
        use BackendKind::*;
        let m_gpu = Measurement { cpu_ms: 2.0, webgpu_ms: 0.5 };
        let m_cpu = Measurement { cpu_ms: 2.0, webgpu_ms: 48.0 };
        assert_eq!(plan(BackendPref::Cpu, Some(&hw()), None, false), Plan { start: Cpu, reason: Reason::Forced, calibrate: false });
        assert_eq!(plan(BackendPref::Webgpu, Some(&sw()), None, false), Plan { start: Webgpu, reason: Reason::Forced, calibrate: false });
        assert_eq!(plan(BackendPref::Webgpu, None, None, false).reason, Reason::NoAdapter);
        assert_eq!(plan(BackendPref::Auto, None, None, false), Plan { start: Cpu, reason: Reason::NoAdapter, calibrate: false });
        assert_eq!(plan(BackendPref::Auto, Some(&sw()), None, false), Plan { start: Cpu, reason: Reason::SoftwareAdapter, calibrate: false });
        // A hardware adapter is measured: the first gallery runs on the CPU meanwhile.
        assert_eq!(plan(BackendPref::Auto, Some(&hw()), None, false), Plan { start: Cpu, reason: Reason::Measured, calibrate: true });
        // A cached win for WebGPU: the first gallery still runs on the (smaller) CPU worker, and
        // WebGPU is measured again and takes over in the background.
        assert_eq!(plan(BackendPref::Auto, Some(&hw()), Some(m_gpu), false), Plan { start: Cpu, reason: Reason::Measured, calibrate: true });
        assert_eq!(plan(BackendPref::Auto, Some(&hw()), Some(m_cpu), false), Plan { start: Cpu, reason: Reason::Measured, calibrate: false });
        assert!(plan(BackendPref::Auto, Some(&sw()), Some(m_gpu), true).calibrate);
        assert!(plan(BackendPref::Auto, Some(&sw()), None, true).calibrate);
    }

    #[test]
    fn the_line_says_which_and_why() {
        let c = Choice {
            kind: BackendKind::Cpu,
            reason: Reason::Measured,
            adapter: Some(sw()),
            measurement: Some(Measurement { cpu_ms: 2.14, webgpu_ms: 48.2 }),
            measuring: false,
            note: None,
        };
        assert_eq!(c.describe(), "CPU (faster here than WebGPU on google swiftshader: 2.1 ms vs 48 ms per step)");
        let g = Choice { kind: BackendKind::Webgpu, measurement: Some(Measurement { cpu_ms: 2.1, webgpu_ms: 0.8 }), adapter: Some(hw()), ..c.clone() };
        assert_eq!(g.describe(), "WebGPU (NVIDIA RTX: 0.8 ms vs 2.1 ms per step on the CPU)");
        let handing_over = Choice { kind: BackendKind::Cpu, measuring: true, ..g.clone() };
        assert_eq!(
            handing_over.describe(),
            "CPU (WebGPU on NVIDIA RTX takes over after the first gallery: it was faster on an earlier visit, 0.8 ms vs 2.1 ms per step)"
        );
        let none = Choice { reason: Reason::NoAdapter, adapter: None, measurement: None, ..c };
        assert_eq!(none.describe(), "CPU (no WebGPU adapter)");
        assert_eq!(Reason::SoftwareAdapter.slug(), "software-adapter");
        assert_eq!(BackendPref::parse("webgpu"), Some(BackendPref::Webgpu));
        assert_eq!(BackendPref::parse("tpu"), None);
    }
}
