//! Compare mode natively, through the page's driver: mnist-mlp against mnist-mlp-robust from the
//! page's default gallery (black input, seed 0, the default attack and abstraction). B's own run
//! is B's gallery, the driver cut into pieces gives the same runs, and the numbers the page must
//! reproduce are written to target/compare-native.json (tests/browser.test.mjs compares them).

use std::path::PathBuf;

use dough_compute::Device;
use dough_compute::local::Local;
use dough_compute::network::Network;
use dough_compute::suite::{Goal, Attack};
use dough_core::attack::every_target;
use dough_core::compare::{agreement, pattern_pair};
use dough_core::drive::compare::{Named, own_run, published, readings};
use dough_core::manifest;
use dough_core::settings::Settings;
use dough_core::study::pipeline;
use dough_core::weights::Weights;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn network(name: &str) -> Network {
    let entries = manifest::parse(&std::fs::read_to_string(root().join("public/models/manifest.json")).unwrap()).unwrap();
    let e = entries.iter().find(|e| e.name == name).unwrap();
    let bytes = std::fs::read(root().join("public/models").join(&e.file)).unwrap();
    e.verify(&bytes).unwrap();
    Network::new(&e.arch_spec().unwrap(), &Weights::from_safetensors(&bytes).unwrap(), &Device::flex()).unwrap()
}

#[test]
fn compare_mode_of_the_standard_and_robust_mlps_is_recorded_for_the_page() {
    let (net_a, net_b) = (network("mnist-mlp"), network("mnist-mlp-robust"));
    let s = Settings::default();
    let cfg = s.attack_config();
    let (starts, targets) = every_target(&s.controlled_input().pixels(None).unwrap());
    let goals: Vec<Goal> = targets.iter().map(|&t| Goal::Toward(t)).collect();
    let gallery = |net: &Network| pollster::block_on(Attack::on(net, &starts, &goals, &cfg).unwrap().run()).unwrap();
    let a_rows = gallery(&net_a);
    let (a, b) = (Named { name: "mnist-mlp", model: &net_a }, Named { name: "mnist-mlp-robust", model: &net_b });
    let forward = pollster::block_on(readings(&Local::new(), &b, &a_rows, &|| false)).unwrap().unwrap();
    let own = pollster::block_on(own_run(&Local::new(), &a, &b, &a_rows, &cfg, s.seed, &|_| {}, &|| false)).unwrap().unwrap();
    assert!(own.notes.is_empty(), "{:?}", own.notes);
    assert_eq!(own.rows, gallery(&net_b), "B's own run is B's gallery from A's start");
    let twin = net_b.untrained(pipeline::untrained_seed(s.seed)).unwrap();
    assert_eq!(own.untrained.as_deref(), Some(&gallery(&twin)[..]));
    let cut = pollster::block_on(own_run(&Local::with_lanes(2), &a, &b, &a_rows, &cfg, s.seed, &|_| {}, &|| false)).unwrap().unwrap();
    assert_eq!(cut, own, "two lanes, the same runs");
    let reverse = own.reverse.clone().unwrap();
    // The standard MLP's examples fool the robust one less than the robust one's fool it.
    eprintln!("robust fooled by {} of 10; standard fooled by {} of 10", agreement(&forward.rows), agreement(&reverse.rows));
    assert!(agreement(&forward.rows) <= agreement(&reverse.rows), "forward {:?} reverse {:?}", forward.rows, reverse.rows);
    let pair = pattern_pair(&a_rows, &own.rows, own.untrained.as_deref(), &s.abstraction, s.seed).unwrap();
    assert!(pair.untrained_null.is_some());
    let out = root().join("target/compare-native.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, published("mnist-mlp", "mnist-mlp-robust", &pair, Some(&forward), Some(&reverse)).to_string()).unwrap();
}
