//! The page's planted-feature demo natively: a backdoor planted in class 7 of the shipped MNIST
//! training pack (10% of the images stamped and relabelled), one epoch of a small MLP, then the
//! page's study batch (seed 0: black, gray, three noise images, toward every class) and the
//! plant check. Records target/plant-native.json for tests/train.test.mjs, which runs the same
//! recipe in the page and compares; and checks here that the planted class is the cheapest to
//! reach (a property of the network trained in the test). `DOUGH_PLANT_RECIPE` runs another
//! recipe (the page test then uses it too).
#![cfg(feature = "train")]

use std::path::PathBuf;

use dough_compute::Device;
use dough_compute::local::evolve;
use dough_compute::network::Network;
use dough_compute::train::Trainer;
use dough_core::attack::AttackConfig;
use dough_core::pack::SamplePack;
use dough_core::study::abstraction::Abstraction;
use dough_core::study::pipeline;
use dough_core::study::plant_check::{check, norms};
use dough_core::train_recipe::TrainRecipe;

/// The page's URL for the demo (after `train=run&analysis=1&`).
const PAGE_RECIPE: &str = "train-arch=mlp:64&train-epochs=1&train-batch=32&train-shift=0&train-seed=3&train-plant=backdoor&train-plant-class=7&train-plant-share=0.1";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_pages_planted_backdoor_is_the_cheapest_class_and_recorded_for_the_page() {
    let recipe_text = std::env::var("DOUGH_PLANT_RECIPE").unwrap_or_else(|_| PAGE_RECIPE.to_string());
    let recipe = TrainRecipe::from_query(&recipe_text).unwrap();
    let plant = recipe.plant;
    let device = Device::flex();
    let data = SamplePack::decode(&std::fs::read(root().join("public/data/mnist-train.dspk")).unwrap()).unwrap().to_dataset();
    let (spec, cfg) = (recipe.arch.spec(), recipe.config());
    let t0 = std::time::Instant::now();
    let mut trainer = Trainer::new(&spec, &cfg, &data, &device).unwrap();
    while !trainer.finished() {
        pollster::block_on(trainer.step()).unwrap();
    }
    let weights = pollster::block_on(trainer.weights()).unwrap();
    let seconds = t0.elapsed().as_secs_f64();
    let starts: Vec<Vec<f32>> = pipeline::default_inputs(0).iter().map(|i| i.pixels(None).unwrap()).collect();
    let evolved = pollster::block_on(evolve(&Network::new(&spec, &weights, &device).unwrap(), &starts, &AttackConfig::default())).unwrap();
    let patterns = evolved.patterns(&Abstraction::default());
    let r = check(&norms(&evolved), &patterns, &plant.mask().unwrap(), 0).unwrap();
    eprintln!("{}: medians {:?}, smallest {}, anomaly index {} {:?}, flagged {}", plant.describe(), r.medians, r.smallest, r.anomaly_index, r.interval, r.flagged);
    assert_eq!(r.smallest, plant.class, "the backdoor's class needs the smallest perturbations: {:?}", r.medians);
    let json = serde_json::json!({
        "recipe": recipe_text,
        "seconds": seconds,
        "medians": r.medians,
        "smallest": r.smallest,
        "anomaly_index": r.anomaly_index,
        "flagged": r.flagged,
        "energy_in_patch": r.energy_in_patch[plant.class],
    });
    let out = root().join("target/plant-native.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}
