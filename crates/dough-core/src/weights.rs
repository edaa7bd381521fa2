//! Model weights on the host: named f32 tensors, stored as safetensors with plain names.
//!
//! Tensor names and layouts follow the common (PyTorch) convention so that other tools can
//! read the files: `fc{i}.weight` is `[out, in]`, `conv{i}.weight` is `[out, in, kh, kw]`,
//! biases are `[out]`.

use std::collections::BTreeMap;

use half::f16;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WeightsError {
    #[error("the weights file is not valid safetensors: {0}")]
    Format(String),
    #[error("the weights file has no tensor named \"{0}\"")]
    Missing(String),
    #[error("tensor \"{name}\" has shape {found:?}, the architecture needs {expected:?}")]
    Shape { name: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("tensor \"{name}\" is stored as {dtype}, only F32 and F16 are supported")]
    Dtype { name: String, dtype: String },
}

/// One tensor on the host, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape does not match data length");
        Self { shape, data }
    }

    /// Transposes a matrix.
    pub fn transposed(&self) -> Self {
        let [r, c] = [self.shape[0], self.shape[1]];
        let mut out = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                out[j * r + i] = self.data[i * c + j];
            }
        }
        Self::new(vec![c, r], out)
    }
}

/// A named set of tensors: everything needed to rebuild a model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Weights {
    pub tensors: BTreeMap<String, HostTensor>,
}

impl Weights {
    pub fn insert(&mut self, name: impl Into<String>, t: HostTensor) {
        self.tensors.insert(name.into(), t);
    }

    /// The tensor `name`, checked against the shape the architecture expects.
    pub fn get(&self, name: &str, expected: &[usize]) -> Result<&HostTensor, WeightsError> {
        let t = self.tensors.get(name).ok_or_else(|| WeightsError::Missing(name.to_string()))?;
        if t.shape != expected {
            return Err(WeightsError::Shape {
                name: name.to_string(),
                expected: expected.to_vec(),
                found: t.shape.clone(),
            });
        }
        Ok(t)
    }

    pub fn param_count(&self) -> usize {
        self.tensors.values().map(|t| t.data.len()).sum()
    }

    /// Stores every tensor as F32.
    pub fn to_safetensors(&self) -> Vec<u8> {
        self.serialize(Dtype::F32, |v| v.to_le_bytes().to_vec())
    }

    /// Stores every tensor in half precision (IEEE F16, round to nearest): half the bytes.
    pub fn to_safetensors_f16(&self) -> Vec<u8> {
        self.serialize(Dtype::F16, |v| f16::from_f32(v).to_le_bytes().to_vec())
    }

    /// The same weights rounded through half precision (what an F16 file gives back).
    pub fn rounded_to_f16(&self) -> Self {
        let mut w = Weights::default();
        for (n, t) in &self.tensors {
            let data = t.data.iter().map(|&v| f16::from_f32(v).to_f32()).collect();
            w.insert(n.clone(), HostTensor::new(t.shape.clone(), data));
        }
        w
    }

    fn serialize(&self, dtype: Dtype, encode: impl Fn(f32) -> Vec<u8>) -> Vec<u8> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.shape.clone(), t.data.iter().flat_map(|&v| encode(v)).collect()))
            .collect();
        let views =
            bytes.iter().map(|(n, s, b)| (n.as_str(), TensorView::new(dtype, s.clone(), b).expect("consistent tensor view")));
        safetensors::serialize(views, None).expect("serialising in-memory tensors cannot fail")
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, WeightsError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format(e.to_string()))?;
        let mut w = Weights::default();
        for name in st.names() {
            let view = st.tensor(name).map_err(|e| WeightsError::Format(e.to_string()))?;
            let data = match view.dtype() {
                Dtype::F32 => view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
                Dtype::F16 => view.data().chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
                other => return Err(WeightsError::Dtype { name: name.to_string(), dtype: format!("{other:?}") }),
            };
            w.insert(name, HostTensor::new(view.shape().to_vec(), data));
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_round_trip_and_errors() {
        let mut w = Weights::default();
        w.insert("fc0.weight", HostTensor::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]));
        w.insert("fc0.bias", HostTensor::new(vec![2], vec![0.5, -0.25]));
        let bytes = w.to_safetensors();
        let back = Weights::from_safetensors(&bytes).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.param_count(), 8);
        assert!(back.get("fc0.weight", &[2, 3]).is_ok());
        assert!(matches!(back.get("fc0.weight", &[3, 2]), Err(WeightsError::Shape { .. })));
        assert!(matches!(back.get("fc1.weight", &[3, 2]), Err(WeightsError::Missing(_))));
        assert!(matches!(Weights::from_safetensors(&bytes[..bytes.len() - 3]), Err(WeightsError::Format(_))));
        assert!(matches!(Weights::from_safetensors(b"not a model"), Err(WeightsError::Format(_))));
        assert_eq!(w.tensors["fc0.weight"].transposed().data, vec![1.0, 4.0, 2.0, 5.0, 3.0, -6.5]);
    }

    #[test]
    fn half_precision_round_trip() {
        let mut w = Weights::default();
        // 1/3 is not representable: F16 keeps 11 significant bits.
        w.insert("fc0.weight", HostTensor::new(vec![1, 4], vec![1.0 / 3.0, -2.5, 1e-3, 70000.0]));
        let bytes = w.to_safetensors_f16();
        assert!(bytes.len() < w.to_safetensors().len());
        let back = Weights::from_safetensors(&bytes).unwrap();
        assert_eq!(back, w.rounded_to_f16());
        let v = &back.tensors["fc0.weight"].data;
        assert!((v[0] - 1.0 / 3.0).abs() < 2e-4 && v[0] != 1.0 / 3.0);
        assert_eq!(v[1], -2.5);
        assert!((v[2] - 1e-3).abs() < 1e-6);
        assert!(v[3].is_infinite(), "70000 overflows F16");
    }
}
