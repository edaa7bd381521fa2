//! The suite's definitions on small networks with known answers (the comparisons that need a
//! trained network are in `tests/suite.rs`).

use super::*;
use dough_core::attack::StepNorm;
use dough_core::rng::SeededRng;
use dough_core::suite::AttackMethod;
use dough_core::weights::HostTensor;

fn run(spec: &ArchSpec, w: &Weights, starts: &[Vec<f32>], goals: &[Goal], method: AttackMethod, p: &SuiteParams) -> Vec<SampleOutcome> {
    let cfg = AttackConfig { method, suite: p.clone(), ..AttackConfig::default() };
    let job = Attack::new(spec, w, &Device::flex(), starts, goals, &cfg).unwrap();
    pollster::block_on(job.run()).unwrap()
}

fn noise_starts(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = SeededRng::new(seed);
    (0..n).map(|_| (0..PIXELS).map(|_| rng.next_f32()).collect()).collect()
}

fn all_targets(n: usize) -> Vec<Goal> {
    (0..n).map(|i| Goal::Toward(i % CLASSES)).collect()
}

#[test]
fn fgsm_moves_every_pixel_by_exactly_eps() {
    let spec = ArchSpec::Mlp { hidden: vec![32] };
    let w = spec.init_weights(4);
    let starts = vec![vec![0.5; PIXELS]; 10];
    let p = SuiteParams { eps: 0.1, ..SuiteParams::default() };
    for o in run(&spec, &w, &starts, &all_targets(10), AttackMethod::Fgsm, &p) {
        assert_eq!(o.steps, 1);
        assert_eq!(o.l0, PIXELS, "every pixel moves");
        for (a, s) in o.adversarial.iter().zip(&o.start) {
            assert!(((a - s).abs() - 0.1).abs() < 1e-6, "moved {} instead of eps", (a - s).abs());
        }
    }
}

#[test]
fn bim_and_pgd_stay_in_the_ball_and_in_the_unit_box() {
    let spec = ArchSpec::Mlp { hidden: vec![32] };
    let w = spec.init_weights(5);
    let starts = noise_starts(10, 1);
    let goals = all_targets(10);
    let linf = SuiteParams { eps: 0.05, alpha: 0.02, iters: 8, ..SuiteParams::default() };
    let l2 = SuiteParams { eps: 1.0, alpha: 0.4, iters: 8, pgd_norm: StepNorm::L2, restarts: 2, ..SuiteParams::default() };
    for (method, p) in [(AttackMethod::Bim, &linf), (AttackMethod::Pgd, &linf), (AttackMethod::Pgd, &l2)] {
        let out = run(&spec, &w, &starts, &goals, method, p);
        let mut used = 0.0f32;
        for o in &out {
            assert!(o.adversarial.iter().all(|v| (0.0..=1.0).contains(v)), "{method:?} left [0, 1]");
            let size = if p.pgd_norm == StepNorm::L2 && method == AttackMethod::Pgd { o.l2 } else { o.linf };
            assert!(size <= p.eps + 1e-5, "{method:?} left the ball: {size} > {}", p.eps);
            used = used.max(size);
        }
        assert!(used > 0.9 * p.eps, "{method:?} should use the ball, reached {used}");
    }
}

#[test]
fn pgd_depends_on_its_seed_and_only_on_it() {
    let spec = ArchSpec::Mlp { hidden: vec![16] };
    let w = spec.init_weights(6);
    let starts = noise_starts(4, 2);
    let goals = all_targets(4);
    let p = SuiteParams { eps: 0.1, alpha: 0.01, iters: 3, seed: 1, ..SuiteParams::default() };
    let a = run(&spec, &w, &starts, &goals, AttackMethod::Pgd, &p);
    let b = run(&spec, &w, &starts, &goals, AttackMethod::Pgd, &p);
    let c = run(&spec, &w, &starts, &goals, AttackMethod::Pgd, &SuiteParams { seed: 2, ..p.clone() });
    let bim = run(&spec, &w, &starts, &goals, AttackMethod::Bim, &p);
    assert_eq!(a, b, "same seed, same result");
    assert_ne!(a[0].adversarial, c[0].adversarial, "another seed, another start");
    assert_ne!(a[0].adversarial, bim[0].adversarial, "PGD starts at a random point, BIM at the start");
    let bim2 = run(&spec, &w, &starts, &goals, AttackMethod::Bim, &SuiteParams { seed: 2, ..p });
    assert_eq!(bim, bim2, "BIM has no randomness");
}

/// The largest difference between two sets of rows' adversarial images; the rows must reach and
/// predict alike.
fn largest_difference(a: &[SampleOutcome], b: &[SampleOutcome]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            assert_eq!((x.reached, x.predicted), (y.reached, y.predicted));
            x.adversarial.iter().zip(&y.adversarial).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max)
        })
        .fold(0.0, f32::max)
}

/// A row's PGD result does not depend on the rows beside it: the page's pool cuts a batch into
/// slices, and the drivers into pieces, and each must give the rows of the whole batch (up to
/// the float rounding of a matmul of another batch size; a random start drawn for the batch
/// would differ by the ball's radius).
#[test]
fn a_pgd_row_is_the_same_alone_or_in_a_batch() {
    let spec = ArchSpec::Mlp { hidden: vec![16] };
    let w = spec.init_weights(8);
    let starts = noise_starts(5, 4);
    let goals = all_targets(5);
    for norm in [StepNorm::Linf, StepNorm::L2] {
        let p = SuiteParams { eps: 0.3, alpha: 0.05, iters: 4, restarts: 2, seed: 3, pgd_norm: norm, ..SuiteParams::default() };
        let whole = run(&spec, &w, &starts, &goals, AttackMethod::Pgd, &p);
        for i in [0, 2, 4] {
            let alone = run(&spec, &w, &starts[i..i + 1], &goals[i..i + 1], AttackMethod::Pgd, &p);
            let d = largest_difference(&alone, &whole[i..i + 1]);
            assert!(d < 1e-4, "{norm:?}: row {i} alone differs from row {i} of the batch by {d}");
        }
        let tail = run(&spec, &w, &starts[2..], &goals[2..], AttackMethod::Pgd, &p);
        let d = largest_difference(&tail, &whole[2..]);
        assert!(d < 1e-4, "{norm:?}: the batch's last three rows as a slice differ by {d}");
    }
}

#[test]
fn pgd_is_bim_from_pgds_random_start() {
    // With eps = 1 the ball holds all of [0, 1], so projecting around the start image or around
    // PGD's random point is the same clamp: PGD from seed s must then be exactly BIM run from
    // the random point that seed s draws, step for step.
    let spec = ArchSpec::Mlp { hidden: vec![16] };
    let w = spec.init_weights(7);
    let starts = noise_starts(6, 3);
    let goals = all_targets(6);
    for seed in [1, 9] {
        let p = SuiteParams { eps: 1.0, alpha: 0.03, iters: 6, seed, ..SuiteParams::default() };
        let pgd = run(&spec, &w, &starts, &goals, AttackMethod::Pgd, &p);
        let flat: Vec<f32> = starts.concat();
        let point = super::projected::ball_point(seed, 0, StepNorm::Linf, p.eps, &flat, &goals);
        let from: Vec<Vec<f32>> = point.chunks(PIXELS).map(|c| c.to_vec()).collect();
        assert_ne!(from, starts, "the random start moves the images");
        let bim = run(&spec, &w, &from, &goals, AttackMethod::Bim, &p);
        for (a, b) in pgd.iter().zip(&bim) {
            assert_eq!(a.adversarial, b.adversarial, "seed {seed}: PGD and BIM from PGD's start differ");
            assert_eq!(a.predicted, b.predicted);
        }
    }
}

/// A one-layer (linear) classifier where only classes 0 and 1 matter: the others have a bias
/// far below.
fn linear_two_class() -> (ArchSpec, Weights, Vec<f32>, Vec<f32>) {
    let spec = ArchSpec::Mlp { hidden: vec![] };
    let mut rng = SeededRng::new(9);
    let wt: Vec<f32> = (0..CLASSES * PIXELS).map(|_| 0.01 * rng.normal()).collect();
    let mut bias = vec![-100.0f32; CLASSES];
    bias[0] = 1.0;
    bias[1] = 0.0;
    let mut w = Weights::default();
    w.insert("fc0.weight", HostTensor::new(vec![CLASSES, PIXELS], wt.clone()));
    w.insert("fc0.bias", HostTensor::new(vec![CLASSES], bias.clone()));
    (spec, w, wt, bias)
}

#[test]
fn deepfool_on_a_linear_classifier_is_the_closed_form_in_one_iteration() {
    let (spec, w, wt, bias) = linear_two_class();
    let x0 = vec![0.5f32; PIXELS];
    let z = |x: &[f32], c: usize| -> f32 { wt[c * PIXELS..(c + 1) * PIXELS].iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + bias[c] };
    assert!(z(&x0, 0) > z(&x0, 1), "class 0 wins at the start");
    let dir: Vec<f32> = (0..PIXELS).map(|p| wt[PIXELS + p] - wt[p]).collect();
    let f = z(&x0, 1) - z(&x0, 0);
    let r = deepfool::Deepfool::boundary_step(f, &dir);
    let onto: Vec<f32> = x0.iter().zip(&r).map(|(x, r)| x + r).collect();
    assert!((z(&onto, 1) - z(&onto, 0) - 1e-4).abs() < 1e-4, "the step lands on the boundary (plus the nudge)");
    let p = SuiteParams { overshoot: 0.02, iters: 50, ..SuiteParams::default() };
    for goal in [Goal::Toward(1), Goal::AwayFrom(0)] {
        let o = &run(&spec, &w, std::slice::from_ref(&x0), &[goal], AttackMethod::Deepfool, &p)[0];
        assert_eq!(o.steps, 1, "{goal:?}: one iteration");
        assert!(o.reached && o.predicted == 1, "{goal:?}");
        assert!(o.adversarial.iter().all(|v| *v > 0.0 && *v < 1.0), "no clamping in this case");
        let err = o.adversarial.iter().zip(&x0).zip(&r).map(|((a, x), r)| (a - x - 1.02 * r).abs()).fold(0.0, f32::max);
        assert!(err < 1e-5, "{goal:?}: perturbation differs from (1 + overshoot) x the closed form by {err}");
    }
}

#[test]
fn jsma_changes_at_most_gamma_of_the_pixels() {
    let spec = ArchSpec::Mlp { hidden: vec![32] };
    let w = spec.init_weights(7);
    let starts = vec![vec![0.0; PIXELS]; 10];
    for (gamma, theta) in [(0.02f32, 1.0f32), (0.05, 0.5)] {
        let p = SuiteParams { jsma_gamma: gamma, jsma_theta: theta, ..SuiteParams::default() };
        let budget = (gamma * PIXELS as f32).floor() as usize;
        for o in run(&spec, &w, &starts, &all_targets(10), AttackMethod::Jsma, &p) {
            assert!(o.l0 <= budget, "changed {} pixels, budget {budget}", o.l0);
            assert!(o.l0 % 2 == 0 && o.l0 == 2 * o.steps, "pixels change in pairs");
            assert!(o.adversarial.iter().all(|&v| v == 0.0 || (v - theta).abs() < 1e-6), "each pixel moves by theta once");
        }
    }
    // Lowering pixels from white.
    let p = SuiteParams { jsma_gamma: 0.05, jsma_theta: -1.0, ..SuiteParams::default() };
    let white = vec![vec![1.0; PIXELS]; 10];
    let out = run(&spec, &w, &white, &all_targets(10), AttackMethod::Jsma, &p);
    assert!(out.iter().any(|o| o.l0 > 0));
    assert!(out.iter().all(|o| o.adversarial.iter().all(|&v| v == 1.0 || v == 0.0)));
}

#[test]
fn jsma_best_pair_follows_the_saliency_map() {
    let mut a = vec![0.0f32; PIXELS];
    let mut b = vec![0.0f32; PIXELS];
    // Pair (3, 7): alpha 2, beta -2 (score 4); pair (3, 9): alpha 1.5, beta -3 (score 4.5).
    a[3] = 1.0;
    a[7] = 1.0;
    a[9] = 0.5;
    b[3] = -1.0;
    b[7] = -1.0;
    b[9] = -2.0;
    let mut domain = vec![true; PIXELS];
    assert_eq!(jsma::Jsma::best_pair(&a, &b, &domain, 1.0), Some((3, 9)));
    domain[9] = false;
    assert_eq!(jsma::Jsma::best_pair(&a, &b, &domain, 1.0), Some((3, 7)));
    assert_eq!(jsma::Jsma::best_pair(&a, &b, &domain, -1.0), None, "lowering needs alpha < 0 < beta");
}

#[test]
fn cw_margin_and_success_are_consistent() {
    let spec = ArchSpec::Mlp { hidden: vec![32] };
    let w = spec.init_weights(8);
    let starts = noise_starts(10, 3);
    let p = SuiteParams { cw_search: 3, iters: 30, cw_lr: 0.05, ..SuiteParams::default() };
    let out = run(&spec, &w, &starts, &all_targets(10), AttackMethod::Cw, &p);
    assert!(out.iter().filter(|o| o.reached).count() >= 5, "C&W reaches most targets of a random network");
    for o in &out {
        assert_eq!(o.reached, o.predicted == o.target, "reached means the network predicts the target");
        assert!(o.adversarial.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    let row = [0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    assert_eq!(cw::margin(&row, Goal::Toward(2), 0.0), (1.0, 1, 2));
    assert_eq!(cw::margin(&row, Goal::Toward(1), 0.5), (-0.5, 2, 1), "clipped at -k");
    assert_eq!(cw::margin(&row, Goal::AwayFrom(1), 0.0), (1.0, 1, 2));
}

#[test]
fn untargeted_evolution_moves_away_from_the_label() {
    let spec = ArchSpec::Mlp { hidden: vec![32] };
    let w = spec.init_weights(10);
    let starts = noise_starts(5, 4);
    let net = Net::on(&Network::new(&spec, &w, &Device::flex()).unwrap());
    let flat: Vec<f32> = starts.iter().flatten().copied().collect();
    let logits = pollster::block_on(net.logits(&flat)).unwrap();
    let goals: Vec<Goal> = (0..5).map(|i| Goal::AwayFrom(argmax(&logits[i * CLASSES..(i + 1) * CLASSES]))).collect();
    let cfg = AttackConfig { kappa: 0.6, step_size: 0.05, max_steps: 400, ..AttackConfig::default() };
    let job = Attack::new(&spec, &w, &Device::flex(), &starts, &goals, &cfg).unwrap();
    for (o, g) in pollster::block_on(job.run()).unwrap().iter().zip(&goals) {
        assert!(o.away && o.reached, "{o:?}");
        assert_ne!(o.predicted, g.class());
        assert!(o.confidence >= 0.6);
    }
}

#[test]
fn every_method_rejects_bad_inputs_and_settings() {
    let spec = ArchSpec::Mlp { hidden: vec![8] };
    let w = spec.init_weights(0);
    let d = Device::flex();
    for method in AttackMethod::ALL {
        let cfg = AttackConfig { method, ..AttackConfig::default() };
        let short = Attack::new(&spec, &w, &d, &[vec![0.0; 3]], &[Goal::Toward(1)], &cfg);
        assert!(matches!(short, Err(ComputeError::BadInput { .. })), "{method:?}");
        let far = Attack::new(&spec, &w, &d, &[vec![0.0; PIXELS]], &[Goal::Toward(12)], &cfg);
        assert!(matches!(far, Err(ComputeError::BadTarget(12))), "{method:?}");
    }
    let ok = SuiteParams::default();
    let nan = AttackConfig { method: AttackMethod::Fgsm, suite: SuiteParams { eps: f32::NAN, ..ok.clone() }, ..AttackConfig::default() };
    assert!(matches!(Attack::new(&spec, &w, &d, &[vec![0.0; PIXELS]], &[Goal::Toward(1)], &nan), Err(ComputeError::BadConfig(_))));
    let zero = AttackConfig { method: AttackMethod::Jsma, suite: SuiteParams { jsma_theta: 0.0, ..ok }, ..AttackConfig::default() };
    assert!(matches!(Attack::new(&spec, &w, &d, &[vec![0.0; PIXELS]], &[Goal::Toward(1)], &zero), Err(ComputeError::BadConfig(_))));
}
