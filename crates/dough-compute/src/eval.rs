//! Accuracy of a network on a labelled set of images (the test split or a sample pack).

use burn::prelude::*;

use dough_core::attack::ComputeError;
use dough_core::model::{ArchSpec, CLASSES, PIXELS};
use dough_core::weights::Weights;

use crate::network::{Classifier, Network};

/// Predicted classes for `images` (bytes, 784 per image), in batches of `batch`.
pub async fn predict(
    spec: &ArchSpec,
    weights: &Weights,
    device: &Device,
    images: &[u8],
    batch: usize,
) -> Result<Vec<usize>, ComputeError> {
    let model = Classifier::from_weights(spec, weights, device)?;
    let mut out = Vec::with_capacity(images.len() / PIXELS);
    for chunk in images.chunks(batch * PIXELS) {
        let n = chunk.len() / PIXELS;
        let x: Vec<f32> = chunk.iter().map(|&p| p as f32 / 255.0).collect();
        let logits = model.forward(Tensor::from_data(TensorData::new(x, [n, PIXELS]), device));
        let data = logits.into_data_async().await.map_err(|e| ComputeError::Backend(format!("{e:?}")))?;
        let v = data.try_to_vec::<f32>().map_err(|e| ComputeError::Backend(format!("{e:?}")))?;
        for row in v.chunks(CLASSES) {
            out.push((0..CLASSES).fold(0, |b, c| if row[c] > row[b] { c } else { b }));
        }
    }
    Ok(out)
}

/// Share of `images` classified as their `labels`.
pub async fn accuracy(
    spec: &ArchSpec,
    weights: &Weights,
    device: &Device,
    images: &[u8],
    labels: &[u8],
) -> Result<f64, ComputeError> {
    let pred = predict(spec, weights, device, images, 500).await?;
    let correct = pred.iter().zip(labels).filter(|(p, l)| **p == **l as usize).count();
    Ok(correct as f64 / labels.len().max(1) as f64)
}

/// The network's class probabilities for one image (784 values in [0, 1]).
pub async fn probabilities(spec: &ArchSpec, weights: &Weights, device: &Device, image: &[f32]) -> Result<Vec<f32>, ComputeError> {
    if image.len() != PIXELS {
        return Err(ComputeError::BadInput { index: 0, len: image.len() });
    }
    let model = Classifier::from_weights(spec, weights, device)?;
    let logits = model.forward(Tensor::from_data(TensorData::new(image.to_vec(), [1, PIXELS]), device));
    let p = burn::tensor::activation::softmax(logits, 1);
    let data = p.into_data_async().await.map_err(|e| ComputeError::Backend(format!("{e:?}")))?;
    data.try_to_vec::<f32>().map_err(|e| ComputeError::Backend(format!("{e:?}")))
}

/// The network's class probabilities for a batch of images (784 values in [0, 1] each, one
/// after the other): 10 values per image, in order.
pub async fn probabilities_batch(spec: &ArchSpec, weights: &Weights, device: &Device, images: &[f32]) -> Result<Vec<f32>, ComputeError> {
    probabilities_on(&Network::new(spec, weights, device)?, images).await
}

/// [`probabilities_batch`] on a built network.
pub async fn probabilities_on(net: &Network, images: &[f32]) -> Result<Vec<f32>, ComputeError> {
    if images.is_empty() || !images.len().is_multiple_of(PIXELS) {
        return Err(ComputeError::BadConfig(format!("{} image values are not a whole number of {PIXELS}-pixel images", images.len())));
    }
    let n = images.len() / PIXELS;
    let logits = net.plain().forward(Tensor::from_data(TensorData::new(images.to_vec(), [n, PIXELS]), net.device()));
    let p = burn::tensor::activation::softmax(logits, 1);
    let data = p.into_data_async().await.map_err(|e| ComputeError::Backend(format!("{e:?}")))?;
    data.try_to_vec::<f32>().map_err(|e| ComputeError::Backend(format!("{e:?}")))
}
