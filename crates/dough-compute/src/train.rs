//! Training a classifier from the IDX data (feature `train`): stepwise ([`Trainer`], for the
//! browser's worker) or to the end ([`train`], native).
//!
//! Deterministic for a given seed on a given backend: initial weights and the order of the
//! batches come from our own seeded generator. A configuration with a plant trains on the data
//! with the plant stamped in (the backdoor's images drawn from the training seed).

use std::borrow::Cow;

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use dough_core::attack::ComputeError;
use dough_core::idx::Dataset;
use dough_core::manifest::ModelConfig;
use dough_core::model::{ArchSpec, CLASSES, PIXELS};
use dough_core::plant::PlantError;
use dough_core::rng::SeededRng;
use dough_core::weights::{Weights, WeightsError};

use crate::network::Classifier;
use crate::pgd::perturb;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("cannot train: unsupported {0}")]
    Unsupported(String),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("adversarial training failed: {0}")]
    Attack(#[from] ComputeError),
    #[error("the backend failed: {0}")]
    Backend(String),
    #[error("the training request is not valid: {0}")]
    Request(String),
    #[error("cannot plant the feature: {0}")]
    Plant(#[from] PlantError),
    #[error("cannot train on dough: {0}")]
    Dough(#[from] dough_core::dough_data::DoughDataError),
}

/// The seed of a backdoor's choice of images, derived from the training seed.
pub fn plant_seed(seed: u64) -> u64 {
    seed.wrapping_add(5)
}

/// The training data of `cfg`: `data` itself, or a copy with the plant stamped in.
pub fn planted_data<'a>(cfg: &ModelConfig, data: &'a Dataset) -> Result<Cow<'a, Dataset>, TrainError> {
    match cfg.plant.as_ref().filter(|p| p.is_planted()) {
        Some(p) => Ok(Cow::Owned(p.apply(data, plant_seed(cfg.seed))?.0)),
        None => Ok(Cow::Borrowed(data)),
    }
}

/// Reported after each batch and at the end of each epoch.
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: f32,
}

fn batch_tensors(data: &Dataset, idx: &[usize], shift: Option<&mut SeededRng>, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let mut x = vec![0.0f32; idx.len() * PIXELS];
    let mut y = vec![0.0f32; idx.len() * CLASSES];
    let mut rng = shift;
    for (row, &i) in idx.iter().enumerate() {
        let img = data.image(i);
        let (dx, dy) = match rng.as_deref_mut() {
            Some(r) => (r.below(5) as isize - 2, r.below(5) as isize - 2),
            None => (0, 0),
        };
        let out = &mut x[row * PIXELS..(row + 1) * PIXELS];
        for r in 0..28isize {
            for c in 0..28isize {
                let (sr, sc) = (r - dy, c - dx);
                if (0..28).contains(&sr) && (0..28).contains(&sc) {
                    out[(r * 28 + c) as usize] = img[(sr * 28 + sc) as usize] as f32 / 255.0;
                }
            }
        }
        y[row * CLASSES + data.labels[i] as usize] = 1.0;
    }
    (
        Tensor::from_data(TensorData::new(x, [idx.len(), PIXELS]), device),
        Tensor::from_data(TensorData::new(y, [idx.len(), CLASSES]), device),
    )
}

/// How often (in batches) a step reads its loss back to the host: every read waits for the
/// device, so most steps leave the loss on it (`Progress::loss` is NaN then). The last batch of
/// an epoch always reads it.
pub const LOSS_EVERY: usize = 50;

fn check(cfg: &ModelConfig) -> Result<(), TrainError> {
    if cfg.optimizer != "adam" {
        return Err(TrainError::Unsupported(format!("optimizer \"{}\" (only adam is implemented)", cfg.optimizer)));
    }
    if !["cosine", "constant"].contains(&cfg.schedule.as_str()) {
        return Err(TrainError::Unsupported(format!("schedule \"{}\" (cosine or constant)", cfg.schedule)));
    }
    if !["none", "shift2"].contains(&cfg.augmentation.as_str()) {
        return Err(TrainError::Unsupported(format!("augmentation \"{}\" (none or shift2)", cfg.augmentation)));
    }
    if !(0.0..1.0).contains(&cfg.dropout) {
        return Err(TrainError::Unsupported(format!("dropout {} (must lie in [0, 1))", cfg.dropout)));
    }
    if cfg.batch_size == 0 || cfg.epochs == 0 {
        return Err(TrainError::Unsupported("batch size or epochs of 0".into()));
    }
    Ok(())
}

/// A training run taken one batch at a time (Adam; schedule "cosine" or "constant";
/// augmentation "none" or "shift2"; optional dropout; optional PGD adversarial training), so a
/// caller without threads (the browser's worker) can yield, report and snapshot between batches.
/// Deterministic for a given seed on a given backend: the initial weights, the order of the
/// batches, the shifts, the dropout masks and the PGD starts come from our own seeded generators.
pub struct Trainer<'a> {
    cfg: ModelConfig,
    data: Cow<'a, Dataset>,
    device: Device,
    /// Always `Some` between steps (the optimizer takes the network by value).
    model: Option<Classifier>,
    optim: ModuleOptimizer,
    order: Vec<usize>,
    rng: SeededRng,
    aug_rng: SeededRng,
    drop_rng: SeededRng,
    pgd_rng: SeededRng,
    batches: usize,
    epoch: usize,
    /// The next batch of the epoch (0: the epoch has not started).
    batch: usize,
    t: usize,
}

impl<'a> Trainer<'a> {
    /// The untrained network of `spec` from `cfg.seed` (the same as `spec.init_weights(cfg.seed)`).
    pub fn new(spec: &ArchSpec, cfg: &ModelConfig, data: &'a Dataset, device: &Device) -> Result<Self, TrainError> {
        check(cfg)?;
        if data.is_empty() {
            return Err(TrainError::Unsupported("an empty training set".into()));
        }
        let data = planted_data(cfg, data)?;
        let init: Weights = spec.init_weights(cfg.seed);
        let model = Classifier::from_weights(spec, &init, &device.clone().autodiff())?;
        let n = data.len();
        Ok(Self {
            cfg: cfg.clone(),
            data,
            device: device.clone(),
            model: Some(model),
            optim: AdamConfig::new().init(),
            order: (0..n).collect(),
            batches: n.div_ceil(cfg.batch_size),
            rng: SeededRng::new(cfg.seed.wrapping_add(1)),
            aug_rng: SeededRng::new(cfg.seed.wrapping_add(2)),
            drop_rng: SeededRng::new(cfg.seed.wrapping_add(3)),
            pgd_rng: SeededRng::new(cfg.seed.wrapping_add(4)),
            epoch: 0,
            batch: 0,
            t: 0,
        })
    }

    /// Batches per epoch.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Epochs completed.
    pub fn epochs_done(&self) -> usize {
        self.epoch
    }

    pub fn finished(&self) -> bool {
        self.epoch >= self.cfg.epochs
    }

    /// Trains on the next batch. `Progress::batch` is 1-based; `batch == batches` ends an epoch.
    /// Panics when called after the last epoch.
    pub async fn step(&mut self) -> Result<Progress, TrainError> {
        assert!(!self.finished(), "Trainer::step after the last epoch");
        let cfg = &self.cfg;
        if self.batch == 0 {
            self.rng.shuffle(&mut self.order);
        }
        let b = self.batch;
        let start = b * cfg.batch_size;
        let idx = &self.order[start..(start + cfg.batch_size).min(self.order.len())];
        let shift = (cfg.augmentation == "shift2").then_some(&mut self.aug_rng);
        let (x, y) = batch_tensors(&self.data, idx, shift, &self.device);
        let model = self.model.take().expect("the network is there between steps");
        let x = match &cfg.adversarial {
            Some(pgd) => perturb(&model.clone().no_grad(), &x, &y, pgd, &mut self.pgd_rng)?,
            None => x,
        };
        let (x, y) = (x.autodiff(), y.autodiff());
        let logits = if cfg.dropout > 0.0 { model.forward_dropout(x, cfg.dropout, &mut self.drop_rng) } else { model.forward(x) };
        let logp = log_softmax(logits, 1);
        let loss = (logp * y).sum_dim(1).mean().neg();
        let total = (self.batches * cfg.epochs) as f64;
        let lr = match cfg.schedule.as_str() {
            "cosine" => cfg.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * self.t as f64 / total).cos()),
            _ => cfg.learning_rate,
        };
        self.t += 1;
        let last = b + 1 == self.batches;
        let loss_value = if b.is_multiple_of(LOSS_EVERY) || last {
            let data = loss.clone().into_data_async().await.map_err(|e| TrainError::Backend(format!("{e:?}")))?;
            data.iter::<f32>().next().unwrap_or(f32::NAN)
        } else {
            f32::NAN
        };
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optim.step(lr, model, grads));
        let progress = Progress { epoch: self.epoch, epochs: cfg.epochs, batch: b + 1, batches: self.batches, loss: loss_value };
        if last {
            self.epoch += 1;
            self.batch = 0;
        } else {
            self.batch += 1;
        }
        Ok(progress)
    }

    /// The network as it is now, on a plain device (for evaluation and attacks).
    pub fn network(&self) -> Classifier {
        self.model.as_ref().expect("the network is there between steps").clone().valid()
    }

    /// The weights as they are now (PyTorch layouts, plain names).
    pub async fn weights(&self) -> Result<Weights, TrainError> {
        self.network().to_weights().await.map_err(TrainError::Backend)
    }

    /// The trained network, on a plain device.
    pub fn into_network(self) -> Classifier {
        self.network()
    }
}

/// Trains `spec` on `data` with `cfg` to the end (see [`Trainer`]), blocking the thread: native
/// only. Returns the trained network on a plain device.
#[cfg(not(target_arch = "wasm32"))]
pub fn train(
    spec: &ArchSpec,
    cfg: &ModelConfig,
    data: &Dataset,
    device: &Device,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Classifier, TrainError> {
    let mut trainer = Trainer::new(spec, cfg, data, device)?;
    while !trainer.finished() {
        progress(&pollster::block_on(trainer.step())?);
    }
    Ok(trainer.into_network())
}
