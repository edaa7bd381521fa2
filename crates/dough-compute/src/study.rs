//! The study's attack on Burn: every controlled input attacked toward every class with the
//! configured method (the analysis of the outcomes is in `dough_core::study`).

use burn::prelude::Device;

use dough_core::attack::{AttackConfig, AttackError};
use dough_core::model::ArchSpec;
use dough_core::study::abstraction::Abstraction;
use dough_core::study::overview::{Overview, predicted, transfer_inputs};
use dough_core::study::pairs::transfer_rate;
use dough_core::study::pipeline::{Evolved, batch, default_inputs};
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
/// gray as the page shows them) that network j assigns to their targets. The same reading as the
/// page's overview: class probabilities of [`transfer_inputs`], then [`predicted`].
pub async fn transfer_matrix(nets: &[(&ArchSpec, &Weights)], runs: &[&Evolved], device: &Device) -> Result<Vec<Vec<f32>>, AttackError> {
    let mut m = vec![vec![0.0f32; nets.len()]; runs.len()];
    for (i, run) in runs.iter().enumerate() {
        let (images, targets) = transfer_inputs(run);
        for (j, (spec, weights)) in nets.iter().enumerate() {
            let probs = crate::eval::probabilities_batch(spec, weights, device, &images).await?;
            m[i][j] = transfer_rate(&predicted(&probs), &targets);
        }
    }
    Ok(m)
}

/// One network of an overview: its name, architecture family and weights.
pub struct OverviewNet<'a> {
    pub name: &'a str,
    pub family: usize,
    pub spec: &'a ArchSpec,
    pub weights: &'a Weights,
}

/// The zoo overview natively, step for step as the page computes it: the study's attack on the
/// controlled inputs of each seed on every network, the patterns of each run, the transfer
/// matrix of each seed, then [`Overview::new`] (p-values from `seed`).
pub async fn overview(
    nets: &[OverviewNet<'_>],
    seeds: &[u64],
    cfg: &AttackConfig,
    abs: &Abstraction,
    permutations: usize,
    seed: u64,
    device: &Device,
) -> Result<Overview, AttackError> {
    let mut runs: Vec<Vec<Evolved>> = Vec::new();
    for net in nets {
        let mut per_seed = Vec::new();
        for &s in seeds {
            let starts: Vec<Vec<f32>> = default_inputs(s).iter().map(|i| i.pixels(None)).collect::<Result<_, _>>().map_err(|e| AttackError::BadConfig(e.to_string()))?;
            per_seed.push(evolve(net.spec, net.weights, device, &starts, cfg).await?);
        }
        runs.push(per_seed);
    }
    let weights: Vec<(&ArchSpec, &Weights)> = nets.iter().map(|n| (n.spec, n.weights)).collect();
    let mut transfer = Vec::new();
    for k in 0..seeds.len() {
        let of_seed: Vec<&Evolved> = runs.iter().map(|r| &r[k]).collect();
        transfer.push(transfer_matrix(&weights, &of_seed, device).await?);
    }
    let patterns: Vec<Vec<Vec<Vec<f32>>>> = runs.iter().map(|r| r.iter().map(|e| e.patterns(abs)).collect()).collect();
    Overview::new(nets.iter().map(|n| n.name.to_string()).collect(), nets.iter().map(|n| n.family).collect(), seeds.to_vec(), &patterns, &transfer, permutations, seed)
        .map_err(|e| AttackError::BadConfig(e.to_string()))
}
