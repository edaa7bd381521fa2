//! Controlled inputs: the starting points the attack evolves (blank, gray, noise, real images).

use serde::{Deserialize, Serialize};

use crate::model::PIXELS;
use crate::pack::SamplePack;
use crate::rng::SeededRng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ControlledInput {
    /// All pixels 0.
    Black,
    /// All pixels 0.5.
    Gray,
    /// All pixels 1.
    White,
    /// Uniform noise in [0, 1), from the run's seed.
    Noise { seed: u64 },
    /// Image `index` (0-based, in pack order) of class `class` from the sample pack.
    Sample { class: u8, index: usize },
    /// The user's own drawing or upload (28x28 after `preprocess`), held by the page.
    Custom { pixels: Vec<f32> },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InputError {
    #[error("real test images need the sample pack, which is not loaded")]
    NoPack,
    #[error("class {0} does not exist (classes are 0-9)")]
    BadClass(u8),
    #[error("your own image must have 784 pixels (28x28), it has {0}")]
    BadCustom(usize),
    #[error("the sample pack has {available} images of class {class}; image {index} does not exist")]
    BadIndex { class: u8, index: usize, available: usize },
}

impl ControlledInput {
    /// Short machine name, as used in URLs and file names.
    pub fn slug(&self) -> String {
        match self {
            ControlledInput::Black => "black".into(),
            ControlledInput::Gray => "gray".into(),
            ControlledInput::White => "white".into(),
            ControlledInput::Noise { .. } => "noise".into(),
            ControlledInput::Sample { class, index } => format!("sample-{class}-{index}"),
            ControlledInput::Custom { .. } => "custom".into(),
        }
    }

    /// Human-readable description.
    pub fn describe(&self) -> String {
        match self {
            ControlledInput::Black => "black".into(),
            ControlledInput::Gray => "mid-gray".into(),
            ControlledInput::White => "white".into(),
            ControlledInput::Noise { seed } => format!("uniform noise (seed {seed})"),
            ControlledInput::Sample { class, index } => format!("test image #{index} of class {class}"),
            ControlledInput::Custom { .. } => "your own image".into(),
        }
    }

    /// The input's 784 pixels in [0, 1].
    pub fn pixels(&self, pack: Option<&SamplePack>) -> Result<Vec<f32>, InputError> {
        Ok(match self {
            ControlledInput::Black => vec![0.0; PIXELS],
            ControlledInput::Gray => vec![0.5; PIXELS],
            ControlledInput::White => vec![1.0; PIXELS],
            ControlledInput::Noise { seed } => {
                let mut rng = SeededRng::new(*seed);
                (0..PIXELS).map(|_| rng.next_f32()).collect()
            }
            ControlledInput::Sample { class, index } => {
                if *class > 9 {
                    return Err(InputError::BadClass(*class));
                }
                let pack = pack.ok_or(InputError::NoPack)?;
                let of_class = pack.indices_of(*class);
                let &i = of_class.get(*index).ok_or(InputError::BadIndex {
                    class: *class,
                    index: *index,
                    available: of_class.len(),
                })?;
                pack.image_f32(i)
            }
            ControlledInput::Custom { pixels } => {
                if pixels.len() != PIXELS {
                    return Err(InputError::BadCustom(pixels.len()));
                }
                pixels.iter().map(|p| p.clamp(0.0, 1.0)).collect()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_inputs_and_seeded_noise() {
        assert!(ControlledInput::Black.pixels(None).unwrap().iter().all(|&p| p == 0.0));
        assert!(ControlledInput::Gray.pixels(None).unwrap().iter().all(|&p| p == 0.5));
        assert!(ControlledInput::White.pixels(None).unwrap().iter().all(|&p| p == 1.0));
        let a = ControlledInput::Noise { seed: 1 }.pixels(None).unwrap();
        let b = ControlledInput::Noise { seed: 1 }.pixels(None).unwrap();
        let c = ControlledInput::Noise { seed: 2 }.pixels(None).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), PIXELS);
        let mine = ControlledInput::Custom { pixels: vec![2.0; PIXELS] }.pixels(None).unwrap();
        assert!(mine.iter().all(|&p| p == 1.0), "clamped to [0, 1]");
        assert_eq!(ControlledInput::Custom { pixels: vec![0.0; 5] }.pixels(None), Err(InputError::BadCustom(5)));
    }

    #[test]
    fn samples_come_from_the_pack_and_are_checked() {
        let pack = SamplePack {
            dataset: "t".into(),
            rows: 28,
            cols: 28,
            labels: vec![3, 5, 3],
            pixels: (0..3 * PIXELS).map(|i| (i / PIXELS * 100) as u8).collect(),
        };
        let second_three = ControlledInput::Sample { class: 3, index: 1 }.pixels(Some(&pack)).unwrap();
        assert!(second_three.iter().all(|&p| p == 200.0 / 255.0));
        assert_eq!(ControlledInput::Sample { class: 3, index: 0 }.pixels(None), Err(InputError::NoPack));
        assert!(matches!(
            ControlledInput::Sample { class: 5, index: 1 }.pixels(Some(&pack)),
            Err(InputError::BadIndex { available: 1, .. })
        ));
        assert_eq!(ControlledInput::Sample { class: 12, index: 0 }.pixels(Some(&pack)), Err(InputError::BadClass(12)));
    }
}
