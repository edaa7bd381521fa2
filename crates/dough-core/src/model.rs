//! The shapes of the classifiers: a fully connected network and a convolutional network, both
//! taking flat 784-pixel inputs in [0, 1] and giving 10 logits. Their tensor names and shapes,
//! their layer list (for the manifest) and seeded initial weights; the networks themselves are
//! built with Burn in `dough-compute`.

use serde::{Deserialize, Serialize};

use crate::rng::SeededRng;
use crate::weights::{HostTensor, Weights};

/// Side of the square gray-scale inputs (MNIST and Fashion-MNIST).
pub const SIDE: usize = 28;
/// Pixels per input.
pub const PIXELS: usize = SIDE * SIDE;
/// Classes per dataset.
pub const CLASSES: usize = 10;

/// One convolutional layer: `channels` filters of `kernel`x`kernel` (no padding, stride 1),
/// ReLU, then a 2x2 max-pool when `pool` is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSpec {
    pub channels: usize,
    pub kernel: usize,
    #[serde(default)]
    pub pool: bool,
}

/// The shape of a network: what the manifest's `arch` and `config` describe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchSpec {
    /// Fully connected: 784 -> hidden... -> 10, ReLU between layers.
    Mlp { hidden: Vec<usize> },
    /// Convolutional layers, then fully connected `dense` layers, then 10 outputs.
    Cnn { conv: Vec<ConvSpec>, dense: Vec<usize> },
}

/// A layer of the forward pass, in order, as another tool would rebuild it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerDesc {
    /// "dense", "conv2d" or "maxpool2d".
    pub kind: String,
    /// Tensor name prefix in the weights file (`fc0`, `conv1`); empty for parameter-free layers.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// "relu" or "none" (logits).
    pub activation: String,
}

impl ArchSpec {
    /// The benchmark MLP: 784-256-128-10.
    pub fn bench_mlp() -> Self {
        ArchSpec::Mlp { hidden: vec![256, 128] }
    }

    /// The benchmark CNN: conv3x3(32)-ReLU-conv3x3(64)-ReLU-maxpool2-dense(128)-ReLU-dense(10).
    pub fn bench_cnn() -> Self {
        ArchSpec::Cnn {
            conv: vec![
                ConvSpec { channels: 32, kernel: 3, pool: false },
                ConvSpec { channels: 64, kernel: 3, pool: true },
            ],
            dense: vec![128],
        }
    }

    /// Names and shapes of every tensor, in forward order (PyTorch layouts).
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        let mut dense_in = PIXELS;
        let dense: &[usize] = match self {
            ArchSpec::Mlp { hidden } => hidden,
            ArchSpec::Cnn { conv, dense } => {
                let (mut ch, mut side) = (1, SIDE);
                for (i, c) in conv.iter().enumerate() {
                    out.push((format!("conv{i}.weight"), vec![c.channels, ch, c.kernel, c.kernel]));
                    out.push((format!("conv{i}.bias"), vec![c.channels]));
                    ch = c.channels;
                    side = side + 1 - c.kernel;
                    if c.pool {
                        side /= 2;
                    }
                }
                dense_in = ch * side * side;
                dense
            }
        };
        for (i, &width) in dense.iter().chain(std::iter::once(&CLASSES)).enumerate() {
            out.push((format!("fc{i}.weight"), vec![width, dense_in]));
            out.push((format!("fc{i}.bias"), vec![width]));
            dense_in = width;
        }
        out
    }

    pub fn param_count(&self) -> usize {
        self.tensor_shapes().iter().map(|(_, s)| s.iter().product::<usize>()).sum()
    }

    /// The forward pass as a list of layers (for the manifest).
    pub fn layers(&self) -> Vec<LayerDesc> {
        let mut out = Vec::new();
        let layer = |kind: &str, name: String, act: &str| LayerDesc {
            kind: kind.into(),
            name,
            activation: act.into(),
        };
        let n_dense = match self {
            ArchSpec::Mlp { hidden } => hidden.len(),
            ArchSpec::Cnn { conv, dense } => {
                for (i, c) in conv.iter().enumerate() {
                    out.push(layer("conv2d", format!("conv{i}"), "relu"));
                    if c.pool {
                        out.push(layer("maxpool2d", String::new(), "none"));
                    }
                }
                dense.len()
            }
        };
        for i in 0..=n_dense {
            out.push(layer("dense", format!("fc{i}"), if i < n_dense { "relu" } else { "none" }));
        }
        out
    }

    /// Fresh weights from our own seeded generator (He-uniform weights, zero biases), so that
    /// the same seed gives the same network on every backend.
    pub fn init_weights(&self, seed: u64) -> Weights {
        let mut rng = SeededRng::new(seed);
        let mut w = Weights::default();
        for (name, shape) in self.tensor_shapes() {
            let n: usize = shape.iter().product();
            let data = if name.ends_with(".bias") {
                vec![0.0; n]
            } else {
                let fan_in: usize = shape[1..].iter().product();
                let bound = (6.0 / fan_in as f32).sqrt();
                (0..n).map(|_| rng.uniform(-bound, bound)).collect()
            };
            w.insert(name, HostTensor::new(shape, data));
        }
        w
    }
}
