//! The fixed benchmark workload, the yardstick for all speed work (`?bench=mlp|cnn`, `dough bench`).
//!
//! Random weights from seed 0; 160 inputs at 0.5 with targets i mod 10; 3 warm-up steps; then
//! 50 attack updates (cross-entropy to the target, input gradient, L2 step of 0.05, clamp) with
//! no early stopping, and one read of the result at the end.

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use crate::attack::{AttackConfig, AttackError, AttackJob, StepNorm};
use crate::model::{ArchSpec, CLASSES, PIXELS};

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

/// Runs the workload on `device`. `now_ms` is the caller's clock; `pause` is awaited between
/// steps (the browser yields to its event loop there; natively it can do nothing).
pub async fn run<F, P>(name: &str, device: &Device, now_ms: &dyn Fn() -> f64, pause: F) -> Result<BenchResult, AttackError>
where
    F: Fn() -> P,
    P: std::future::Future<Output = ()>,
{
    let spec = spec_for(name).ok_or_else(|| AttackError::BadConfig(format!("unknown benchmark \"{name}\" (mlp or cnn)")))?;
    let weights = spec.init_weights(0);
    let starts = vec![vec![0.5f32; PIXELS]; BATCH];
    let targets: Vec<usize> = (0..BATCH).map(|i| i % CLASSES).collect();
    let cfg = AttackConfig {
        norm: StepNorm::L2,
        step_size: 0.05,
        max_steps: WARMUP_STEPS + TIMED_STEPS + 1,
        kappa: 1.0,
        early_stop: false,
    };
    let mut job = AttackJob::new(&spec, &weights, device, &starts, &targets, cfg)?;
    for _ in 0..WARMUP_STEPS {
        job.step().await?;
        pause().await;
    }
    job.current_inputs().await?;
    let t0 = now_ms();
    for _ in 0..TIMED_STEPS {
        job.step().await?;
        pause().await;
    }
    let x = job.current_inputs().await?;
    let total_ms = now_ms() - t0;
    Ok(BenchResult {
        arch: name.to_string(),
        batch: BATCH,
        steps: TIMED_STEPS,
        total_ms,
        ms_per_step: total_ms / TIMED_STEPS as f64,
        checksum: x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64,
    })
}
