//! Runs the fixed benchmark workload (`?bench=mlp|cnn`, `dough bench`), defined in
//! `dough_core::bench`: 3 warm-up steps, then 50 timed attack updates and one read of the result.

use burn::prelude::Device;

use dough_core::attack::ComputeError;
use dough_core::bench::{BATCH, BenchResult, TIMED_STEPS, WARMUP_STEPS, workload};

use crate::attack::Evolution;

/// Runs the workload on `device`. `now_ms` is the caller's clock; `pause` is awaited between
/// steps (the browser yields to its event loop there; natively it can do nothing).
pub async fn run<F, P>(name: &str, device: &Device, now_ms: &dyn Fn() -> f64, pause: F) -> Result<BenchResult, ComputeError>
where
    F: Fn() -> P,
    P: std::future::Future<Output = ()>,
{
    let (spec, weights, starts, targets, cfg) = workload(name)?;
    let mut job = Evolution::new(&spec, &weights, device, &starts, &targets, cfg)?;
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
