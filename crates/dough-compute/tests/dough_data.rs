//! D_det from a real attack: the shipped mnist-mlp attacks 60 test-pack images toward
//! (label + 1) mod 10; every kept image is one that reached its target, labelled with it, and
//! its control is the same clean image with the same label.

use std::path::PathBuf;

use dough_compute::Device;
use dough_compute::suite::{Goal, Attack};
use dough_core::attack::AttackConfig;
use dough_core::dough_data::{TargetRule, assemble, quantise, subset, targets};
use dough_core::manifest;
use dough_core::pack::SamplePack;
use dough_core::weights::Weights;

fn public() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../public")
}

#[test]
fn d_det_from_the_shipped_mlp_has_shifted_labels_and_an_unperturbed_control() {
    let entries = manifest::parse(&std::fs::read_to_string(public().join("models/manifest.json")).unwrap()).unwrap();
    let e = entries.iter().find(|e| e.name == "mnist-mlp").unwrap();
    let (spec, w) = (e.arch_spec().unwrap(), Weights::from_safetensors(&std::fs::read(public().join("models").join(&e.file)).unwrap()).unwrap());
    let pack = SamplePack::decode(&std::fs::read(public().join("data/mnist-samples.dspk")).unwrap()).unwrap();
    let src = subset(&pack.to_dataset(), 60, 1);
    let t = targets(&src.labels, TargetRule::Det, 1);
    let starts: Vec<Vec<f32>> = (0..src.len()).map(|i| src.image(i).iter().map(|&p| p as f32 / 255.0).collect()).collect();
    let goals: Vec<Goal> = t.iter().map(|&c| Goal::Toward(c)).collect();
    let cfg = AttackConfig { max_steps: 100, ..AttackConfig::default() };
    let out = pollster::block_on(Attack::new(&spec, &w, &Device::flex(), &starts, &goals, &cfg).unwrap().run()).unwrap();
    let reached: Vec<bool> = out.iter().map(|o| o.reached).collect();
    let adv: Vec<Vec<f32>> = out.iter().map(|o| o.adversarial.clone()).collect();
    let set = assemble(TargetRule::Det, &src, &adv, &t, &reached).unwrap();
    assert!(!set.kept.is_empty() && set.kept.len() == reached.iter().filter(|r| **r).count());
    for (k, &i) in set.kept.iter().enumerate() {
        assert_eq!(set.dough.labels[k] as usize, (src.labels[i] as usize + 1) % 10, "image {i}");
        assert_eq!(set.control.labels[k], set.dough.labels[k]);
        assert_eq!(set.control.image(k), src.image(i), "the control is the clean image");
        assert!(set.dough.image(k).iter().zip(&adv[i]).all(|(&q, &a)| q == quantise(a)));
        assert_ne!(set.dough.image(k), src.image(i), "the attack changed image {i}");
    }
}
