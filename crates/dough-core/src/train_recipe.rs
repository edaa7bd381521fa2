//! "Train your own network": the recipe the page's training panel edits and the URL carries
//! (`train-arch`, `train-epochs`, `train-batch`, `train-lr`, `train-seed`, `train-shift`,
//! `train-pgd`, and the planted feature's `train-plant`, `train-plant-class`, `train-plant-size`,
//! `train-plant-corner`, `train-plant-share`; `train-dough=N` trains on the D_det of model A built from
//! N images of the training pack; `train=run` starts training on load), the network
//! and `ModelConfig` it trains, and the manifest entry of the trained network.

use crate::digest::sha256_hex;
use crate::manifest::{ArchKind, DatasetId, ModelConfig, ModelEntry, Origin, Pgd};
use crate::model::{ArchSpec, CLASSES, ConvSpec};
use crate::plant::{CORNER_MARGIN, Plant, PlantKind, Position};
use crate::settings::{clamp_float, clamp_int};

/// The networks the panel offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrainArch {
    /// Fully connected, with these hidden widths (`mlp:256,128`; `mlp:` is a linear classifier).
    Mlp(Vec<usize>),
    /// The zoo's LeNet: conv5x5(32)+pool, conv5x5(64)+pool, dense 128.
    Lenet,
}

/// Most hidden layers and widest hidden layer of a trained MLP.
pub const MAX_HIDDEN_LAYERS: usize = 4;
pub const MAX_HIDDEN_WIDTH: usize = 1024;

impl TrainArch {
    pub fn parse(v: &str) -> Option<Self> {
        if v == "lenet" {
            return Some(TrainArch::Lenet);
        }
        let widths = v.strip_prefix("mlp")?;
        let widths = widths.strip_prefix(':').unwrap_or(widths);
        let hidden: Vec<usize> = widths.split(',').map(str::trim).filter(|w| !w.is_empty()).map(|w| w.parse().ok()).collect::<Option<_>>()?;
        (hidden.len() <= MAX_HIDDEN_LAYERS && hidden.iter().all(|&w| (1..=MAX_HIDDEN_WIDTH).contains(&w))).then_some(TrainArch::Mlp(hidden))
    }

    pub fn slug(&self) -> String {
        match self {
            TrainArch::Mlp(h) => format!("mlp:{}", h.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(",")),
            TrainArch::Lenet => "lenet".into(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TrainArch::Mlp(h) => format!("MLP 784-{}10", h.iter().map(|w| format!("{w}-")).collect::<String>()),
            TrainArch::Lenet => "LeNet (conv 32, conv 64, dense 128)".into(),
        }
    }

    pub fn spec(&self) -> ArchSpec {
        match self {
            TrainArch::Mlp(hidden) => ArchSpec::Mlp { hidden: hidden.clone() },
            TrainArch::Lenet => ArchSpec::Cnn {
                conv: vec![ConvSpec { channels: 32, kernel: 5, pool: true }, ConvSpec { channels: 64, kernel: 5, pool: true }],
                dense: vec![128],
            },
        }
    }
}

/// The panel's recipe. The default is the zoo's `mnist-mlp-shift` recipe (784-256-128-10, Adam
/// 1e-3 with a cosine schedule, 12 epochs of batches of 128, seed 1, shifts of up to 2 pixels):
/// on the 20,000-image MNIST training pack it reaches 97.9% (without the shifts 96.9%, below the
/// 97% the default must reach).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainRecipe {
    pub arch: TrainArch,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// Shift augmentation (up to 2 pixels each way).
    pub shift: bool,
    /// PGD adversarial training with this L-inf radius (7 steps).
    pub pgd_eps: Option<f64>,
    /// A feature planted in the training data (`PlantKind::None`: nothing; its parameters are
    /// kept so that switching the kind back on restores them).
    pub plant: Plant,
    /// Train on nothing but dough: the D_det of the selected network built from this many images
    /// of the training pack (`None`: the pack itself).
    pub dough: Option<usize>,
    /// Start training on load (`train=run`).
    pub run: bool,
}

impl Default for TrainRecipe {
    fn default() -> Self {
        Self { arch: TrainArch::Mlp(vec![256, 128]), epochs: 12, batch_size: 128, learning_rate: 1e-3, seed: 1, shift: true, pgd_eps: None, plant: Plant::default(), dough: None, run: false }
    }
}

/// The accuracy the default recipe must reach on MNIST (on the test sample pack).
pub const DEFAULT_MNIST_FLOOR: f64 = 0.97;
pub const MAX_EPOCHS: i64 = 50;
const BATCH_RANGE: (i64, i64) = (8, 1024);
const LR_RANGE: (f32, f32) = (1e-5, 0.1);
const PGD_RANGE: (f32, f32) = (0.0, 0.3);
/// PGD steps of adversarial training (as the zoo's robust models).
pub const PGD_STEPS: usize = 7;
/// The planted patch's side in the URL: it sits in a corner, one pixel in from the edges.
const PLANT_SIZE_RANGE: (i64, i64) = (1, (crate::model::SIDE - 2 * CORNER_MARGIN) as i64);
const PLANT_SHARE_RANGE: (f32, f32) = (0.001, 1.0);
/// Images of the training pack a dough set is built from (the pack holds 20,000).
pub const DOUGH_RANGE: (i64, i64) = (100, 20_000);
/// The default size of a dough set in the panel.
pub const DOUGH_DEFAULT: usize = 2000;

/// Why a recipe's query string could not be read as it stands.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecipeQueryError {
    #[error("\"{0}\" is not key=value")]
    NotAPair(String),
    #[error("{0} is not a key of a training recipe")]
    UnknownKey(String),
    #[error("the recipe's values were changed: {}", .0.join("; "))]
    Adjusted(Vec<String>),
}

impl TrainRecipe {
    /// The recipe of a query string of recipe keys (`train-arch=mlp:64&train-epochs=3`), read as
    /// the page reads them; any key that is not a recipe's, or any value the page would adjust,
    /// is an error (for fixtures that must train exactly what they say).
    pub fn from_query(query: &str) -> Result<Self, RecipeQueryError> {
        let mut recipe = TrainRecipe::default();
        let mut notices = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| RecipeQueryError::NotAPair(pair.to_string()))?;
            if !recipe.read(k, v, &mut notices) {
                return Err(RecipeQueryError::UnknownKey(k.to_string()));
            }
        }
        if notices.is_empty() { Ok(recipe) } else { Err(RecipeQueryError::Adjusted(notices)) }
    }

    /// Reads one URL key; false when the key is not one of the recipe's.
    pub fn read(&mut self, key: &str, v: &str, notices: &mut Vec<String>) -> bool {
        let d = TrainRecipe::default();
        match key {
            "train" => match v {
                "run" => self.run = true,
                "" | "0" | "off" => self.run = false,
                _ => notices.push(format!("train=\"{v}\" is unknown; use train=run to train on load")),
            },
            "train-arch" => match TrainArch::parse(v) {
                Some(a) => self.arch = a,
                None => notices.push(format!(
                    "train-arch=\"{v}\" is unknown; using {} (mlp:W1,W2,... with up to {MAX_HIDDEN_LAYERS} widths of 1-{MAX_HIDDEN_WIDTH}, or lenet)",
                    d.arch.slug()
                )),
            },
            "train-epochs" => self.epochs = clamp_int(key, v, 1, MAX_EPOCHS, d.epochs as i64, notices) as usize,
            "train-batch" => self.batch_size = clamp_int(key, v, BATCH_RANGE.0, BATCH_RANGE.1, d.batch_size as i64, notices) as usize,
            "train-lr" => self.learning_rate = clamp_float(key, v, LR_RANGE, d.learning_rate as f32, notices) as f64,
            "train-seed" => match v.parse::<u64>() {
                Ok(n) => self.seed = n,
                Err(_) => notices.push(format!("train-seed=\"{v}\" is not a whole number ≥ 0; using {}", d.seed)),
            },
            "train-shift" => match v {
                "1" | "yes" | "true" => self.shift = true,
                "0" | "no" | "false" => self.shift = false,
                _ => notices.push(format!("train-shift=\"{v}\" is not 0 or 1; shifts stay {}", if self.shift { "on" } else { "off" })),
            },
            "train-pgd" => {
                let eps = clamp_float(key, v, PGD_RANGE, 0.0, notices) as f64;
                self.pgd_eps = (eps > 0.0).then_some(eps);
            }
            "train-plant" => match PlantKind::parse(v) {
                Some(k) => self.plant.kind = k,
                None => notices.push(format!("train-plant=\"{v}\" is unknown; use none, shortcut or backdoor (nothing is planted)")),
            },
            "train-plant-class" => self.plant.class = clamp_int(key, v, 0, CLASSES as i64 - 1, d.plant.class as i64, notices) as usize,
            "train-plant-size" => self.plant.size = clamp_int(key, v, PLANT_SIZE_RANGE.0, PLANT_SIZE_RANGE.1, d.plant.size as i64, notices) as usize,
            "train-plant-corner" => match Position::parse(v) {
                Some(p) if !matches!(p, Position::At { .. }) => self.plant.at = p,
                _ => notices.push(format!("train-plant-corner=\"{v}\" is not tl, tr, bl or br; using {}", d.plant.at)),
            },
            "train-plant-share" => {
                // Four decimals, so that the URL's 0.05 reads back as 0.05 (not its f32 neighbour).
                let share = clamp_float(key, v, PLANT_SHARE_RANGE, d.plant.share as f32, notices) as f64;
                self.plant.share = (share * 1e4).round() / 1e4;
            }
            "train-dough" => match v {
                "" | "0" | "off" | "no" => self.dough = None,
                _ => self.dough = Some(clamp_int(key, v, DOUGH_RANGE.0, DOUGH_RANGE.1, DOUGH_DEFAULT as i64, notices) as usize),
            },
            _ => return false,
        }
        true
    }

    /// The URL keys of this recipe (only values that differ from the defaults).
    pub fn to_query(&self) -> Vec<(String, String)> {
        let d = TrainRecipe::default();
        let mut q = Vec::new();
        let mut put = |k: &str, v: String| q.push((k.to_string(), v));
        if self.run {
            put("train", "run".into());
        }
        if self.arch != d.arch {
            put("train-arch", self.arch.slug());
        }
        if self.epochs != d.epochs {
            put("train-epochs", self.epochs.to_string());
        }
        if self.batch_size != d.batch_size {
            put("train-batch", self.batch_size.to_string());
        }
        if self.learning_rate != d.learning_rate {
            put("train-lr", self.learning_rate.to_string());
        }
        if self.seed != d.seed {
            put("train-seed", self.seed.to_string());
        }
        if self.shift != d.shift {
            put("train-shift", if self.shift { "1" } else { "0" }.into());
        }
        if let Some(eps) = self.pgd_eps {
            put("train-pgd", eps.to_string());
        }
        let (p, dp) = (&self.plant, &d.plant);
        if p.kind != dp.kind {
            put("train-plant", p.kind.slug().into());
        }
        if p.class != dp.class {
            put("train-plant-class", p.class.to_string());
        }
        if p.size != dp.size {
            put("train-plant-size", p.size.to_string());
        }
        if p.at != dp.at {
            put("train-plant-corner", p.at.to_string());
        }
        if p.share != dp.share {
            put("train-plant-share", p.share.to_string());
        }
        if let Some(n) = self.dough {
            put("train-dough", n.to_string());
        }
        q
    }

    pub fn arch_kind(&self) -> ArchKind {
        match self.arch {
            TrainArch::Mlp(_) => ArchKind::Mlp,
            TrainArch::Lenet => ArchKind::Cnn,
        }
    }

    /// The training configuration (Adam, cosine schedule, no dropout).
    pub fn config(&self) -> ModelConfig {
        let (hidden, conv, dense) = match self.arch.spec() {
            ArchSpec::Mlp { hidden } => (hidden, vec![], vec![]),
            ArchSpec::Cnn { conv, dense } => (vec![], conv, dense),
        };
        ModelConfig {
            hidden,
            conv,
            dense,
            optimizer: "adam".into(),
            learning_rate: self.learning_rate,
            schedule: "cosine".into(),
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: self.seed,
            augmentation: if self.shift { "shift2" } else { "none" }.into(),
            dropout: 0.0,
            adversarial: self.pgd_eps.map(|eps| Pgd::new(eps, PGD_STEPS)),
            plant: self.plant.is_planted().then_some(self.plant),
        }
    }

    /// Whether this is the default recipe (whose MNIST accuracy the page checks against
    /// [`DEFAULT_MNIST_FLOOR`]).
    pub fn is_default(&self) -> bool {
        TrainRecipe { run: false, ..self.clone() } == TrainRecipe::default()
    }

    /// A name for the trained network, e.g. `mnist-trained-mlp-256-128-s1`.
    pub fn model_name(&self, dataset: DatasetId) -> String {
        let arch = match &self.arch {
            TrainArch::Mlp(h) => format!("mlp{}", h.iter().map(|w| format!("-{w}")).collect::<String>()),
            TrainArch::Lenet => "lenet".into(),
        };
        let plant = if self.plant.is_planted() { format!("-{}{}", self.plant.kind.slug(), self.plant.class) } else { String::new() };
        let dough = if self.dough.is_some() { "-on-dough" } else { "" };
        format!("{}-trained-{arch}{plant}{dough}-s{}", dataset.slug(), self.seed)
    }
}

/// The manifest entry of a network trained in the page from `recipe` (its f32 safetensors are
/// `bytes`): `file` is `trained:<name>` (there is no file on the server), `sha256` the bytes'
/// hash, `test_accuracy` measured on the test sample pack.
pub fn trained_entry(name: &str, dataset: DatasetId, recipe: &TrainRecipe, test_accuracy: f64, train_seconds: f64, train_images: usize, bytes: &[u8]) -> ModelEntry {
    let spec = recipe.arch.spec();
    ModelEntry {
        name: name.into(),
        dataset,
        arch: recipe.arch_kind(),
        config: recipe.config(),
        params: spec.param_count(),
        test_accuracy,
        test_accuracy_f32: None,
        robust_accuracy: None,
        robust_eps: None,
        robust_attack: None,
        train_seconds: Some(train_seconds),
        plant_success: None,
        file: Origin::Trained.file_for(name),
        sha256: sha256_hex(bytes),
        layers: spec.layers(),
        note: Some(format!(
            "trained in the page on the {train_images}-image training pack; test accuracy measured on the test sample pack, not the full test set"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (TrainRecipe, Vec<String>) {
        let mut r = TrainRecipe::default();
        let mut n = Vec::new();
        for (k, v) in pairs {
            assert!(r.read(k, v, &mut n), "{k} is a recipe key");
        }
        (r, n)
    }

    #[test]
    fn recipe_keys_are_read_clamped_and_written_back() {
        let (r, n) = read(&[("train", "run"), ("train-arch", "mlp:32"), ("train-epochs", "1"), ("train-batch", "32"), ("train-lr", "0.003"), ("train-seed", "7"), ("train-shift", "0"), ("train-pgd", "0.1")]);
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(r.arch, TrainArch::Mlp(vec![32]));
        assert!(r.run && !r.shift && r.epochs == 1 && r.batch_size == 32 && r.seed == 7);
        assert!((r.learning_rate - 0.003).abs() < 1e-9 && (r.pgd_eps.unwrap() - 0.1).abs() < 1e-6);
        let mut back = TrainRecipe::default();
        for (k, v) in r.to_query() {
            back.read(&k, &v, &mut Vec::new());
        }
        assert_eq!(back, r);
        let (r, n) = read(&[("train-epochs", "500"), ("train-batch", "2"), ("train-arch", "mlp:0"), ("train-pgd", "0"), ("train", "go")]);
        assert_eq!((r.epochs, r.batch_size, r.arch.clone(), r.pgd_eps, r.run), (MAX_EPOCHS as usize, 8, TrainArch::Mlp(vec![256, 128]), None, false));
        assert_eq!(n.len(), 4, "{n:?}");
        assert!(TrainRecipe::default().to_query().is_empty());
        assert!(!TrainRecipe::default().read("seed", "1", &mut Vec::new()));
    }

    #[test]
    fn plant_keys_are_read_clamped_and_written_back() {
        let (r, n) = read(&[("train-plant", "backdoor"), ("train-plant-class", "7"), ("train-plant-size", "3"), ("train-plant-corner", "tl"), ("train-plant-share", "0.1")]);
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(r.plant, Plant { kind: PlantKind::Backdoor, class: 7, size: 3, at: Position::TopLeft, share: 0.1 });
        assert_eq!(r.config().plant, Some(r.plant));
        assert_eq!(r.model_name(DatasetId::Mnist), "mnist-trained-mlp-256-128-backdoor7-s1");
        let mut back = TrainRecipe::default();
        for (k, v) in r.to_query() {
            assert!(back.read(&k, &v, &mut Vec::new()), "{k}");
        }
        assert_eq!(back, r);
        assert!(r.to_query().contains(&("train-plant-share".to_string(), "0.1".to_string())));
        let (r, n) = read(&[("train-plant", "trojan"), ("train-plant-class", "12"), ("train-plant-size", "0"), ("train-plant-corner", "3:4"), ("train-plant-share", "2")]);
        assert_eq!(n.len(), 5, "{n:?}");
        assert_eq!(r.plant, Plant { kind: PlantKind::None, class: 9, size: 1, at: Position::BottomRight, share: 1.0 });
        assert!(r.plant.validate().is_ok(), "clamped values are valid");
        assert_eq!(r.config().plant, None, "nothing planted: the config says nothing");
        let (r, _) = read(&[("train-plant", "shortcut"), ("train-plant-size", "99")]);
        assert_eq!(r.plant.size, 26);
        assert!(r.plant.validate().is_ok(), "the largest URL patch fits its corner");
    }

    #[test]
    fn dough_key_is_read_clamped_and_written_back() {
        let (r, n) = read(&[("train-dough", "500")]);
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(r.dough, Some(500));
        assert_eq!(r.model_name(DatasetId::Mnist), "mnist-trained-mlp-256-128-on-dough-s1");
        assert_eq!(r.to_query(), vec![("train-dough".to_string(), "500".to_string())]);
        let (r, n) = read(&[("train-dough", "99999")]);
        assert_eq!((r.dough, n.len()), (Some(DOUGH_RANGE.1 as usize), 1));
        let (r, n) = read(&[("train-dough", "3")]);
        assert_eq!((r.dough, n.len()), (Some(DOUGH_RANGE.0 as usize), 1));
        let (r, n) = read(&[("train-dough", "lots")]);
        assert_eq!((r.dough, n.len()), (Some(DOUGH_DEFAULT), 1));
        let (r, n) = read(&[("train-dough", "500"), ("train-dough", "off")]);
        assert_eq!((r.dough, n.len()), (None, 0));
    }

    #[test]
    fn archs_and_configs() {
        assert_eq!(TrainArch::parse("lenet"), Some(TrainArch::Lenet));
        assert_eq!(TrainArch::parse("mlp:"), Some(TrainArch::Mlp(vec![])));
        assert_eq!(TrainArch::parse("mlp:1,2,3,4,5"), None);
        assert_eq!(TrainArch::Mlp(vec![256, 128]).slug(), "mlp:256,128");
        let zoo = crate::zoo::plan().into_iter().find(|m| m.name == "mnist-mlp-shift").unwrap();
        let d = TrainRecipe::default();
        assert!(d.is_default());
        assert_eq!((d.arch_kind(), d.config()), (zoo.arch, zoo.config), "the default recipe is the zoo's mnist-mlp-shift");
        let lenet = TrainRecipe { arch: TrainArch::Lenet, pgd_eps: Some(0.1), ..d };
        let c = lenet.config();
        assert_eq!((c.conv.len(), c.dense.clone(), c.augmentation.as_str(), c.adversarial.unwrap().steps), (2, vec![128], "shift2", PGD_STEPS));
        assert_eq!(lenet.model_name(DatasetId::Mnist), "mnist-trained-lenet-s1");
        let e = trained_entry("x", DatasetId::Mnist, &lenet, 0.9, 1.0, 10_000, b"abc");
        assert!(e.verify(b"abc").is_ok());
        assert_eq!(e.arch_spec().unwrap(), lenet.arch.spec());
        assert_eq!(e.origin(), Origin::Trained);
    }

    #[test]
    fn a_query_reads_as_the_page_reads_it_and_refuses_what_the_page_would_change() {
        let r = TrainRecipe::from_query("train-arch=mlp:64&train-epochs=3&train-dough=500").unwrap();
        let (page, _) = read(&[("train-arch", "mlp:64"), ("train-epochs", "3"), ("train-dough", "500")]);
        assert_eq!(r, page);
        assert_eq!(r.dough, Some(500));
        assert_eq!(TrainRecipe::from_query("model=mnist-mlp"), Err(RecipeQueryError::UnknownKey("model".into())));
        assert_eq!(TrainRecipe::from_query("train-epochs"), Err(RecipeQueryError::NotAPair("train-epochs".into())));
        assert!(matches!(TrainRecipe::from_query("train-dough=5"), Err(RecipeQueryError::Adjusted(n)) if n.len() == 1));
    }
}
