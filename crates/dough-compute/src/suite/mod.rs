//! The attack suite on Burn: minimal evolution (`crate::attack`) and the classic attacks FGSM,
//! BIM, PGD, C&W L2, DeepFool, JSMA and DDN behind one step-wise [`Attack`], so the worker, the
//! study and the CLI drive every method the same way (progress, cancel, frames).
//!
//! Every method is batched over samples (start image x goal). Each iteration is one forward
//! pass whose logits come back to the host, and one backward pass of a linear combination of
//! the logits chosen on the host from them (cross-entropy: softmax - one-hot; C&W: the margin;
//! DeepFool and JSMA: differences of logits), whose input gradient comes back too. The
//! per-sample logic (projections, binary search, pair search) runs on the host, identically on
//! every backend.

mod cw;
mod deepfool;
mod ddn;
mod jsma;
mod projected;

use burn::prelude::*;

use dough_core::attack::{AttackConfig, ComputeError, SampleOutcome, norms};
use dough_core::model::{ArchSpec, CLASSES, PIXELS};
use dough_core::suite::{AttackMethod, SuiteParams};
use dough_core::weights::Weights;

use crate::attack::Evolution;
use crate::network::{Classifier, Network};

/// What one sample's attack aims at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Targeted: the network must predict this class.
    Toward(usize),
    /// Untargeted: the network must predict any class but this one (the start's label).
    AwayFrom(usize),
}

impl Goal {
    pub fn class(self) -> usize {
        match self {
            Goal::Toward(c) | Goal::AwayFrom(c) => c,
        }
    }

    /// Whether logits `row` meet the goal.
    pub fn met(self, row: &[f32]) -> bool {
        let p = argmax(row);
        match self {
            Goal::Toward(t) => p == t,
            Goal::AwayFrom(l) => p != l,
        }
    }

    /// Coefficients on the logits whose gradient is the gradient of the cross-entropy the
    /// attack descends: to the target (targeted), or minus the cross-entropy to the label.
    pub fn ce_coef(self, row: &[f32]) -> [f32; CLASSES] {
        let p = softmax(row);
        let mut c = [0.0f32; CLASSES];
        for k in 0..CLASSES {
            let e = (k == self.class()) as u8 as f32;
            c[k] = match self {
                Goal::Toward(_) => p[k] - e,
                Goal::AwayFrom(_) => e - p[k],
            };
        }
        c
    }
}

pub(crate) fn argmax(row: &[f32]) -> usize {
    (0..row.len()).fold(0, |b, c| if row[c] > row[b] { c } else { b })
}

pub(crate) fn softmax(row: &[f32]) -> [f32; CLASSES] {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p = [0.0f32; CLASSES];
    let mut sum = 0.0;
    for k in 0..CLASSES {
        p[k] = (row[k] - m).exp();
        sum += p[k];
    }
    p.iter_mut().for_each(|v| *v /= sum);
    p
}

/// The largest logit among the classes other than `skip`, and its class.
pub(crate) fn best_other(row: &[f32], skip: usize) -> (usize, f32) {
    (0..CLASSES).filter(|&k| k != skip).map(|k| (k, row[k])).fold((usize::MAX, f32::NEG_INFINITY), |b, c| if c.1 > b.1 { c } else { b })
}

pub(crate) fn l2(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn backend_err(e: impl std::fmt::Debug) -> ComputeError {
    ComputeError::Backend(format!("{e:?}"))
}

/// The network on an autodiff device (weights frozen): logits and input gradients of host
/// batches.
pub(crate) struct Net {
    model: Classifier,
    device: Device,
}

/// A forward pass kept for its backward pass.
pub(crate) struct Probe {
    pub logits: Vec<f32>,
    out: Tensor<2>,
    x: Tensor<2>,
    rows: usize,
    device: Device,
}

impl Net {
    fn on(net: &Network) -> Self {
        Self { model: net.autodiff(), device: net.device().clone() }
    }

    fn input(&self, x: &[f32]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(x.to_vec(), [x.len() / PIXELS, PIXELS]), &self.device)
    }

    /// Logits `[rows * 10]` of `x` (`[rows * 784]`).
    pub async fn logits(&self, x: &[f32]) -> Result<Vec<f32>, ComputeError> {
        let out = self.model.forward(self.input(x).autodiff()).inner();
        out.into_data_async().await.map_err(backend_err)?.try_to_vec::<f32>().map_err(backend_err)
    }

    /// A forward pass of `x` that can be differentiated afterwards.
    pub async fn probe(&self, x: &[f32]) -> Result<Probe, ComputeError> {
        let rows = x.len() / PIXELS;
        let xt = self.input(x).autodiff().require_grad();
        let out = self.model.forward(xt.clone());
        let logits = out.clone().inner().into_data_async().await.map_err(backend_err)?.try_to_vec::<f32>().map_err(backend_err)?;
        Ok(Probe { logits, out, x: xt, rows, device: self.device.clone() })
    }
}

impl Probe {
    /// d/dx of sum over rows and classes of `coef * logits` (`coef`: `[rows * 10]`), `[rows * 784]`.
    pub async fn grad(self, coef: &[f32]) -> Result<Vec<f32>, ComputeError> {
        let c = Tensor::<2>::from_data(TensorData::new(coef.to_vec(), [self.rows, CLASSES]), &self.device).autodiff();
        let loss = (self.out * c).sum();
        let grads = loss.backward();
        let g = self.x.grad(&grads).ok_or_else(|| ComputeError::Backend("no gradient for the input".into()))?;
        g.into_data_async().await.map_err(backend_err)?.try_to_vec::<f32>().map_err(backend_err)
    }
}

/// What the classic methods share: the network, the starts, the goals, the current images.
pub(crate) struct Ctx {
    pub net: Net,
    pub starts: Vec<f32>,
    pub goals: Vec<Goal>,
    pub params: SuiteParams,
    /// The current images, `[batch * 784]`.
    pub x: Vec<f32>,
    /// Iterations each sample took.
    pub iters: Vec<usize>,
}

impl Ctx {
    pub fn batch(&self) -> usize {
        self.goals.len()
    }

    pub fn start(&self, i: usize) -> &[f32] {
        &self.starts[i * PIXELS..(i + 1) * PIXELS]
    }
}

/// Per sample, the best image found (where `best_l2` is finite), else the current one.
pub(crate) fn best_or_current(ctx: &Ctx, best: &[f32], best_l2: &[f32]) -> Vec<f32> {
    let mut out = ctx.x.clone();
    for (i, l2) in best_l2.iter().enumerate() {
        if l2.is_finite() {
            out[i * PIXELS..(i + 1) * PIXELS].copy_from_slice(&best[i * PIXELS..(i + 1) * PIXELS]);
        }
    }
    out
}

/// A classic method's state machine.
enum Classic {
    Projected(projected::Projected),
    Cw(cw::Cw),
    Deepfool(deepfool::Deepfool),
    Jsma(jsma::Jsma),
    Ddn(ddn::Ddn),
}

/// A classic (non-evolution) attack in progress.
pub struct ClassicAttack {
    ctx: Ctx,
    state: Classic,
    done: usize,
    max: usize,
    finished: bool,
}

/// An attack of any method in progress.
pub enum Attack {
    Evolve(Evolution),
    Classic(ClassicAttack),
}

fn check_inputs(starts: &[Vec<f32>], goals: &[Goal]) -> Result<(), ComputeError> {
    if starts.is_empty() || starts.len() != goals.len() {
        return Err(ComputeError::Empty);
    }
    for (index, s) in starts.iter().enumerate() {
        if s.len() != PIXELS {
            return Err(ComputeError::BadInput { index, len: s.len() });
        }
    }
    if let Some(g) = goals.iter().find(|g| g.class() >= CLASSES) {
        return Err(ComputeError::BadTarget(g.class()));
    }
    Ok(())
}

impl Attack {
    /// Prepares `cfg.method` from `starts[i]` toward (or away from) `goals[i]` on the network
    /// `spec` + `weights` on `device`. Minimal evolution reads `cfg`'s own fields, the other
    /// methods `cfg.suite`.
    pub fn new(spec: &ArchSpec, weights: &Weights, device: &Device, starts: &[Vec<f32>], goals: &[Goal], cfg: &AttackConfig) -> Result<Self, ComputeError> {
        check_inputs(starts, goals)?;
        Self::on(&Network::new(spec, weights, device)?, starts, goals, cfg)
    }

    /// [`Attack::new`] on a built network.
    pub fn on(net: &Network, starts: &[Vec<f32>], goals: &[Goal], cfg: &AttackConfig) -> Result<Self, ComputeError> {
        check_inputs(starts, goals)?;
        let (method, params) = (cfg.method, &cfg.suite);
        if method == AttackMethod::Evolve {
            let away = matches!(goals[0], Goal::AwayFrom(_));
            if goals.iter().any(|g| matches!(g, Goal::AwayFrom(_)) != away) {
                return Err(ComputeError::BadConfig("minimal evolution runs all samples targeted or all untargeted".into()));
            }
            let classes: Vec<usize> = goals.iter().map(|g| g.class()).collect();
            let job = Evolution::on(net, starts, &classes, cfg.clone())?;
            return Ok(Attack::Evolve(if away { job.away() } else { job }));
        }
        params.validate(method).map_err(ComputeError::BadConfig)?;
        let flat: Vec<f32> = starts.iter().flatten().copied().collect();
        let ctx = Ctx {
            net: Net::on(net),
            x: flat.clone(),
            starts: flat,
            goals: goals.to_vec(),
            params: params.clone(),
            iters: vec![0; goals.len()],
        };
        let state = match method {
            AttackMethod::Fgsm | AttackMethod::Bim | AttackMethod::Pgd => Classic::Projected(projected::Projected::new(method, &ctx)),
            AttackMethod::Cw => Classic::Cw(cw::Cw::new(&ctx)),
            AttackMethod::Deepfool => Classic::Deepfool(deepfool::Deepfool::new(&ctx)),
            AttackMethod::Jsma => Classic::Jsma(jsma::Jsma::new(&ctx)),
            AttackMethod::Ddn => Classic::Ddn(ddn::Ddn::new(&ctx)),
            AttackMethod::Evolve => unreachable!("handled above"),
        };
        let max = params.max_iterations(method).max(1);
        Ok(Attack::Classic(ClassicAttack { ctx, state, done: 0, max, finished: false }))
    }

    /// One iteration; true once the job is finished.
    pub async fn step(&mut self) -> Result<bool, ComputeError> {
        match self {
            Attack::Evolve(j) => j.step().await,
            Attack::Classic(j) => j.step().await,
        }
    }

    pub fn batch(&self) -> usize {
        match self {
            Attack::Evolve(j) => j.batch(),
            Attack::Classic(j) => j.ctx.batch(),
        }
    }

    pub fn steps_done(&self) -> usize {
        match self {
            Attack::Evolve(j) => j.steps_done(),
            Attack::Classic(j) => j.done,
        }
    }

    /// Samples still moving.
    pub fn active_count(&self) -> usize {
        match self {
            Attack::Evolve(j) => j.active_count(),
            Attack::Classic(j) if j.finished => 0,
            Attack::Classic(j) => match &j.state {
                Classic::Deepfool(s) => s.active(),
                Classic::Jsma(s) => s.active(),
                _ => j.ctx.batch(),
            },
        }
    }

    /// The most iterations the job can take (the progress bar's end).
    pub fn max_steps(&self) -> usize {
        match self {
            Attack::Evolve(j) => j.max_steps(),
            Attack::Classic(j) => j.max,
        }
    }

    /// The current images, `[batch * 784]` (frames for the step playback).
    pub async fn current_inputs(&self) -> Result<Vec<f32>, ComputeError> {
        match self {
            Attack::Evolve(j) => j.current_inputs().await,
            Attack::Classic(j) => Ok(j.result_images()),
        }
    }

    /// The result; call once `step` has returned true.
    pub async fn outcome(&self) -> Result<Vec<SampleOutcome>, ComputeError> {
        match self {
            Attack::Evolve(j) => j.outcome().await,
            Attack::Classic(j) => j.outcome().await,
        }
    }

    pub async fn run(mut self) -> Result<Vec<SampleOutcome>, ComputeError> {
        while !self.step().await? {}
        self.outcome().await
    }
}

impl ClassicAttack {
    async fn step(&mut self) -> Result<bool, ComputeError> {
        if self.finished {
            return Ok(true);
        }
        let ctx = &mut self.ctx;
        let finished = match &mut self.state {
            Classic::Projected(s) => s.step(ctx).await?,
            Classic::Cw(s) => s.step(ctx).await?,
            Classic::Deepfool(s) => s.step(ctx).await?,
            Classic::Jsma(s) => s.step(ctx).await?,
            Classic::Ddn(s) => s.step(ctx).await?,
        };
        self.done += 1;
        self.finished = finished || self.done >= self.max + 2;
        Ok(self.finished)
    }

    /// The images the method returns: its best adversarial examples (C&W, DDN, PGD with
    /// restarts keep the best they saw), else the current ones.
    fn result_images(&self) -> Vec<f32> {
        match &self.state {
            Classic::Projected(s) => s.result(&self.ctx),
            Classic::Cw(s) => s.result(&self.ctx),
            Classic::Ddn(s) => s.result(&self.ctx),
            Classic::Deepfool(_) | Classic::Jsma(_) => self.ctx.x.clone(),
        }
    }

    async fn outcome(&self) -> Result<Vec<SampleOutcome>, ComputeError> {
        let adv = self.result_images();
        let logits = self.ctx.net.logits(&adv).await?;
        Ok((0..self.ctx.batch())
            .map(|i| {
                let row = &logits[i * CLASSES..(i + 1) * CLASSES];
                let p = softmax(row);
                let goal = self.ctx.goals[i];
                let predicted = argmax(row);
                let start = self.ctx.start(i).to_vec();
                let adversarial = adv[i * PIXELS..(i + 1) * PIXELS].to_vec();
                let (l0, l2, linf) = norms(&start, &adversarial);
                let away = matches!(goal, Goal::AwayFrom(_));
                SampleOutcome {
                    target: goal.class(),
                    confidence: if away { p[predicted] } else { p[goal.class()] },
                    predicted,
                    start,
                    adversarial,
                    steps: self.ctx.iters[i],
                    l0,
                    l2,
                    linf,
                    reached: goal.met(row),
                    away,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
