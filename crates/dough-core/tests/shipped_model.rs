//! The shipped model and sample pack in `public/`: they load, verify, keep their stated accuracy,
//! and the attack reaches every target with them.

use std::path::PathBuf;

use dough_core::Device;
use dough_core::attack::{AttackConfig, AttackJob, every_target};
use dough_core::eval;
use dough_core::inputs::ControlledInput;
use dough_core::manifest::{self, ModelEntry};
use dough_core::model::ArchSpec;
use dough_core::pack::SamplePack;
use dough_core::weights::Weights;

fn public() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../public")
}

fn entries() -> Vec<ModelEntry> {
    let json = std::fs::read_to_string(public().join("models/manifest.json")).expect("manifest.json is shipped");
    manifest::parse(&json).expect("manifest parses")
}

fn load(entry: &ModelEntry) -> (ArchSpec, Weights) {
    let bytes = std::fs::read(public().join("models").join(&entry.file)).expect("model file is shipped");
    entry.verify(&bytes).expect("sha256 matches the manifest");
    (entry.arch_spec().unwrap(), Weights::from_safetensors(&bytes).unwrap())
}

fn pack(dataset: &str) -> SamplePack {
    let bytes = std::fs::read(public().join(format!("data/{dataset}-samples.dspk"))).expect("sample pack is shipped");
    SamplePack::decode(&bytes).expect("sample pack verifies")
}

fn default_model() -> ModelEntry {
    entries().into_iter().find(|e| e.name == "mnist-mlp").expect("the default model mnist-mlp is in the manifest")
}

#[test]
fn sample_pack_has_at_least_50_images_per_class() {
    let p = pack("mnist");
    assert_eq!((p.rows, p.cols), (28, 28));
    for c in 0..10 {
        assert!(p.indices_of(c).len() >= 50, "class {c}");
    }
}

#[test]
fn every_shipped_model_verifies_and_keeps_its_stated_accuracy_on_the_sample_pack() {
    let all = entries();
    assert!(!all.is_empty());
    for entry in all {
        let (spec, weights) = load(&entry);
        assert_eq!(weights.param_count(), entry.params, "{}", entry.name);
        let p = pack(entry.dataset.slug());
        let acc = pollster::block_on(eval::accuracy(&spec, &weights, &Device::flex(), &p.pixels, &p.labels)).unwrap();
        eprintln!("{}: {:.2}% on its sample pack, {:.2}% on the test set", entry.name, acc * 100.0, entry.test_accuracy * 100.0);
        assert!(
            (acc - entry.test_accuracy).abs() <= 0.01,
            "{}: {:.2}% on the sample pack, manifest states {:.2}%",
            entry.name,
            acc * 100.0,
            entry.test_accuracy * 100.0
        );
    }
}

#[test]
fn default_mnist_mlp_meets_the_98_percent_floor() {
    assert!(default_model().test_accuracy >= 0.98);
}

#[test]
fn attack_reaches_every_target_from_black_gray_and_noise() {
    let entry = default_model();
    let (spec, weights) = load(&entry);
    let cfg = AttackConfig::default();
    for input in [ControlledInput::Black, ControlledInput::Gray, ControlledInput::Noise { seed: 0 }] {
        let (starts, targets) = every_target(&input.pixels(None).unwrap());
        let job = AttackJob::new(&spec, &weights, &Device::flex(), &starts, &targets, cfg.clone()).unwrap();
        let out = pollster::block_on(job.run()).unwrap();
        for o in &out {
            assert!(o.reached && o.predicted == o.target, "{}: target {} -> predicted {} ({:.3})", input.describe(), o.target, o.predicted, o.confidence);
            assert!(o.steps <= cfg.max_steps);
            assert!(o.adversarial.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }
}

#[test]
fn a_sample_stops_at_the_first_step_that_crosses_kappa() {
    let entry = default_model();
    let (spec, weights) = load(&entry);
    let device = Device::flex();
    let (starts, targets) = every_target(&ControlledInput::Black.pixels(None).unwrap());
    let cfg = AttackConfig { kappa: 0.8, ..AttackConfig::default() };
    let out = pollster::block_on(AttackJob::new(&spec, &weights, &device, &starts, &targets, cfg.clone()).unwrap().run()).unwrap();
    let most = out.iter().map(|o| o.steps).max().unwrap();
    assert!(most < cfg.max_steps, "every sample should stop early");
    for o in &out {
        assert!(o.confidence >= 0.8, "stopped below kappa: {o:?}");
    }
    // One step fewer, without stopping: every sample that moved is still below kappa, so the
    // early stop happened at the first crossing and not later.
    for o in out.iter().filter(|o| o.steps > 0) {
        let short = AttackConfig { max_steps: o.steps - 1, early_stop: false, ..cfg.clone() };
        let job = AttackJob::new(&spec, &weights, &device, &starts[..1], &[o.target], short).unwrap();
        let before = pollster::block_on(job.run()).unwrap();
        assert!(before[0].confidence < 0.8, "target {} was already at {:.3} one step earlier", o.target, before[0].confidence);
    }
    // A higher kappa needs at least as many steps.
    let strict = AttackConfig { kappa: 0.99, ..cfg };
    let out99 = pollster::block_on(AttackJob::new(&spec, &weights, &device, &starts, &targets, strict).unwrap().run()).unwrap();
    for (a, b) in out.iter().zip(&out99) {
        assert!(b.steps >= a.steps);
    }
    assert!(out99.iter().zip(&out).any(|(b, a)| b.steps > a.steps));
}
