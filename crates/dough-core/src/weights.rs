//! Model weights on the host: named f32 tensors, stored as safetensors with plain names.
//!
//! Tensor names and layouts follow the common (PyTorch) convention so that other tools can
//! read the files: `fc{i}.weight` is `[out, in]`, `conv{i}.weight` is `[out, in, kh, kw]`,
//! biases are `[out]`.

use std::collections::BTreeMap;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WeightsError {
    #[error("the weights file is not valid safetensors: {0}")]
    Format(String),
    #[error("the weights file has no tensor named \"{0}\"")]
    Missing(String),
    #[error("tensor \"{name}\" has shape {found:?}, the architecture needs {expected:?}")]
    Shape { name: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("tensor \"{name}\" is stored as {dtype}, only F32 is supported")]
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

    pub fn to_safetensors(&self) -> Vec<u8> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.shape.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect()))
            .collect();
        let views = bytes.iter().map(|(n, s, b)| {
            (n.as_str(), TensorView::new(Dtype::F32, s.clone(), b).expect("consistent tensor view"))
        });
        safetensors::serialize(views, None).expect("serialising in-memory tensors cannot fail")
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, WeightsError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format(e.to_string()))?;
        let mut w = Weights::default();
        for name in st.names() {
            let view = st.tensor(name).map_err(|e| WeightsError::Format(e.to_string()))?;
            if view.dtype() != Dtype::F32 {
                return Err(WeightsError::Dtype { name: name.to_string(), dtype: format!("{:?}", view.dtype()) });
            }
            let data = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
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
}
