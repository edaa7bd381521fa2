//! Projected gradient descent in L-infinity: the untargeted attack used to train the robust
//! models of the zoo and to measure robust accuracy. It is not the gallery's attack (that one is
//! targeted and minimal, see `attack`); PGD pushes every image as far as `eps` allows away from
//! its true label.

use burn::prelude::*;

use dough_core::attack::ComputeError;
use dough_core::manifest::Pgd;
use dough_core::model::{ArchSpec, CLASSES, PIXELS};
use dough_core::rng::SeededRng;
use dough_core::weights::Weights;

use crate::attack::{input_gradient, target_loss};
use crate::network::Classifier;

/// PGD adversarial examples for the plain inputs `x` with one-hot true labels `onehot`.
/// `model` must live on an autodiff device (its weights need not track gradients).
pub fn perturb(model: &Classifier, x: &Tensor<2>, onehot: &Tensor<2>, pgd: &Pgd, rng: &mut SeededRng) -> Result<Tensor<2>, ComputeError> {
    let [b, n] = x.dims();
    let eps = pgd.eps as f32;
    let device = x.device();
    let start: Vec<f32> = (0..b * n).map(|_| rng.uniform(-eps, eps)).collect();
    let mut adv = (x.clone() + Tensor::<2>::from_data(TensorData::new(start, [b, n]), &device)).clamp(0.0, 1.0);
    let (lo, hi) = (x.clone().sub_scalar(eps), x.clone().add_scalar(eps));
    for _ in 0..pgd.steps {
        // target_loss is the cross-entropy to `onehot`: ascending it moves away from the label.
        let (_, loss, tracked) = target_loss(model, &adv, onehot);
        let g = input_gradient(&loss, &tracked)?;
        adv = (adv + g.sign().mul_scalar(pgd.step_size as f32)).max_pair(lo.clone()).min_pair(hi.clone()).clamp(0.0, 1.0);
    }
    Ok(adv)
}

/// Accuracy on `images`/`labels` after PGD, with the random starts drawn from `seed`.
pub async fn robust_accuracy(
    spec: &ArchSpec,
    weights: &Weights,
    device: &Device,
    images: &[u8],
    labels: &[u8],
    pgd: &Pgd,
    seed: u64,
) -> Result<f64, ComputeError> {
    let model = Classifier::from_weights(spec, weights, &device.clone().autodiff())?.no_grad();
    let mut rng = SeededRng::new(seed);
    let mut correct = 0usize;
    for (chunk, lab) in images.chunks(500 * PIXELS).zip(labels.chunks(500)) {
        let n = lab.len();
        let x: Vec<f32> = chunk.iter().map(|&p| p as f32 / 255.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [n, PIXELS]), device);
        let mut oh = vec![0.0f32; n * CLASSES];
        for (i, &l) in lab.iter().enumerate() {
            oh[i * CLASSES + l as usize] = 1.0;
        }
        let onehot = Tensor::<2>::from_data(TensorData::new(oh, [n, CLASSES]), device);
        let adv = perturb(&model, &x, &onehot, pgd, &mut rng)?;
        let logits = model.forward(adv.autodiff()).inner();
        let v = logits.into_data_async().await.map_err(|e| ComputeError::Backend(format!("{e:?}")))?;
        let v = v.try_to_vec::<f32>().map_err(|e| ComputeError::Backend(format!("{e:?}")))?;
        for (row, &l) in v.chunks(CLASSES).zip(lab) {
            let best = (0..CLASSES).fold(0, |b, c| if row[c] > row[b] { c } else { b });
            correct += (best == l as usize) as usize;
        }
    }
    Ok(correct as f64 / labels.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval;

    /// PGD stays inside the eps-ball and [0, 1], and it lowers accuracy at least as much as the
    /// clean images allow (robust accuracy <= clean accuracy).
    #[test]
    fn pgd_respects_the_ball_and_lowers_accuracy() {
        let spec = ArchSpec::Mlp { hidden: vec![16] };
        let weights = spec.init_weights(3);
        let device = Device::flex();
        let mut rng = SeededRng::new(5);
        let images: Vec<u8> = (0..20 * PIXELS).map(|_| rng.below(256) as u8).collect();
        let labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
        let pgd = Pgd::new(0.1, 7);
        let model = Classifier::from_weights(&spec, &weights, &device.clone().autodiff()).unwrap().no_grad();
        let x: Vec<f32> = images.iter().map(|&p| p as f32 / 255.0).collect();
        let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [20, PIXELS]), &device);
        let mut oh = vec![0.0f32; 20 * CLASSES];
        for (i, &l) in labels.iter().enumerate() {
            oh[i * CLASSES + l as usize] = 1.0;
        }
        let onehot = Tensor::<2>::from_data(TensorData::new(oh, [20, CLASSES]), &device);
        let adv = perturb(&model, &xt, &onehot, &pgd, &mut SeededRng::new(1)).unwrap();
        let adv = pollster::block_on(adv.into_data_async()).unwrap().try_to_vec::<f32>().unwrap();
        let mut moved = 0.0f32;
        for (a, o) in adv.iter().zip(&x) {
            assert!((0.0..=1.0).contains(a));
            assert!((a - o).abs() <= 0.1 + 1e-6);
            moved = moved.max((a - o).abs());
        }
        assert!(moved > 0.09, "PGD should use the whole ball, moved at most {moved}");
        let clean = pollster::block_on(eval::accuracy(&spec, &weights, &device, &images, &labels)).unwrap();
        let robust = pollster::block_on(robust_accuracy(&spec, &weights, &device, &images, &labels, &pgd, 1)).unwrap();
        assert!(robust <= clean, "robust {robust} > clean {clean}");
        let none = Pgd { eps: 0.0, steps: 3, step_size: 0.0 };
        let same = pollster::block_on(robust_accuracy(&spec, &weights, &device, &images, &labels, &none, 1)).unwrap();
        assert_eq!(same, clean, "eps 0 must leave accuracy unchanged");
    }
}
