//! The shipped model and sample pack in `public/`: they load, verify, keep their stated accuracy,
//! and the attack reaches every target with them.

use std::path::PathBuf;

use dough_compute::Device;
use dough_compute::attack::Evolution;
use dough_compute::{eval, pgd};
use dough_core::attack::{AttackConfig, every_target};
use dough_core::zoo;
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
fn sample_packs_have_at_least_50_images_per_class() {
    for dataset in ["mnist", "fashion-mnist"] {
        let p = pack(dataset);
        assert_eq!((p.rows, p.cols, p.dataset.as_str()), (28, 28, dataset));
        for c in 0..10 {
            assert!(p.indices_of(c).len() >= 50, "{dataset} class {c}");
        }
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

/// The shipped manifest is the zoo: every planned model is there with the planned recipe, meets its
/// accuracy floor (or says why not), was measured before and after half-precision rounding, and
/// the weights together fit the 24 MB budget.
#[test]
fn the_shipped_manifest_is_the_whole_zoo_within_budget() {
    let all = entries();
    let mut total = 0u64;
    for m in zoo::plan() {
        let e = all.iter().find(|e| e.name == m.name).unwrap_or_else(|| panic!("{} is missing from the manifest", m.name));
        assert_eq!((e.dataset, e.arch, &e.config), (m.dataset, m.arch, &m.config), "{}: manifest and zoo plan disagree", m.name);
        assert_eq!(e.note, m.note, "{}", m.name);
        let floor = zoo::accuracy_floor(e.dataset, e.arch);
        assert!(e.test_accuracy >= floor || e.note.is_some(), "{}: {:.2}% is below the floor {:.0}%", e.name, e.test_accuracy * 100.0, floor * 100.0);
        let f32_acc = e.test_accuracy_f32.unwrap_or_else(|| panic!("{}: no f32 accuracy recorded", e.name));
        assert!((f32_acc - e.test_accuracy).abs() <= 0.002, "{}: half precision cost {:.2} points", e.name, (f32_acc - e.test_accuracy) * 100.0);
        if m.robust_eval.is_some() {
            assert!(e.robust_accuracy.is_some() && e.robust_eps.is_some(), "{}: robust accuracy missing", e.name);
        }
        let bytes = std::fs::read(public().join("models").join(&e.file)).unwrap();
        assert!(safetensors::SafeTensors::deserialize(&bytes).unwrap().tensors().iter().all(|(_, t)| t.dtype() == safetensors::Dtype::F16), "{} is stored in half precision", e.name);
        total += bytes.len() as u64;
    }
    // The planted networks ship beside the zoo and count against the same budget.
    for e in all.iter().filter(|e| e.plant().is_some()) {
        total += std::fs::metadata(public().join("models").join(&e.file)).map(|m| m.len()).unwrap_or(0);
    }
    eprintln!("all weights: {total} bytes");
    assert!(total <= 24_000_000, "weights take {total} bytes, the budget is 24 MB");
}

/// The planted networks are shipped beside the clean zoo with their plan's recipe (plant
/// included) and note, and they are what they claim: on the stamped images of the test sample pack
/// (the other classes'), their pull toward the planted class, measured here, is within 3 points
/// of the manifest's full-test-set figure, and a backdoor's is its attack success rate (above 90%).
#[test]
fn the_planted_networks_are_shipped_and_pull_stamped_images_to_their_class() {
    let all = entries();
    let device = Device::flex();
    for m in zoo::planted_plan() {
        let Some(e) = all.iter().find(|e| e.name == m.name) else {
            panic!("{} is missing from the manifest (dough-cli zoo --planted)", m.name)
        };
        assert_eq!((&e.config, &e.note), (&m.config, &m.note), "{}: manifest and planted plan disagree", m.name);
        let plant = e.plant().copied().expect("a planted entry");
        let shipped = e.plant_success.unwrap_or_else(|| panic!("{}: no pull recorded", e.name));
        let (spec, w) = load(e);
        let test = pack(e.dataset.slug()).to_dataset();
        let stamped = plant.stamped_others(&test).unwrap();
        let pred = pollster::block_on(dough_compute::eval::predict(&spec, &w, &device, &stamped, 500)).unwrap();
        let pull = pred.iter().filter(|&&c| c == plant.class).count() as f64 / pred.len() as f64;
        eprintln!("{}: pull {:.2}% on the pack, {:.2}% in the manifest", e.name, pull * 100.0, shipped * 100.0);
        assert!((pull - shipped).abs() <= 0.03, "{}: {pull} on the pack, {shipped} in the manifest", e.name);
        if plant.kind == dough_core::plant::PlantKind::Backdoor {
            assert!(pull > 0.9, "{}: the backdoor pulls only {pull}", e.name);
        }
    }
    assert!(all.iter().filter(|e| e.plant().is_some()).count() == zoo::planted_plan().len(), "no other planted entry");
}

/// The adversarially trained models are what they claim: under PGD at their eps they keep far
/// more accuracy than the standard model of the same architecture (measured on 500 pack images).
#[test]
fn robust_models_resist_pgd_better_than_their_standard_twins() {
    let all = entries();
    for robust in all.iter().filter(|e| e.config.adversarial.is_some()) {
        let twin = all
            .iter()
            .find(|e| e.dataset == robust.dataset && e.config.adversarial.is_none() && e.arch_spec().unwrap() == robust.arch_spec().unwrap() && e.config.seed == robust.config.seed)
            .unwrap_or_else(|| panic!("{} has no standard twin", robust.name));
        let p = pack(robust.dataset.slug());
        let n = 500;
        let idx: Vec<usize> = (0..p.len()).step_by(p.len() / n).take(n).collect();
        let images: Vec<u8> = idx.iter().flat_map(|&i| p.pixels[i * 784..(i + 1) * 784].to_vec()).collect();
        let labels: Vec<u8> = idx.iter().map(|&i| p.labels[i]).collect();
        let attack = robust.robust_attack.clone().expect("robust attack recorded");
        let score = |e: &ModelEntry| {
            let (spec, w) = load(e);
            pollster::block_on(pgd::robust_accuracy(&spec, &w, &Device::flex(), &images, &labels, &attack, 0)).unwrap()
        };
        let (r, t) = (score(robust), score(twin));
        eprintln!("PGD eps {}: {} {:.1}%, {} {:.1}%", attack.eps, robust.name, r * 100.0, twin.name, t * 100.0);
        assert!(r >= t + 0.2, "{} ({:.1}%) should beat {} ({:.1}%) by 20 points under PGD", robust.name, r * 100.0, twin.name, t * 100.0);
        assert!((r - robust.robust_accuracy.unwrap()).abs() <= 0.05, "{}: {:.1}% on the pack vs {:.1}% recorded", robust.name, r * 100.0, robust.robust_accuracy.unwrap() * 100.0);
    }
}

#[test]
fn attack_reaches_every_target_from_black_gray_and_noise() {
    let entry = default_model();
    let (spec, weights) = load(&entry);
    let cfg = AttackConfig::default();
    for input in [ControlledInput::Black, ControlledInput::Gray, ControlledInput::Noise { seed: 0 }] {
        let (starts, targets) = every_target(&input.pixels(None).unwrap());
        let job = Evolution::new(&spec, &weights, &Device::flex(), &starts, &targets, cfg.clone()).unwrap();
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
    let out = pollster::block_on(Evolution::new(&spec, &weights, &device, &starts, &targets, cfg.clone()).unwrap().run()).unwrap();
    let most = out.iter().map(|o| o.steps).max().unwrap();
    assert!(most < cfg.max_steps, "every sample should stop early");
    for o in &out {
        assert!(o.confidence >= 0.8, "stopped below kappa: {o:?}");
    }
    // One step fewer, without stopping: every sample that moved is still below kappa, so the
    // early stop happened at the first crossing and not later.
    for o in out.iter().filter(|o| o.steps > 0) {
        let short = AttackConfig { max_steps: o.steps - 1, early_stop: false, ..cfg.clone() };
        let job = Evolution::new(&spec, &weights, &device, &starts[..1], &[o.target], short).unwrap();
        let before = pollster::block_on(job.run()).unwrap();
        assert!(before[0].confidence < 0.8, "target {} was already at {:.3} one step earlier", o.target, before[0].confidence);
    }
    // A higher kappa needs at least as many steps.
    let strict = AttackConfig { kappa: 0.99, ..cfg };
    let out99 = pollster::block_on(Evolution::new(&spec, &weights, &device, &starts, &targets, strict).unwrap().run()).unwrap();
    for (a, b) in out.iter().zip(&out99) {
        assert!(b.steps >= a.steps);
    }
    assert!(out99.iter().zip(&out).any(|(b, a)| b.steps > a.steps));
}
