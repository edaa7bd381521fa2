//! D_det from a real attack: the shipped mnist-mlp attacks 60 test-pack images toward
//! (label + 1) mod 10; every kept image is one that reached its target, labelled with it, and
//! its control is the same clean image with the same label. And D_det by targeted PGD in an L2
//! ball, as Ilyas et al. built theirs.

use std::path::PathBuf;

use dough_compute::Device;
use dough_compute::suite::{Goal, Attack};
use dough_core::attack::AttackConfig;
use dough_core::dough_data::{TargetRule, assemble, quantise, subset, targets};
use dough_core::manifest;
use dough_core::model::ArchSpec;
use dough_core::pack::SamplePack;
use dough_core::weights::Weights;

fn public() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../public")
}

/// The shipped mnist-mlp and the MNIST sample pack.
fn shipped_mlp() -> (ArchSpec, Weights, SamplePack) {
    let entries = manifest::parse(&std::fs::read_to_string(public().join("models/manifest.json")).unwrap()).unwrap();
    let e = entries.iter().find(|e| e.name == "mnist-mlp").unwrap();
    let (spec, w) = (e.arch_spec().unwrap(), Weights::from_safetensors(&std::fs::read(public().join("models").join(&e.file)).unwrap()).unwrap());
    (spec, w, SamplePack::decode(&std::fs::read(public().join("data/mnist-samples.dspk")).unwrap()).unwrap())
}

#[test]
fn d_det_from_the_shipped_mlp_has_shifted_labels_and_an_unperturbed_control() {
    let (spec, w, pack) = shipped_mlp();
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

/// D_det as Ilyas et al. built theirs: targeted PGD in an L2 ball. `dough_set::build` (the CLI's
/// and the page's driver) keeps exactly the images whose adversarial the network puts in the
/// target class, every perturbation stays inside the ball, and the labels are the targets.
#[test]
fn pgd_l2_dough_keeps_exactly_the_images_that_reached_their_target_inside_the_ball() {
    use dough_compute::{dough_set, network::Network};
    use dough_core::attack::StepNorm;
    use dough_core::suite::{AttackMethod, SuiteParams};

    let (spec, w, pack) = shipped_mlp();
    let src = subset(&pack.to_dataset(), 80, 2);
    let eps = 1.5;
    let cfg = AttackConfig {
        method: AttackMethod::Pgd,
        suite: SuiteParams { pgd_norm: StepNorm::L2, eps, alpha: 0.1, iters: 40, seed: 5, ..SuiteParams::default() },
        ..AttackConfig::default()
    };
    let net = Network::new(&spec, &w, &Device::flex()).unwrap();
    let set = pollster::block_on(dough_set::build(&net, &src, TargetRule::Det, 5, &cfg, 32, |_, _, _| std::future::ready(true))).unwrap().unwrap();

    // The same attack run directly: which images reached their target, and where they ended.
    let t = targets(&src.labels, TargetRule::Det, 5);
    let starts: Vec<Vec<f32>> = (0..src.len()).map(|i| src.image(i).iter().map(|&p| p as f32 / 255.0).collect()).collect();
    let goals: Vec<Goal> = t.iter().map(|&c| Goal::Toward(c)).collect();
    let mut reached = Vec::new();
    for (s, g) in starts.chunks(32).zip(goals.chunks(32)) {
        for o in pollster::block_on(Attack::on(&net, s, g, &cfg).unwrap().run()).unwrap() {
            assert!(o.l2 <= eps + 1e-3, "PGD left the L2 ball: {} > {eps}", o.l2);
            assert_eq!(o.reached, o.predicted == o.target, "PGD reaches a target when the network's top class is it");
            reached.push(o.reached);
        }
    }
    let want: Vec<usize> = (0..src.len()).filter(|&i| reached[i]).collect();
    assert!(!want.is_empty() && want.len() < src.len(), "eps {eps} should reach some targets and miss others: {} of {}", want.len(), src.len());
    assert_eq!(set.kept, want, "the set keeps exactly the images that reached their target");
    // Quantising to 8 bits moves each pixel by at most half a level.
    let slack = (784f32).sqrt() * 0.5 / 255.0;
    for (k, &i) in set.kept.iter().enumerate() {
        assert_eq!(set.dough.labels[k] as usize, (src.labels[i] as usize + 1) % 10);
        let l2 = set.dough.image(k).iter().zip(src.image(i)).map(|(&a, &b)| ((a as f32 - b as f32) / 255.0).powi(2)).sum::<f32>().sqrt();
        assert!(l2 <= eps + slack, "image {i}: the stored perturbation's L2 {l2} is outside the ball");
    }
}
