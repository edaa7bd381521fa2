//! The "minimal evolution" attack on Burn: targeted, iterative gradient descent on the input
//! (its settings and results, `AttackConfig` and `SampleOutcome`, are in `dough_core::attack`).
//!
//! Every sample (a start image and a target class) moves along its normalised gradient of the
//! cross-entropy to its target, is clamped to [0, 1], and stops as soon as the network gives
//! the target a confidence of at least kappa (or at the step limit). All samples go through
//! the network as one batch per step. The weights never change.
//!
//! The job is a step-wise state machine so that callers (the browser) can yield between
//! steps, show progress and cancel; `run` drives it to the end in one go.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use dough_core::attack::{AttackConfig, ComputeError, SampleOutcome, StepNorm, norms};
use dough_core::model::{ArchSpec, CLASSES, PIXELS};
use dough_core::weights::Weights;

use crate::network::{Classifier, Network};

/// Log-probabilities and the summed cross-entropy of every sample to its target (one-hot
/// rows), with `x` tracked for the input gradient. `model` must live on an autodiff device.
pub fn target_loss(model: &Classifier, x: &Tensor<2>, onehot: &Tensor<2>) -> (Tensor<2>, Tensor<1>, Tensor<2>) {
    let x = x.clone().autodiff().require_grad();
    let log_probs = log_softmax(model.forward(x.clone()), 1);
    let loss = (log_probs.clone() * onehot.clone().autodiff()).sum().neg();
    (log_probs, loss, x)
}

/// d loss / d x, per sample (the weights are never differentiated).
pub fn input_gradient(loss: &Tensor<1>, x: &Tensor<2>) -> Result<Tensor<2>, ComputeError> {
    let grads = loss.backward();
    x.grad(&grads).ok_or_else(|| ComputeError::Backend("no gradient for the input".into()))
}

/// The attack in progress.
pub struct Evolution {
    model: Classifier,
    cfg: AttackConfig,
    device: Device,
    starts: Vec<f32>,
    targets: Vec<usize>,
    onehot: Tensor<2>,
    x: Tensor<2>,
    step: usize,
    active: Vec<bool>,
    steps_used: Vec<usize>,
    probs: Vec<f32>,
    finished: bool,
    /// Untargeted: `targets` are the classes to move away from.
    away: bool,
}

fn backend_err(e: impl std::fmt::Debug) -> ComputeError {
    ComputeError::Backend(format!("{e:?}"))
}

impl Evolution {
    /// Prepares an attack of `targets[i]` from `starts[i]` on the network `spec` + `weights`,
    /// on `device` (a plain device; autodiff is added here).
    pub fn new(
        spec: &ArchSpec,
        weights: &Weights,
        device: &Device,
        starts: &[Vec<f32>],
        targets: &[usize],
        cfg: AttackConfig,
    ) -> Result<Self, ComputeError> {
        Self::on(&Network::new(spec, weights, device)?, starts, targets, cfg)
    }

    /// Prepares an attack of `targets[i]` from `starts[i]` on the built network `net`.
    pub fn on(net: &Network, starts: &[Vec<f32>], targets: &[usize], cfg: AttackConfig) -> Result<Self, ComputeError> {
        let device = net.device();
        if starts.is_empty() || starts.len() != targets.len() {
            return Err(ComputeError::Empty);
        }
        if !(cfg.step_size.is_finite() && cfg.step_size > 0.0) {
            return Err(ComputeError::BadConfig(format!("step size must be positive, got {}", cfg.step_size)));
        }
        if !(cfg.kappa > 0.0 && cfg.kappa <= 1.0) {
            return Err(ComputeError::BadConfig(format!("kappa must lie in (0, 1], got {}", cfg.kappa)));
        }
        for (index, s) in starts.iter().enumerate() {
            if s.len() != PIXELS {
                return Err(ComputeError::BadInput { index, len: s.len() });
            }
        }
        if let Some(&t) = targets.iter().find(|&&t| t >= CLASSES) {
            return Err(ComputeError::BadTarget(t));
        }
        let batch = starts.len();
        let model = net.autodiff();
        let flat: Vec<f32> = starts.iter().flatten().copied().collect();
        let x = Tensor::from_data(TensorData::new(flat.clone(), [batch, PIXELS]), device);
        let mut oh = vec![0.0f32; batch * CLASSES];
        for (i, &t) in targets.iter().enumerate() {
            oh[i * CLASSES + t] = 1.0;
        }
        let onehot = Tensor::from_data(TensorData::new(oh, [batch, CLASSES]), device);
        Ok(Self {
            model,
            cfg,
            device: device.clone(),
            starts: flat,
            targets: targets.to_vec(),
            onehot,
            x,
            step: 0,
            active: vec![true; batch],
            steps_used: vec![0; batch],
            probs: Vec::new(),
            finished: false,
            away: false,
        })
    }

    /// Makes the attack untargeted: `targets` become the classes to move away from (ascending
    /// their cross-entropy), and a sample stops once another class reaches kappa.
    pub fn away(mut self) -> Self {
        self.away = true;
        self
    }

    /// The confidence that counts for sample `i`: in its target, or (untargeted) in the most
    /// likely other class.
    fn goal_confidence(&self, i: usize) -> f32 {
        let p = &self.probs[i * CLASSES..(i + 1) * CLASSES];
        let t = self.targets[i];
        if self.away { (0..CLASSES).filter(|&c| c != t).map(|c| p[c]).fold(0.0, f32::max) } else { p[t] }
    }

    pub fn batch(&self) -> usize {
        self.targets.len()
    }

    /// Steps done so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    pub fn max_steps(&self) -> usize {
        self.cfg.max_steps
    }

    /// Samples still moving.
    pub fn active_count(&self) -> usize {
        self.active.iter().filter(|&&a| a).count()
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// One step: forward and backward on the current inputs, the stopping check, and the update.
    /// Returns true once the job is finished (every sample stopped, or the step limit reached).
    pub async fn step(&mut self) -> Result<bool, ComputeError> {
        if self.finished {
            return Ok(true);
        }
        let last = self.step >= self.cfg.max_steps;
        let (log_probs, loss, x) = target_loss(&self.model, &self.x, &self.onehot);

        if self.cfg.early_stop || last {
            let probs = log_probs.clone().detach().exp().inner();
            self.probs = probs.into_data_async().await.map_err(backend_err)?.try_to_vec::<f32>().map_err(backend_err)?;
            for i in 0..self.batch() {
                if self.active[i] && self.cfg.early_stop && self.goal_confidence(i) >= self.cfg.kappa {
                    self.active[i] = false;
                }
            }
        }
        if last || self.active_count() == 0 {
            self.finished = true;
            return Ok(true);
        }

        let g = input_gradient(&loss, &x)?;
        let dir = match self.cfg.norm {
            StepNorm::L2 => {
                let norm = g.clone().powi_scalar(2).sum_dim(1).sqrt().add_scalar(1e-12);
                g / norm
            }
            StepNorm::Linf => g.sign(),
        };
        // Descend the cross-entropy to the target, or ascend it away from the label.
        let size = if self.away { -self.cfg.step_size } else { self.cfg.step_size };
        let mask: Vec<f32> = self.active.iter().map(|&a| if a { size } else { 0.0 }).collect();
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [self.batch(), 1]), &self.device);
        self.x = (self.x.clone() - dir * mask).clamp(0.0, 1.0);
        for i in 0..self.batch() {
            if self.active[i] {
                self.steps_used[i] += 1;
            }
        }
        self.step += 1;
        Ok(false)
    }

    /// Reads the current inputs back, `[batch * 784]` (this waits for all queued work).
    pub async fn current_inputs(&self) -> Result<Vec<f32>, ComputeError> {
        self.x.clone().into_data_async().await.map_err(backend_err)?.try_to_vec::<f32>().map_err(backend_err)
    }

    /// Reads the result back. Call once `step` has returned true.
    pub async fn outcome(&self) -> Result<Vec<SampleOutcome>, ComputeError> {
        let adv = self.current_inputs().await?;
        let mut out = Vec::with_capacity(self.batch());
        for i in 0..self.batch() {
            let start = self.starts[i * PIXELS..(i + 1) * PIXELS].to_vec();
            let adversarial = adv[i * PIXELS..(i + 1) * PIXELS].to_vec();
            let (l0, l2, linf) = norms(&start, &adversarial);
            let (predicted, confidence) = if self.probs.is_empty() {
                (usize::MAX, f32::NAN)
            } else {
                let p = &self.probs[i * CLASSES..(i + 1) * CLASSES];
                let predicted = (0..CLASSES).fold(0, |best, c| if p[c] > p[best] { c } else { best });
                (predicted, self.goal_confidence(i))
            };
            out.push(SampleOutcome {
                target: self.targets[i],
                start,
                adversarial,
                predicted,
                confidence,
                steps: self.steps_used[i],
                l0,
                l2,
                linf,
                reached: confidence >= self.cfg.kappa,
                away: self.away,
            });
        }
        Ok(out)
    }

    /// Runs the job to the end.
    pub async fn run(mut self) -> Result<Vec<SampleOutcome>, ComputeError> {
        while !self.step().await? {}
        self.outcome().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dough_core::attack::every_target;
    use dough_core::model::ConvSpec;
    use dough_core::rng::SeededRng;

    fn host(t: Tensor<2>) -> Vec<f32> {
        pollster::block_on(t.into_data_async()).unwrap().try_to_vec::<f32>().unwrap()
    }

    /// Central finite differences of the loss along random directions against the analytic
    /// input gradient (directional derivatives, so every pixel counts).
    fn check_gradient(spec: ArchSpec) {
        let device = Device::flex();
        let weights = spec.init_weights(11);
        let model = Classifier::from_weights(&spec, &weights, &device.clone().autodiff()).unwrap().no_grad();
        let plain = Classifier::from_weights(&spec, &weights, &device).unwrap();
        let mut rng = SeededRng::new(5);
        let x0: Vec<f32> = (0..PIXELS).map(|_| rng.uniform(0.2, 0.8)).collect();
        let target = 3;
        let mut oh = vec![0.0f32; CLASSES];
        oh[target] = 1.0;
        let onehot = Tensor::<2>::from_data(TensorData::new(oh, [1, CLASSES]), &device);
        let x = Tensor::<2>::from_data(TensorData::new(x0.clone(), [1, PIXELS]), &device);
        let (_, loss, xt) = target_loss(&model, &x, &onehot);
        let g = host(input_gradient(&loss, &xt).unwrap());
        assert!(g.iter().any(|v| *v != 0.0), "gradient is all zero");

        let loss_at = |v: &[f32]| -> f64 {
            let t = Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, PIXELS]), &device);
            let lp = host(log_softmax(plain.forward(t), 1));
            -(lp[target] as f64)
        };
        // Directions: the gradient itself, the 16 pixels with the largest gradient, 4 random
        // ones. The error is ||fd - analytic|| / ||analytic|| over all of them.
        let gnorm = g.iter().map(|v| v * v).sum::<f32>().sqrt();
        let mut dirs: Vec<Vec<f32>> = vec![g.iter().map(|v| v / gnorm).collect()];
        let mut order: Vec<usize> = (0..PIXELS).collect();
        order.sort_by(|&a, &b| g[b].abs().total_cmp(&g[a].abs()));
        for &i in &order[..16] {
            let mut e = vec![0.0; PIXELS];
            e[i] = 1.0;
            dirs.push(e);
        }
        for _ in 0..4 {
            let d: Vec<f32> = (0..PIXELS).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let norm = d.iter().map(|v| v * v).sum::<f32>().sqrt();
            dirs.push(d.iter().map(|v| v / norm).collect());
        }
        let h = 1e-3f32;
        let (mut err2, mut an2) = (0.0f64, 0.0f64);
        for d in &dirs {
            let plus: Vec<f32> = x0.iter().zip(d).map(|(x, d)| x + h * d).collect();
            let minus: Vec<f32> = x0.iter().zip(d).map(|(x, d)| x - h * d).collect();
            let fd = (loss_at(&plus) - loss_at(&minus)) / (2.0 * h as f64);
            let an: f64 = g.iter().zip(d).map(|(g, d)| (*g as f64) * (*d as f64)).sum();
            err2 += (fd - an).powi(2);
            an2 += an.powi(2);
        }
        let worst = (err2 / an2).sqrt();
        eprintln!("finite differences vs gradient: relative error {worst:.2e}");
        assert!(worst < 1e-2, "relative error {worst} between finite differences and the gradient");
    }

    #[test]
    fn mlp_input_gradient_matches_finite_differences() {
        check_gradient(ArchSpec::Mlp { hidden: vec![64, 32] });
    }

    #[test]
    fn cnn_input_gradient_matches_finite_differences() {
        check_gradient(ArchSpec::Cnn {
            conv: vec![ConvSpec { channels: 4, kernel: 3, pool: false }, ConvSpec { channels: 8, kernel: 3, pool: true }],
            dense: vec![16],
        });
    }

    #[test]
    fn linf_steps_move_each_pixel_at_most_step_size() {
        let spec = ArchSpec::Mlp { hidden: vec![32] };
        let cfg = AttackConfig { norm: StepNorm::Linf, step_size: 0.01, max_steps: 7, kappa: 1.0, early_stop: false, ..AttackConfig::default() };
        let (starts, targets) = every_target(&[0.5; PIXELS]);
        let job = Evolution::new(&spec, &spec.init_weights(2), &Device::flex(), &starts, &targets, cfg).unwrap();
        let out = pollster::block_on(job.run()).unwrap();
        for o in out {
            assert_eq!(o.steps, 7);
            assert!(o.linf <= 0.07 + 1e-5 && o.linf > 0.069, "linf {}", o.linf);
        }
    }

    #[test]
    fn rejects_bad_settings_and_inputs() {
        let spec = ArchSpec::Mlp { hidden: vec![8] };
        let w = spec.init_weights(0);
        let d = Device::flex();
        let ok = AttackConfig::default();
        let bad_kappa = AttackConfig { kappa: 1.5, ..ok.clone() };
        assert!(matches!(Evolution::new(&spec, &w, &d, &[vec![0.0; PIXELS]], &[1], bad_kappa), Err(ComputeError::BadConfig(_))));
        assert!(matches!(Evolution::new(&spec, &w, &d, &[vec![0.0; 3]], &[1], ok.clone()), Err(ComputeError::BadInput { .. })));
        assert!(matches!(Evolution::new(&spec, &w, &d, &[vec![0.0; PIXELS]], &[10], ok.clone()), Err(ComputeError::BadTarget(10))));
        let other = ArchSpec::Mlp { hidden: vec![9] };
        assert!(matches!(Evolution::new(&other, &w, &d, &[vec![0.0; PIXELS]], &[1], ok), Err(ComputeError::Weights(_))));
    }
}
