//! Training one batch at a time: deterministic for a seed, and learning. The page's short recipe
//! (MLP 784-32-10, one epoch on the shipped MNIST training pack) is recorded in
//! target/train-native.json for tests/train.test.mjs, which checks the page against it.
#![cfg(feature = "train")]

use std::path::PathBuf;

use dough_compute::Device;
use dough_compute::eval;
use dough_compute::train::Trainer;
use dough_core::idx::Dataset;
use dough_core::manifest::ModelConfig;
use dough_core::model::ArchSpec;
use dough_core::pack::SamplePack;
use dough_core::train_recipe::TrainRecipe;
use dough_core::weights::Weights;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pack(name: &str) -> SamplePack {
    SamplePack::decode(&std::fs::read(root().join("public/data").join(name)).unwrap()).unwrap()
}

/// The page's short recipe as its URL gives it: tests/train.test.mjs opens the page with
/// `train=run&` and this (read back from target/train-native.json).
const PAGE_RECIPE: &str = "train-arch=mlp:32&train-epochs=1&train-batch=32&train-shift=0";

/// `PAGE_RECIPE` read by the page's own URL reader.
fn page_recipe() -> TrainRecipe {
    let mut r = TrainRecipe::default();
    let mut notices = Vec::new();
    for pair in PAGE_RECIPE.split('&') {
        let (k, v) = pair.split_once('=').unwrap();
        assert!(r.read(k, v, &mut notices), "{k} is a recipe key");
    }
    assert!(notices.is_empty(), "{notices:?}");
    r
}

/// Trains to the end; returns the weights and every loss read.
fn run(spec: &ArchSpec, cfg: &ModelConfig, data: &Dataset, device: &Device) -> (Weights, Vec<f32>) {
    let mut t = Trainer::new(spec, cfg, data, device).unwrap();
    let mut losses = Vec::new();
    while !t.finished() {
        let p = pollster::block_on(t.step()).unwrap();
        if !p.loss.is_nan() {
            losses.push(p.loss);
        }
    }
    (pollster::block_on(t.weights()).unwrap(), losses)
}

#[test]
fn stepwise_training_is_deterministic_and_lowers_the_loss() {
    let device = Device::flex();
    let train = pack("mnist-train.dspk");
    let mut slice = train.to_dataset();
    slice.labels.truncate(1200);
    slice.images.pixels.truncate(1200 * 784);
    slice.images.count = 1200;
    let spec = page_recipe().arch.spec();
    // 2 epochs of 10 batches: the loss is read at batch 1 and 10 of each epoch.
    let cfg = ModelConfig { schedule: "constant".into(), augmentation: "shift2".into(), epochs: 2, batch_size: 120, ..page_recipe().config() };
    let (a, losses) = run(&spec, &cfg, &slice, &device);
    let (b, _) = run(&spec, &cfg, &slice, &device);
    assert_eq!(a, b, "same seed, same weights");
    assert_eq!(losses.len(), 4);
    assert!(losses[3] < losses[0] * 0.7, "the loss falls: {losses:?}");
    assert_ne!(a, spec.init_weights(cfg.seed));
}

#[test]
fn the_pages_short_recipe_natively() {
    let device = Device::flex();
    let train = pack("mnist-train.dspk").to_dataset();
    let test = pack("mnist-samples.dspk");
    let recipe = page_recipe();
    let (spec, cfg) = (recipe.arch.spec(), recipe.config());
    assert_eq!(spec, ArchSpec::Mlp { hidden: vec![32] });
    let t0 = std::time::Instant::now();
    let (w, losses) = run(&spec, &cfg, &train, &device);
    let seconds = t0.elapsed().as_secs_f64();
    let acc = pollster::block_on(eval::accuracy(&spec, &w, &device, &test.pixels, &test.labels)).unwrap();
    assert!(acc > 0.85, "one epoch of MLP 784-32-10 on 20,000 images: {acc}");
    let stats: Vec<(String, f64, f64)> = w
        .tensors
        .iter()
        .map(|(name, t)| {
            let n = t.data.len() as f64;
            let mean = t.data.iter().map(|&v| v as f64).sum::<f64>() / n;
            let rms = (t.data.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / n).sqrt();
            (name.clone(), mean, rms)
        })
        .collect();
    let json = serde_json::json!({
        "recipe": PAGE_RECIPE,
        "test_accuracy": acc,
        "last_loss": losses.last(),
        "seconds": seconds,
        "weights": stats.iter().map(|(n, m, r)| serde_json::json!({"name": n, "mean": m, "rms": r})).collect::<Vec<_>>(),
    });
    let out = root().join("target/train-native.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    eprintln!("{json}");
}

/// The convolutional recipe is as deterministic as the MLP: the dough-data tables train fresh
/// LeNets with a seed and call the result reproducible.
#[test]
fn lenet_training_is_deterministic_for_a_seed() {
    let device = Device::flex();
    let mut slice = pack("mnist-train.dspk").to_dataset();
    slice.labels.truncate(256);
    slice.images.pixels.truncate(256 * 784);
    slice.images.count = 256;
    let m = dough_core::zoo::plan().into_iter().find(|m| m.name == "mnist-lenet").unwrap();
    let spec = m.spec();
    let cfg = ModelConfig { epochs: 1, batch_size: 64, seed: 7, ..m.config.clone() };
    let (a, _) = run(&spec, &cfg, &slice, &device);
    let (b, _) = run(&spec, &cfg, &slice, &device);
    assert_eq!(a, b, "same seed, same LeNet weights");
    assert_ne!(a, spec.init_weights(cfg.seed));
}
