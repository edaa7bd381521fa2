//! The fixed benchmark workload, the yardstick for all speed work (`?bench=mlp|cnn`, `dough bench`).
//!
//! Random weights from seed 0; 160 inputs at 0.5 with targets i mod 10; 3 warm-up steps; then
//! 50 attack updates (cross-entropy to the target, input gradient, L2 step of 0.05, clamp) with
//! no early stopping, and one read of the result at the end. This is the workload's definition;
//! `dough_compute::bench::run` drives it and times it.

use serde::{Deserialize, Serialize};

use crate::attack::{AttackConfig, ComputeError, StepNorm};
use crate::model::{ArchSpec, CLASSES, PIXELS};
use crate::weights::Weights;

pub const BATCH: usize = 160;
pub const WARMUP_STEPS: usize = 3;
pub const TIMED_STEPS: usize = 50;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    pub arch: String,
    pub batch: usize,
    pub steps: usize,
    pub total_ms: f64,
    pub ms_per_step: f64,
    /// Mean of the final inputs: a checksum that the work was really done.
    pub checksum: f64,
}

pub fn spec_for(name: &str) -> Option<ArchSpec> {
    match name {
        "mlp" => Some(ArchSpec::bench_mlp()),
        "cnn" => Some(ArchSpec::bench_cnn()),
        _ => None,
    }
}

/// A workload: the network, its weights, the starts, their targets and the attack settings.
pub type Workload = (ArchSpec, Weights, Vec<Vec<f32>>, Vec<usize>, AttackConfig);

/// The workload `name` (mlp or cnn): the network, its weights from seed 0, the [`BATCH`] starts
/// at 0.5, their targets i mod 10 and the attack settings (L2 steps of 0.05, no early stop, one
/// step more than the warm-up and timed steps together).
pub fn workload(name: &str) -> Result<Workload, ComputeError> {
    let spec = spec_for(name).ok_or_else(|| ComputeError::BadConfig(format!("unknown benchmark \"{name}\" (mlp or cnn)")))?;
    let weights = spec.init_weights(0);
    let starts = vec![vec![0.5f32; PIXELS]; BATCH];
    let targets: Vec<usize> = (0..BATCH).map(|i| i % CLASSES).collect();
    let cfg = AttackConfig {
        norm: StepNorm::L2,
        step_size: 0.05,
        max_steps: WARMUP_STEPS + TIMED_STEPS + 1,
        kappa: 1.0,
        early_stop: false,
        ..AttackConfig::default()
    };
    Ok((spec, weights, starts, targets, cfg))
}
