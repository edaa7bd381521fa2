//! The attack suite on the shipped `mnist-mlp` and real test images: the minimal-norm methods
//! against each other and against FGSM, and every "reached" checked by an independent forward
//! pass.

use std::path::PathBuf;

use dough_compute::Device;
use dough_compute::eval;
use dough_compute::suite::{Goal, Attack};
use dough_core::attack::{AttackConfig, SampleOutcome};
use dough_core::manifest;
use dough_core::model::ArchSpec;
use dough_core::pack::SamplePack;
use dough_core::suite::{AttackMethod, SuiteParams};
use dough_core::weights::Weights;

fn public() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../public")
}

fn mnist_mlp() -> (ArchSpec, Weights) {
    let json = std::fs::read_to_string(public().join("models/manifest.json")).unwrap();
    let entry = manifest::parse(&json).unwrap().into_iter().find(|e| e.name == "mnist-mlp").unwrap();
    let bytes = std::fs::read(public().join("models").join(&entry.file)).unwrap();
    (entry.arch_spec().unwrap(), Weights::from_safetensors(&bytes).unwrap())
}

/// The first test image of each class in the sample pack, with its label.
fn one_per_class() -> (Vec<Vec<f32>>, Vec<usize>) {
    let bytes = std::fs::read(public().join("data/mnist-samples.dspk")).unwrap();
    let pack = SamplePack::decode(&bytes).unwrap();
    (0..10u8).map(|c| (pack.image_f32(pack.indices_of(c)[0]), c as usize)).unzip()
}

fn run(spec: &ArchSpec, w: &Weights, starts: &[Vec<f32>], goals: &[Goal], method: AttackMethod, p: &SuiteParams) -> Vec<SampleOutcome> {
    let cfg = AttackConfig { method, suite: p.clone(), ..AttackConfig::default() };
    let job = Attack::new(spec, w, &Device::flex(), starts, goals, &cfg).unwrap();
    pollster::block_on(job.run()).unwrap()
}

/// Every outcome that says "reached" is classified as it claims by a plain forward pass.
fn check_reached(spec: &ArchSpec, w: &Weights, out: &[SampleOutcome], method: AttackMethod) {
    for o in out {
        let p = pollster::block_on(eval::probabilities(spec, w, &Device::flex(), &o.adversarial)).unwrap();
        let predicted = (0..10).fold(0, |b, c| if p[c] > p[b] { c } else { b });
        assert_eq!(predicted, o.predicted, "{method:?}: the outcome's prediction");
        let met = if o.away { predicted != o.target } else { predicted == o.target };
        assert_eq!(met, o.reached, "{method:?}: reached must mean the goal is met");
    }
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

#[test]
fn cw_finds_smaller_perturbations_than_fgsm_for_the_same_targets() {
    let (spec, w) = mnist_mlp();
    let (starts, labels) = one_per_class();
    let goals: Vec<Goal> = labels.iter().map(|&l| Goal::Toward((l + 1) % 10)).collect();
    let fgsm = run(&spec, &w, &starts, &goals, AttackMethod::Fgsm, &SuiteParams { eps: 0.3, ..SuiteParams::default() });
    let cw = run(&spec, &w, &starts, &goals, AttackMethod::Cw, &SuiteParams { cw_search: 5, iters: 100, cw_lr: 0.05, ..SuiteParams::default() });
    check_reached(&spec, &w, &fgsm, AttackMethod::Fgsm);
    check_reached(&spec, &w, &cw, AttackMethod::Cw);
    assert!(cw.iter().filter(|o| o.reached).count() >= 9, "C&W reaches the targets");
    let mut both = 0;
    for (f, c) in fgsm.iter().zip(&cw) {
        if f.reached && c.reached {
            both += 1;
            assert!(c.l2 < f.l2, "target {}: C&W L2 {} >= FGSM L2 {}", c.target, c.l2, f.l2);
        }
    }
    eprintln!("C&W vs FGSM compared on {both} targets both reached");
    assert!(both >= 1, "FGSM at eps 0.3 reaches some targets");
}

#[test]
fn ddn_is_within_ten_percent_of_cw_and_deepfool_is_minimal_too() {
    let (spec, w) = mnist_mlp();
    let (starts, labels) = one_per_class();
    let goals: Vec<Goal> = labels.iter().map(|&l| Goal::AwayFrom(l)).collect();
    let cw = run(&spec, &w, &starts, &goals, AttackMethod::Cw, &SuiteParams { cw_search: 6, iters: 150, cw_lr: 0.05, ..SuiteParams::default() });
    let ddn = run(&spec, &w, &starts, &goals, AttackMethod::Ddn, &SuiteParams { iters: 150, ..SuiteParams::default() });
    let df = run(&spec, &w, &starts, &goals, AttackMethod::Deepfool, &SuiteParams::default());
    for (m, out) in [(AttackMethod::Cw, &cw), (AttackMethod::Ddn, &ddn), (AttackMethod::Deepfool, &df)] {
        check_reached(&spec, &w, out, m);
        assert!(out.iter().all(|o| o.reached), "{m:?} succeeds untargeted on every image");
    }
    let med = |o: &[SampleOutcome]| median(o.iter().map(|o| o.l2).collect());
    let (m_cw, m_ddn, m_df) = (med(&cw), med(&ddn), med(&df));
    eprintln!("median L2: C&W {m_cw:.3}, DDN {m_ddn:.3}, DeepFool {m_df:.3}");
    assert!(m_ddn <= 1.1 * m_cw, "DDN median L2 {m_ddn} > 1.1 x C&W's {m_cw}");
    // FGSM's L-inf ball of 0.3 has an L2 radius of 8.4: the minimal methods are far below it.
    assert!(m_df < 3.0 && m_cw < 3.0, "minimal-norm methods should find small perturbations");
}

#[test]
fn jsma_and_bim_reach_targets_on_real_images() {
    let (spec, w) = mnist_mlp();
    let (starts, labels) = one_per_class();
    let goals: Vec<Goal> = labels.iter().map(|&l| Goal::Toward((l + 3) % 10)).collect();
    let jsma = run(&spec, &w, &starts, &goals, AttackMethod::Jsma, &SuiteParams { jsma_gamma: 0.1, ..SuiteParams::default() });
    let bim = run(&spec, &w, &starts, &goals, AttackMethod::Bim, &SuiteParams { eps: 0.2, alpha: 0.01, iters: 40, ..SuiteParams::default() });
    check_reached(&spec, &w, &jsma, AttackMethod::Jsma);
    check_reached(&spec, &w, &bim, AttackMethod::Bim);
    assert!(jsma.iter().filter(|o| o.reached).count() >= 7, "JSMA with 78 pixels reaches most targets");
    assert!(jsma.iter().all(|o| o.l0 <= 78));
    assert!(bim.iter().filter(|o| o.reached).count() >= 9, "BIM at eps 0.2 reaches the targets");
}
