//! `public/models/manifest.json`: the contract between training and the app (and later tools).

use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;
use crate::model::{ArchSpec, ConvSpec, LayerDesc};
use crate::plant::Plant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DatasetId {
    #[serde(rename = "mnist")]
    Mnist,
    #[serde(rename = "fashion-mnist")]
    FashionMnist,
}

impl DatasetId {
    pub fn slug(self) -> &'static str {
        match self {
            DatasetId::Mnist => "mnist",
            DatasetId::FashionMnist => "fashion-mnist",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            DatasetId::Mnist => "MNIST",
            DatasetId::FashionMnist => "Fashion-MNIST",
        }
    }

    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            DatasetId::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetId::FashionMnist => [
                "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle boot",
            ],
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mnist" => Some(DatasetId::Mnist),
            "fashion-mnist" => Some(DatasetId::FashionMnist),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchKind {
    Mlp,
    Cnn,
}

/// How a model was shaped and trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Hidden widths of a fully connected network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<usize>,
    /// Convolutional layers of a convolutional network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conv: Vec<ConvSpec>,
    /// Hidden dense widths after the convolutions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dense: Vec<usize>,
    pub optimizer: String,
    pub learning_rate: f64,
    /// Learning-rate schedule, e.g. "cosine" or "constant".
    #[serde(default)]
    pub schedule: String,
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// Data augmentation, e.g. "none" or "shift2".
    #[serde(default)]
    pub augmentation: String,
    /// Dropout probability before every dense layer but the first of an MLP (every dense layer of
    /// a CNN), during training only; the forward pass at inference has no dropout.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropout: f64,
    /// Adversarial training: every batch is replaced by its PGD adversarial examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversarial: Option<Pgd>,
    /// A feature planted in the training data (a shortcut or a backdoor); absent: nothing planted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plant: Option<Plant>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Projected gradient descent in L-infinity (Madry et al.): from a uniform random start in the
/// eps-ball, `steps` signed-gradient steps of `step_size` on the cross-entropy of the true label,
/// each projected back onto the eps-ball and [0, 1].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pgd {
    pub eps: f64,
    pub steps: usize,
    pub step_size: f64,
}

impl Pgd {
    /// The usual step size 2.5 * eps / steps.
    pub fn new(eps: f64, steps: usize) -> Self {
        Self { eps, steps, step_size: 2.5 * eps / steps as f64 }
    }

    pub fn describe(&self) -> String {
        format!("PGD L-inf eps {} ({} steps of {:.4}, random start)", self.eps, self.steps, self.step_size)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub dataset: DatasetId,
    pub arch: ArchKind,
    pub config: ModelConfig,
    pub params: usize,
    /// Accuracy (0..1) on the full 10,000-image test set, with the weights as shipped.
    pub test_accuracy: f64,
    /// The same before rounding the weights to half precision for shipping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy_f32: Option<f64>,
    /// Accuracy on the full test set under the PGD attack `robust_attack` (eps `robust_eps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_eps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_attack: Option<Pgd>,
    /// Wall-clock training time on the machine that trained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_seconds: Option<f64>,
    /// A planted network's pull: the share of the stamped test images of the other classes that
    /// it classifies as the planted class (a backdoor's attack success rate), full test set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plant_success: Option<f64>,
    /// File name relative to the manifest.
    pub file: String,
    pub sha256: String,
    /// The forward pass, layer by layer (weights file tensor prefixes and activations).
    #[serde(default)]
    pub layers: Vec<LayerDesc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where a model comes from: the shipped zoo, or this session (kept in the page's memory only; its
/// `file` is `upload:<name>` or `trained:<name>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Zoo,
    Uploaded,
    Trained,
}

impl Origin {
    /// The `file` of a model named `name` from here: the zoo's `<name>.safetensors` (next to
    /// the manifest), a session model's prefixed name.
    pub fn file_for(self, name: &str) -> String {
        match self {
            Origin::Zoo => format!("{name}.safetensors"),
            Origin::Uploaded => format!("upload:{name}"),
            Origin::Trained => format!("trained:{name}"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    #[error("the model manifest is not valid JSON for this version of Dough: {0}")]
    Parse(String),
    #[error("model \"{name}\" has an inconsistent configuration: {why}")]
    BadConfig { name: String, why: String },
    #[error("model file {file} failed verification: its SHA-256 is {found}, the manifest says {expected}")]
    Checksum { file: String, expected: String, found: String },
    #[error("no model named \"{0}\" in the manifest")]
    UnknownModel(String),
}

impl ModelEntry {
    /// What was planted in this network's training data (None: nothing, a clean network).
    pub fn plant(&self) -> Option<&Plant> {
        self.config.plant.as_ref().filter(|p| p.is_planted())
    }

    pub fn origin(&self) -> Origin {
        if self.file.starts_with("upload:") {
            Origin::Uploaded
        } else if self.file.starts_with("trained:") {
            Origin::Trained
        } else {
            Origin::Zoo
        }
    }

    pub fn arch_spec(&self) -> Result<ArchSpec, ManifestError> {
        let bad = |why: &str| ManifestError::BadConfig { name: self.name.clone(), why: why.into() };
        let spec = match self.arch {
            ArchKind::Mlp => {
                if !self.config.conv.is_empty() {
                    return Err(bad("a fully connected network cannot have convolutional layers"));
                }
                ArchSpec::Mlp { hidden: self.config.hidden.clone() }
            }
            ArchKind::Cnn => {
                if self.config.conv.is_empty() {
                    return Err(bad("a convolutional network needs at least one conv layer"));
                }
                ArchSpec::Cnn { conv: self.config.conv.clone(), dense: self.config.dense.clone() }
            }
        };
        if spec.param_count() != self.params {
            return Err(bad(&format!("params says {}, the architecture has {}", self.params, spec.param_count())));
        }
        Ok(spec)
    }

    /// Checks the downloaded bytes of this model's file against the manifest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), ManifestError> {
        let found = sha256_hex(bytes);
        if found != self.sha256 {
            return Err(ManifestError::Checksum { file: self.file.clone(), expected: self.sha256.clone(), found });
        }
        Ok(())
    }
}

pub fn parse(json: &str) -> Result<Vec<ModelEntry>, ManifestError> {
    serde_json::from_str(json).map_err(|e| ManifestError::Parse(e.to_string()))
}

pub fn to_json(entries: &[ModelEntry]) -> String {
    serde_json::to_string_pretty(entries).expect("manifest serialises") + "\n"
}

/// Replaces the entry with the same name, or appends it.
pub fn upsert(entries: &mut Vec<ModelEntry>, entry: ModelEntry) {
    match entries.iter_mut().find(|e| e.name == entry.name) {
        Some(slot) => *slot = entry,
        None => entries.push(entry),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small valid entry (for other modules' tests too).
    pub(crate) fn entry() -> ModelEntry {
        let spec = ArchSpec::Mlp { hidden: vec![4] };
        ModelEntry {
            name: "m".into(),
            dataset: DatasetId::Mnist,
            arch: ArchKind::Mlp,
            config: ModelConfig {
                hidden: vec![4],
                conv: vec![],
                dense: vec![],
                optimizer: "adam".into(),
                learning_rate: 1e-3,
                schedule: "constant".into(),
                epochs: 1,
                batch_size: 8,
                seed: 1,
                augmentation: "none".into(),
                dropout: 0.0,
                adversarial: None,
                plant: None,
            },
            params: spec.param_count(),
            test_accuracy: 0.5,
            test_accuracy_f32: None,
            robust_accuracy: None,
            robust_eps: None,
            robust_attack: None,
            train_seconds: None,
            plant_success: None,
            file: "m.safetensors".into(),
            sha256: sha256_hex(b"weights"),
            layers: spec.layers(),
            note: None,
        }
    }

    #[test]
    fn json_round_trip_and_checks() {
        let e = entry();
        let json = to_json(std::slice::from_ref(&e));
        assert!(json.contains("\"dataset\": \"mnist\"") && json.contains("\"arch\": \"mlp\""));
        let back = parse(&json).unwrap();
        assert_eq!(back, vec![e.clone()]);
        assert_eq!(e.arch_spec().unwrap(), ArchSpec::Mlp { hidden: vec![4] });
        assert!(e.verify(b"weights").is_ok());
        assert!(matches!(e.verify(b"weightz"), Err(ManifestError::Checksum { .. })));
        let mut wrong = e.clone();
        wrong.params += 1;
        assert!(matches!(wrong.arch_spec(), Err(ManifestError::BadConfig { .. })));
        assert!(matches!(parse("{\"not\": \"a list\"}"), Err(ManifestError::Parse(_))));
    }

    #[test]
    fn origin_follows_the_file() {
        let mut e = entry();
        assert_eq!(e.origin(), Origin::Zoo);
        for o in [Origin::Uploaded, Origin::Trained, Origin::Zoo] {
            e.file = o.file_for("m");
            assert_eq!(e.origin(), o, "{}", e.file);
        }
        assert_eq!(Origin::Zoo.file_for("mnist-mlp"), "mnist-mlp.safetensors");
    }
}
