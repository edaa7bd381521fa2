//! The drivers' compute natively (`dough_core::drive`): the CLI and the tests run the study, the
//! overview and compare mode through the same drivers as the page, each attack and reading on
//! the network's own device, one after the other. [`evolve`] is the study's attack on one batch.

use dough_core::attack::{AttackConfig, ComputeError, SampleOutcome};
use dough_core::drive::Compute;
use dough_core::model::CLASSES;
use dough_core::study::pipeline::{Evolved, batch};

use crate::eval;
use crate::network::Network;
use crate::suite::{Goal, Attack};

/// Runs every task on the task's network, one at a time. On the CPU the drivers cut their
/// attacks into pieces of one controlled input (as the page's CPU workers do; a step costs every
/// row of its batch); on a GPU they keep them whole. `lanes` only lets the tests run the drivers
/// as a pool of that many workers would (out of order; the rows must not change).
#[derive(Clone, Copy, Debug)]
pub struct Local {
    lanes: usize,
    piece_rows: Option<usize>,
}

impl Default for Local {
    fn default() -> Self {
        Self { lanes: 1, piece_rows: Some(CLASSES) }
    }
}

impl Local {
    /// On the CPU (Burn's flex backend).
    pub fn new() -> Self {
        Self::default()
    }

    /// As if `lanes` tasks could run at once.
    pub fn with_lanes(lanes: usize) -> Self {
        Self { lanes: lanes.max(1), ..Self::default() }
    }

    /// Attacks kept whole, as on a GPU.
    pub fn whole(self) -> Self {
        Self { piece_rows: None, ..self }
    }
}

impl Compute for Local {
    type Model = Network;
    type Error = ComputeError;

    fn lanes(&self) -> usize {
        self.lanes
    }

    fn piece_rows(&self) -> Option<usize> {
        self.piece_rows
    }

    async fn attack(&self, _lane: usize, net: &Network, untrained_seed: Option<u64>, starts: &[Vec<f32>], targets: &[usize], cfg: &AttackConfig) -> Result<Option<Vec<SampleOutcome>>, ComputeError> {
        let twin;
        let net = match untrained_seed {
            Some(seed) => {
                twin = net.untrained(seed)?;
                &twin
            }
            None => net,
        };
        let goals: Vec<Goal> = targets.iter().map(|&t| Goal::Toward(t)).collect();
        Ok(Some(Attack::on(net, starts, &goals, cfg)?.run().await?))
    }

    async fn probabilities(&self, _lane: usize, net: &Network, images: &[f32]) -> Result<Option<Vec<f32>>, ComputeError> {
        Ok(Some(eval::probabilities_on(net, images).await?))
    }
}

/// The study's attack on one set of controlled inputs: every start toward every class on `net`.
pub async fn evolve(net: &Network, starts: &[Vec<f32>], cfg: &AttackConfig) -> Result<Evolved, ComputeError> {
    let (s, t) = batch(starts);
    let goals: Vec<Goal> = t.into_iter().map(Goal::Toward).collect();
    Ok(Evolved::from_outcomes(Attack::on(net, &s, &goals, cfg)?.run().await?))
}
