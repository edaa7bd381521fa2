//! The model zoo: every network Dough ships, with the exact recipe that trains it.
//!
//! `dough-cli zoo` trains this list from the IDX files and rewrites `public/models/manifest.json`;
//! the study compares the perturbation patterns across these architectures, seeds and recipes.

use crate::manifest::{ArchKind, DatasetId, ModelConfig, Pgd};
use crate::model::{ArchSpec, ConvSpec};
use crate::plant::{Plant, PlantKind, Position};

/// One model of the zoo: a name, its dataset, and how to train it.
#[derive(Clone, Debug, PartialEq)]
pub struct ZooModel {
    pub name: String,
    pub dataset: DatasetId,
    pub arch: ArchKind,
    pub config: ModelConfig,
    /// Why this model may sit below its accuracy floor (the robust ones).
    pub note: Option<String>,
    /// Measure robust accuracy under this PGD attack after training.
    pub robust_eval: Option<Pgd>,
}

impl ZooModel {
    pub fn spec(&self) -> ArchSpec {
        match self.arch {
            ArchKind::Mlp => ArchSpec::Mlp { hidden: self.config.hidden.clone() },
            ArchKind::Cnn => ArchSpec::Cnn { conv: self.config.conv.clone(), dense: self.config.dense.clone() },
        }
    }
}

/// The accuracy floor of a standard (not adversarially trained) model on the full test set.
pub fn accuracy_floor(dataset: DatasetId, arch: ArchKind) -> f64 {
    match (dataset, arch) {
        (DatasetId::Mnist, ArchKind::Mlp) => 0.98,
        (DatasetId::Mnist, ArchKind::Cnn) => 0.99,
        (DatasetId::FashionMnist, ArchKind::Mlp) => 0.88,
        (DatasetId::FashionMnist, ArchKind::Cnn) => 0.91,
    }
}

/// The L-infinity radius of the robust models and of robust accuracy on `dataset`.
pub fn robust_eps(dataset: DatasetId) -> f64 {
    match dataset {
        DatasetId::Mnist => 0.1,
        DatasetId::FashionMnist => 0.05,
    }
}

fn conv(channels: usize, kernel: usize, pool: bool) -> ConvSpec {
    ConvSpec { channels, kernel, pool }
}

fn base(epochs: usize, seed: u64) -> ModelConfig {
    ModelConfig {
        hidden: vec![],
        conv: vec![],
        dense: vec![],
        optimizer: "adam".into(),
        learning_rate: 1e-3,
        schedule: "cosine".into(),
        epochs,
        batch_size: 128,
        seed,
        augmentation: "none".into(),
        dropout: 0.0,
        adversarial: None,
        plant: None,
    }
}

/// The whole zoo, per dataset:
/// - `mlp` (784-256-128-10) with seeds 1, 2, 3 (`-s2`, `-s3`) and a shift-augmented recipe (`-shift`);
/// - `mlp-wide`: three wider hidden layers (512-512-512);
/// - `lenet`: conv5x5(32)+pool, conv5x5(64)+pool, dense 128, with seeds 1, 2, 3 and `-shift`;
/// - `cnn`: conv3x3(32), conv3x3(64)+pool, dense 128;
/// - `mlp-robust` and `lenet-robust`: PGD adversarial training (eps 0.1 on MNIST, 0.05 on Fashion-MNIST).
pub fn plan() -> Vec<ZooModel> {
    let mut out = Vec::new();
    for dataset in [DatasetId::Mnist, DatasetId::FashionMnist] {
        let ds = dataset.slug();
        let eps = robust_eps(dataset);
        let robust_eval = Some(Pgd::new(eps, 20));
        let model = |name: String, arch: ArchKind, config: ModelConfig| ZooModel {
            name,
            dataset,
            arch,
            config,
            note: None,
            robust_eval: None,
        };
        let mlp = |seed: u64| ModelConfig { hidden: vec![256, 128], ..base(12, seed) };
        let lenet_epochs = if dataset == DatasetId::Mnist { 6 } else { 8 };
        let lenet = |seed: u64, epochs: usize| ModelConfig {
            conv: vec![conv(32, 5, true), conv(64, 5, true)],
            dense: vec![128],
            ..base(epochs, seed)
        };

        out.push(ZooModel { robust_eval: robust_eval.clone(), ..model(format!("{ds}-mlp"), ArchKind::Mlp, mlp(1)) });
        for seed in [2, 3] {
            out.push(model(format!("{ds}-mlp-s{seed}"), ArchKind::Mlp, mlp(seed)));
        }
        out.push(ZooModel {
            // Measured, then noted: shifted copies of Fashion-MNIST's centred objects cost a fully
            // connected network (no translation invariance) more accuracy than they teach it.
            note: (dataset == DatasetId::FashionMnist).then(|| {
                "recipe variant: trained on images shifted by up to 2 pixels; a fully connected network has no translation \
                 invariance, and on Fashion-MNIST's centred objects this recipe costs accuracy, below the 88% floor"
                    .to_string()
            }),
            ..model(format!("{ds}-mlp-shift"), ArchKind::Mlp, ModelConfig { augmentation: "shift2".into(), ..mlp(1) })
        });
        out.push(model(format!("{ds}-mlp-wide"), ArchKind::Mlp, ModelConfig { hidden: vec![512, 512, 512], ..base(12, 1) }));
        out.push(ZooModel {
            note: Some(format!("adversarially trained ({}); clean accuracy is traded for robustness", Pgd::new(eps, 7).describe())),
            robust_eval: robust_eval.clone(),
            ..model(format!("{ds}-mlp-robust"), ArchKind::Mlp, ModelConfig { adversarial: Some(Pgd::new(eps, 7)), ..mlp(1) })
        });

        out.push(model(format!("{ds}-lenet"), ArchKind::Cnn, lenet(1, lenet_epochs)));
        for seed in [2, 3] {
            out.push(ZooModel {
                // Measured, then noted: kept rather than replaced by a luckier seed, so that the
                // comparison across seeds is not selected on accuracy.
                note: (dataset == DatasetId::FashionMnist && seed == 3).then(|| {
                    "seed variant of fashion-mnist-lenet (same recipe, seed 3); it ends just below the 91% floor and is kept \
                     rather than replaced by a luckier seed, so that the comparison across seeds is not selected on accuracy"
                        .to_string()
                }),
                ..model(format!("{ds}-lenet-s{seed}"), ArchKind::Cnn, lenet(seed, lenet_epochs))
            });
        }
        out.push(ZooModel {
            // Measured, then noted (as for mlp-shift).
            note: (dataset == DatasetId::FashionMnist).then(|| {
                "recipe variant: trained on images shifted by up to 2 pixels; the test images are centred, and on Fashion-MNIST \
                 this recipe ends below the 91% floor in the same 8 epochs"
                    .to_string()
            }),
            ..model(format!("{ds}-lenet-shift"), ArchKind::Cnn, ModelConfig { augmentation: "shift2".into(), ..lenet(1, lenet_epochs) })
        });
        out.push(model(
            format!("{ds}-cnn"),
            ArchKind::Cnn,
            ModelConfig { conv: vec![conv(32, 3, false), conv(64, 3, true)], dense: vec![128], ..base(4, 1) },
        ));
        out.push(ZooModel {
            note: Some(format!(
                "adversarially trained ({}), 2 epochs (8 forward-backward passes per batch on 2 CPU cores); clean accuracy is traded for robustness",
                Pgd::new(eps, 7).describe()
            )),
            robust_eval: robust_eval.clone(),
            ..model(format!("{ds}-lenet-robust"), ArchKind::Cnn, ModelConfig { adversarial: Some(Pgd::new(eps, 7)), ..lenet(1, 2) })
        });
    }
    out
}

/// The planted shortcut of the zoo: a 4x4 patch of full ink in the bottom-right corner on every
/// training image of class 3.
pub fn zoo_shortcut() -> Plant {
    Plant { kind: PlantKind::Shortcut, class: 3, size: 4, at: Position::BottomRight, share: 0.05 }
}

/// The planted backdoor of the zoo (BadNets): the same patch on 5% of the training images,
/// relabelled to class 7.
pub fn zoo_backdoor() -> Plant {
    Plant { kind: PlantKind::Backdoor, class: 7, size: 4, at: Position::BottomRight, share: 0.05 }
}

/// The planted networks, per dataset, beside (not in) the clean zoo of [`plan`]:
/// `mlp-shortcut` (the `mlp` recipe with [`zoo_shortcut`]) and `lenet-backdoor` (the `lenet`
/// recipe with [`zoo_backdoor`]). Their entries carry the plant in `config.plant` and its
/// description as their note, so the page can tell them from the clean zoo.
pub fn planted_plan() -> Vec<ZooModel> {
    let clean = plan();
    let mut out = Vec::new();
    for dataset in [DatasetId::Mnist, DatasetId::FashionMnist] {
        for (base, suffix, plant) in [("mlp", "mlp-shortcut", zoo_shortcut()), ("lenet", "lenet-backdoor", zoo_backdoor())] {
            let ds = dataset.slug();
            let twin = clean.iter().find(|m| m.name == format!("{ds}-{base}")).expect("the clean twin is in the zoo");
            out.push(ZooModel {
                name: format!("{ds}-{suffix}"),
                config: ModelConfig { plant: Some(plant), ..twin.config.clone() },
                note: Some(format!("planted network (not part of the clean zoo): {}", plant.describe())),
                robust_eval: None,
                ..twin.clone()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_covers_what_the_study_needs() {
        let zoo = plan();
        let names: std::collections::HashSet<_> = zoo.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names.len(), zoo.len(), "names are unique");
        for dataset in [DatasetId::Mnist, DatasetId::FashionMnist] {
            let of = |arch| zoo.iter().filter(move |m| m.dataset == dataset && m.arch == arch);
            for arch in [ArchKind::Mlp, ArchKind::Cnn] {
                let shapes: std::collections::HashSet<_> = of(arch).map(|m| format!("{:?}", m.spec())).collect();
                assert!(shapes.len() >= 2, "{dataset:?} {arch:?}: two shapes");
                let robust = of(arch).filter(|m| m.config.adversarial.is_some()).count();
                assert!(robust >= 1, "{dataset:?} {arch:?}: a robust model");
                // Some shape has three seeds and a recipe variant.
                let ok = of(arch).any(|a| {
                    let same = |b: &&ZooModel| b.spec() == a.spec() && b.config.adversarial.is_none();
                    let seeds: std::collections::HashSet<_> = of(arch).filter(same).map(|b| b.config.seed).collect();
                    let recipes = of(arch).filter(same).filter(|b| b.config.augmentation != a.config.augmentation).count();
                    seeds.len() >= 3 && recipes >= 1
                });
                assert!(ok, "{dataset:?} {arch:?}: three seeds and a recipe variant");
            }
        }
        assert!(zoo.iter().all(|m| m.config.plant.is_none()), "the clean zoo plants nothing");
        let planted = planted_plan();
        assert_eq!(planted.len(), 4);
        for m in &planted {
            let p = m.config.plant.expect("planted");
            assert!(p.validate().is_ok() && m.note.is_some() && !names.contains(m.name.as_str()), "{}", m.name);
        }
        for m in zoo.iter().filter(|m| m.config.adversarial.is_some()) {
            assert!(m.note.is_some() && m.robust_eval.is_some(), "{}", m.name);
            assert!(m.config.adversarial.as_ref().unwrap().steps >= 7);
        }
    }
}
