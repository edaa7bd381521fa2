//! The study's attack on Burn: every controlled input attacked toward every class with the
//! configured method (the analysis of the outcomes is in `dough_core::study`).

use burn::prelude::Device;

use dough_core::attack::{AttackConfig, AttackError};
use dough_core::model::ArchSpec;
use dough_core::study::pairs::{transfer_images, transfer_rate};
use dough_core::study::pipeline::{Evolved, batch};
use dough_core::weights::Weights;

use crate::suite::{Goal, Job};

/// Runs the study batch to the end on `device` (native callers; the app steps the job itself).
pub async fn evolve(
    spec: &ArchSpec,
    weights: &Weights,
    device: &Device,
    starts: &[Vec<f32>],
    cfg: &AttackConfig,
) -> Result<Evolved, AttackError> {
    let (s, t) = batch(starts);
    let goals: Vec<Goal> = t.into_iter().map(Goal::Toward).collect();
    let out = Job::new(spec, weights, device, &s, &goals, cfg)?.run().await?;
    Ok(Evolved::from_outcomes(out))
}

/// `m[i][j]`: the share of run i's adversarial examples (made on network i, quantised to 8-bit
/// gray as the page shows them) that network j assigns to their targets.
pub async fn transfer_matrix(nets: &[(&ArchSpec, &Weights)], runs: &[&Evolved], device: &Device) -> Result<Vec<Vec<f32>>, AttackError> {
    let mut m = vec![vec![0.0f32; nets.len()]; runs.len()];
    for (i, run) in runs.iter().enumerate() {
        let (bytes, targets) = transfer_images(run);
        for (j, (spec, weights)) in nets.iter().enumerate() {
            let predicted = crate::eval::predict(spec, weights, device, &bytes, 500).await?;
            m[i][j] = transfer_rate(&predicted, &targets);
        }
    }
    Ok(m)
}
