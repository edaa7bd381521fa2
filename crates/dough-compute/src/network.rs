//! The classifiers as Burn modules: a fully connected network and a convolutional network, both
//! returning logits for flat `[batch, 784]` inputs in [0, 1], both built from an [`ArchSpec`] and
//! host [`Weights`]; and [`Network`], a classifier built once on its device, which the worker
//! keeps per model and every attack and forward pass reuses.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use dough_core::model::{ArchSpec, SIDE};
use dough_core::rng::SeededRng;
use dough_core::weights::{HostTensor, Weights, WeightsError};

fn tensor<const D: usize>(t: &HostTensor, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(t.data.clone(), t.shape.clone()), device)
}

fn dense_from(w: &Weights, name: &str, shape: &[usize], device: &Device) -> Result<Linear, WeightsError> {
    let weight = w.get(&format!("{name}.weight"), shape)?.transposed(); // burn stores [in, out]
    let bias = w.get(&format!("{name}.bias"), &shape[..1])?;
    Ok(Linear {
        weight: Param::from_tensor(tensor(&weight, device)),
        bias: Some(Param::from_tensor(tensor(bias, device))),
    })
}

/// Fully connected network.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

/// A convolution with its optional pooling.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    pool: Option<MaxPool2d>,
}

/// Convolutional network.
#[derive(Module, Debug)]
pub struct Cnn {
    blocks: Vec<ConvBlock>,
    dense: Vec<Linear>,
}

/// Either kind of classifier.
#[derive(Module, Debug)]
pub enum Classifier {
    Mlp(Mlp),
    Cnn(Cnn),
}

/// Training-time dropout before a dense layer (identity at inference).
type DropFn<'a> = Option<&'a mut dyn FnMut(Tensor<2>) -> Tensor<2>>;

fn dense_stack(layers: &[Linear], mut x: Tensor<2>, mut drop: DropFn, first_too: bool) -> Tensor<2> {
    let last = layers.len() - 1;
    for (i, l) in layers.iter().enumerate() {
        if let Some(d) = drop.as_mut()
            && (i > 0 || first_too)
        {
            x = d(x);
        }
        x = l.forward(x);
        if i < last {
            x = relu(x);
        }
    }
    x
}

impl Classifier {
    /// Builds the network of `spec` on `device` from `weights`, checking every name and shape.
    pub fn from_weights(spec: &ArchSpec, weights: &Weights, device: &Device) -> Result<Self, WeightsError> {
        let shapes = spec.tensor_shapes();
        let shape_of = |name: &str| -> Vec<usize> {
            shapes.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone()).expect("known tensor")
        };
        let n_dense = shapes.iter().filter(|(n, _)| n.starts_with("fc") && n.ends_with(".weight")).count();
        let dense = (0..n_dense)
            .map(|i| dense_from(weights, &format!("fc{i}"), &shape_of(&format!("fc{i}.weight")), device))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match spec {
            ArchSpec::Mlp { .. } => Classifier::Mlp(Mlp { layers: dense }),
            ArchSpec::Cnn { conv, .. } => {
                let mut blocks = Vec::new();
                let mut in_ch = 1;
                for (i, c) in conv.iter().enumerate() {
                    let wshape = shape_of(&format!("conv{i}.weight"));
                    let wt = weights.get(&format!("conv{i}.weight"), &wshape)?;
                    let bt = weights.get(&format!("conv{i}.bias"), &[c.channels])?;
                    let mut layer = Conv2dConfig::new([in_ch, c.channels], [c.kernel, c.kernel])
                        .with_padding(PaddingConfig2d::Valid)
                        .init(device);
                    layer.weight = Param::from_tensor(tensor(wt, device));
                    layer.bias = Some(Param::from_tensor(tensor(bt, device)));
                    let pool = c.pool.then(|| MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init());
                    blocks.push(ConvBlock { conv: layer, pool });
                    in_ch = c.channels;
                }
                Classifier::Cnn(Cnn { blocks, dense })
            }
        })
    }

    /// Logits `[batch, 10]` for flat inputs `[batch, 784]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_inner(x, None)
    }

    /// The forward pass of training with dropout `p` (inverted dropout: kept units are scaled by
    /// 1/(1-p)) before every hidden dense layer of an MLP and every dense layer of a CNN. The masks
    /// come from `rng`, so training stays deterministic on every backend.
    pub fn forward_dropout(&self, x: Tensor<2>, p: f64, rng: &mut SeededRng) -> Tensor<2> {
        let mut drop = |h: Tensor<2>| {
            let [b, n] = h.dims();
            let keep = (1.0 - p) as f32;
            let mask: Vec<f32> = (0..b * n).map(|_| if rng.uniform(0.0, 1.0) < keep { 1.0 / keep } else { 0.0 }).collect();
            let device = h.device();
            h * Tensor::<2>::from_data(TensorData::new(mask, [b, n]), &device)
        };
        self.forward_inner(x, Some(&mut drop))
    }

    fn forward_inner(&self, x: Tensor<2>, drop: DropFn) -> Tensor<2> {
        match self {
            Classifier::Mlp(m) => dense_stack(&m.layers, x, drop, false),
            Classifier::Cnn(c) => {
                let [b, _] = x.dims();
                let mut h: Tensor<4> = x.reshape([b, 1, SIDE, SIDE]);
                for block in &c.blocks {
                    h = relu(block.conv.forward(h));
                    if let Some(pool) = &block.pool {
                        h = pool.forward(h);
                    }
                }
                let [b, ch, hh, ww] = h.dims();
                dense_stack(&c.dense, h.reshape([b, ch * hh * ww]), drop, true)
            }
        }
    }

    /// Reads the weights back to the host (PyTorch layouts, plain names).
    pub async fn to_weights(&self) -> Result<Weights, String> {
        async fn host<const D: usize>(t: Tensor<D>) -> Result<HostTensor, String> {
            let shape = t.dims().to_vec();
            let data = t.into_data_async().await.map_err(|e| format!("{e:?}"))?;
            Ok(HostTensor::new(shape, data.try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?))
        }
        async fn dense(w: &mut Weights, layers: &[Linear]) -> Result<(), String> {
            for (i, l) in layers.iter().enumerate() {
                w.insert(format!("fc{i}.weight"), host(l.weight.val()).await?.transposed());
                let b = l.bias.as_ref().ok_or("dense layer without bias")?;
                w.insert(format!("fc{i}.bias"), host(b.val()).await?);
            }
            Ok(())
        }
        let mut w = Weights::default();
        match self {
            Classifier::Mlp(m) => dense(&mut w, &m.layers).await?,
            Classifier::Cnn(c) => {
                for (i, b) in c.blocks.iter().enumerate() {
                    w.insert(format!("conv{i}.weight"), host(b.conv.weight.val()).await?);
                    let bias = b.conv.bias.as_ref().ok_or("conv layer without bias")?;
                    w.insert(format!("conv{i}.bias"), host(bias.val()).await?);
                }
                dense(&mut w, &c.dense).await?
            }
        }
        Ok(w)
    }
}

/// A classifier built once on its device: its weights frozen on the device's autodiff twin (the
/// attacks take input gradients through it), the same weights for plain forward passes. Cloning
/// it shares the weights; nothing is rebuilt per request.
#[derive(Clone, Debug)]
pub struct Network {
    spec: ArchSpec,
    model: Classifier,
    device: Device,
}

impl Network {
    /// Builds the network of `spec` from `weights` on `device` (every name and shape checked).
    pub fn new(spec: &ArchSpec, weights: &Weights, device: &Device) -> Result<Self, WeightsError> {
        let model = Classifier::from_weights(spec, weights, &device.clone().autodiff())?.no_grad();
        Ok(Self { spec: spec.clone(), model, device: device.clone() })
    }

    /// An untrained network of the same shape on the same device, its weights drawn from `seed`
    /// (the study's untrained null).
    pub fn untrained(&self, seed: u64) -> Result<Self, WeightsError> {
        Self::new(&self.spec, &self.spec.init_weights(seed), &self.device)
    }

    pub fn spec(&self) -> &ArchSpec {
        &self.spec
    }

    /// The plain device it lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The module on the autodiff device (its parameters need no gradient).
    pub fn autodiff(&self) -> Classifier {
        self.model.clone()
    }

    /// The module on the plain device, for forward passes.
    pub fn plain(&self) -> Classifier {
        self.model.valid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dough_core::model::PIXELS;

    #[test]
    fn dropout_zeroes_about_p_of_the_hidden_units_and_keeps_the_mean() {
        let spec = ArchSpec::Mlp { hidden: vec![512] };
        let w = spec.init_weights(1);
        let device = Device::flex();
        let model = Classifier::from_weights(&spec, &w, &device).unwrap();
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; 4 * PIXELS], [4, PIXELS]), &device);
        let plain = model.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        let with_zero = model.forward_dropout(x.clone(), 0.0, &mut SeededRng::new(1)).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(plain, with_zero, "p = 0 is the plain forward pass");
        // Averaged over many masks, inverted dropout leaves the logits unbiased.
        let mut rng = SeededRng::new(2);
        let runs = 400;
        let mut mean = vec![0.0f64; plain.len()];
        for _ in 0..runs {
            let d = model.forward_dropout(x.clone(), 0.5, &mut rng).into_data().try_to_vec::<f32>().unwrap();
            assert_ne!(d, plain);
            mean.iter_mut().zip(&d).for_each(|(m, v)| *m += *v as f64 / runs as f64);
        }
        let scale = plain.iter().map(|v| v.abs() as f64).fold(0.0, f64::max);
        for (m, p) in mean.iter().zip(&plain) {
            assert!((m - *p as f64).abs() < 0.1 * scale, "mean {m} vs {p}");
        }
    }
}
