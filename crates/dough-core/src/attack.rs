//! The "minimal evolution" attack's settings and results: targeted, iterative gradient descent
//! on the input (the attack itself, `Evolution`, runs on Burn in `dough-compute`).
//!
//! Every sample (a start image and a target class) moves along its normalised gradient of the
//! cross-entropy to its target, is clamped to [0, 1], and stops as soon as the network gives
//! the target a confidence of at least kappa (or at the step limit). The weights never change.

use serde::{Deserialize, Serialize};

use crate::model::{CLASSES, PIXELS};
use crate::suite::{AttackMethod, SuiteParams};
use crate::weights::WeightsError;

/// How a step's length is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepNorm {
    /// The gradient scaled to L2 length `step_size`.
    L2,
    /// The gradient's sign times `step_size` (steepest descent in L-infinity).
    Linf,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackConfig {
    pub norm: StepNorm,
    pub step_size: f32,
    pub max_steps: usize,
    /// Target confidence at which a sample stops.
    pub kappa: f32,
    /// When false, every sample takes exactly `max_steps` steps (benchmarks, backend comparisons).
    pub early_stop: bool,
    /// The method: minimal evolution reads the fields above, the others read `suite`.
    #[serde(default)]
    pub method: AttackMethod,
    /// The other methods' parameters.
    #[serde(default)]
    pub suite: SuiteParams,
}

impl Default for AttackConfig {
    fn default() -> Self {
        Self {
            norm: StepNorm::L2,
            step_size: 0.05,
            max_steps: 500,
            kappa: 0.9,
            early_stop: true,
            method: AttackMethod::Evolve,
            suite: SuiteParams::default(),
        }
    }
}

impl AttackConfig {
    /// The most iterations a run takes (the progress bar's end).
    pub fn progress_steps(&self) -> usize {
        match self.method {
            AttackMethod::Evolve => self.max_steps,
            m => self.suite.max_iterations(m),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    #[error("the attack needs at least one sample")]
    Empty,
    #[error("start image {index} has {len} pixels, the network takes {PIXELS}")]
    BadInput { index: usize, len: usize },
    #[error("target class {0} does not exist (classes are 0-9)")]
    BadTarget(usize),
    #[error("invalid attack settings: {0}")]
    BadConfig(String),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("the compute backend failed: {0}")]
    Backend(String),
    /// A driver's own error (`crate::drive`).
    #[error(transparent)]
    Drive(#[from] crate::drive::DriveError),
}

/// What happened to one sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleOutcome {
    pub target: usize,
    pub start: Vec<f32>,
    pub adversarial: Vec<f32>,
    /// The class the network assigns to the adversarial example.
    pub predicted: usize,
    /// The network's confidence in the target on the adversarial example.
    pub confidence: f32,
    /// Gradient steps (iterations) taken.
    pub steps: usize,
    /// Size of the perturbation (adversarial - start).
    pub l2: f32,
    pub linf: f32,
    /// Pixels changed by more than [`L0_THRESHOLD`].
    #[serde(default)]
    pub l0: usize,
    /// Whether the attack met its goal: for minimal evolution, the target confidence reached
    /// kappa; for the other methods, the network predicts the target (untargeted: any class but
    /// the start's).
    pub reached: bool,
    /// Untargeted: `target` is the class the attack moved away from, and `confidence` is the
    /// network's confidence in its prediction.
    #[serde(default)]
    pub away: bool,
}

/// A pixel counts as changed (L0) when it moved by more than this.
pub const L0_THRESHOLD: f32 = 1e-4;

/// L0, L2 and L-inf of `adversarial - start`.
pub fn norms(start: &[f32], adversarial: &[f32]) -> (usize, f32, f32) {
    let (mut l0, mut l2, mut linf) = (0usize, 0.0f32, 0.0f32);
    for (a, s) in adversarial.iter().zip(start) {
        let d = a - s;
        l0 += (d.abs() > L0_THRESHOLD) as usize;
        l2 += d * d;
        linf = linf.max(d.abs());
    }
    (l0, l2.sqrt(), linf)
}

impl SampleOutcome {
    pub fn perturbation(&self) -> Vec<f32> {
        self.adversarial.iter().zip(&self.start).map(|(a, s)| a - s).collect()
    }
}

/// The batch for "one start, every target": ten copies of `start` and targets 0-9.
pub fn every_target(start: &[f32]) -> (Vec<Vec<f32>>, Vec<usize>) {
    ((0..CLASSES).map(|_| start.to_vec()).collect(), (0..CLASSES).collect())
}
