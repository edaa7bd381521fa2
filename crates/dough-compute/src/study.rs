//! The study's attack on Burn: every controlled input evolved toward every class (the analysis of
//! the outcomes is in `dough_core::study`).

use burn::prelude::Device;

use dough_core::attack::{AttackConfig, AttackError};
use dough_core::model::ArchSpec;
use dough_core::study::pipeline::{Evolved, batch};
use dough_core::weights::Weights;

use crate::attack::AttackJob;

/// Runs the study batch to the end on `device` (native callers; the app steps the job itself).
pub async fn evolve(
    spec: &ArchSpec,
    weights: &Weights,
    device: &Device,
    starts: &[Vec<f32>],
    cfg: &AttackConfig,
) -> Result<Evolved, AttackError> {
    let (s, t) = batch(starts);
    let out = AttackJob::new(spec, weights, device, &s, &t, cfg.clone())?.run().await?;
    Ok(Evolved::from_outcomes(out))
}
