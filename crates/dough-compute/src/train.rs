//! Training a classifier from the IDX data (native, CLI only: feature `train`).
//!
//! Deterministic for a given seed on a given backend: initial weights and the order of the
//! batches come from our own seeded generator.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use dough_core::attack::AttackError;
use dough_core::idx::Dataset;
use dough_core::manifest::ModelConfig;
use dough_core::model::{ArchSpec, CLASSES, PIXELS};
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
    Attack(#[from] AttackError),
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

/// Trains `spec` on `data` with `cfg` (optimizer "adam", schedule "cosine" or "constant",
/// augmentation "none" or "shift2", optional dropout, optional PGD adversarial training).
/// Returns the trained network on a plain device.
pub fn train(
    spec: &ArchSpec,
    cfg: &ModelConfig,
    data: &Dataset,
    device: &Device,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Classifier, TrainError> {
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
    let ad = device.clone().autodiff();
    let init: Weights = spec.init_weights(cfg.seed);
    let mut model = Classifier::from_weights(spec, &init, &ad)?;
    let mut optim = AdamConfig::new().init();
    let mut rng = SeededRng::new(cfg.seed.wrapping_add(1));
    let mut aug_rng = SeededRng::new(cfg.seed.wrapping_add(2));
    let mut drop_rng = SeededRng::new(cfg.seed.wrapping_add(3));
    let mut pgd_rng = SeededRng::new(cfg.seed.wrapping_add(4));
    let mut order: Vec<usize> = (0..data.len()).collect();
    let batches = data.len().div_ceil(cfg.batch_size);
    let total = (batches * cfg.epochs) as f64;
    let mut t = 0usize;
    for epoch in 0..cfg.epochs {
        rng.shuffle(&mut order);
        for (b, idx) in order.chunks(cfg.batch_size).enumerate() {
            let shift = (cfg.augmentation == "shift2").then_some(&mut aug_rng);
            let (x, y) = batch_tensors(data, idx, shift, device);
            let x = match &cfg.adversarial {
                Some(pgd) => perturb(&model.clone().no_grad(), &x, &y, pgd, &mut pgd_rng)?,
                None => x,
            };
            let (x, y) = (x.autodiff(), y.autodiff());
            let logits = if cfg.dropout > 0.0 { model.forward_dropout(x, cfg.dropout, &mut drop_rng) } else { model.forward(x) };
            let logp = log_softmax(logits, 1);
            let loss = (logp * y).sum_dim(1).mean().neg();
            let lr = match cfg.schedule.as_str() {
                "cosine" => cfg.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / total).cos()),
                _ => cfg.learning_rate,
            };
            t += 1;
            let loss_value = if b % 50 == 0 || b + 1 == batches {
                loss.clone().into_scalar::<f32>()
            } else {
                f32::NAN
            };
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            progress(&Progress { epoch, epochs: cfg.epochs, batch: b + 1, batches, loss: loss_value });
        }
    }
    Ok(model.valid())
}
