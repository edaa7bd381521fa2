//! The study on the shipped default model: its patterns match the dataset better than the nulls,
//! and the numbers the app must reproduce (the wasm build is checked against them in
//! tests/browser.test.mjs) are written to target/study-native-mnist-mlp.json.

use std::path::PathBuf;

use dough_compute::Device;
use dough_compute::local::{Local, evolve};
use dough_compute::network::Network;
use dough_core::attack::AttackConfig;
use dough_core::drive::overview::{Net, overview, transfer_of};
use dough_core::drive::study::{StudyRun, statistics, study};
use dough_core::manifest;
use dough_core::study::abstraction::Abstraction;
use dough_core::study::overview::family;
use dough_core::study::pairs::{transfer_images, transfer_rate};
use dough_core::study::replicates::{PERMUTATIONS, Replicated, replicate_seeds};
use dough_core::study::pipeline::{self, Evolved};
use dough_core::study::templates::{TemplateKind, Templates};
use dough_core::weights::Weights;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn mnist_mlp_patterns_beat_their_nulls_and_the_native_numbers_are_recorded() {
    let entries = manifest::parse(&std::fs::read_to_string(root().join("public/models/manifest.json")).unwrap()).unwrap();
    let entry = entries.iter().find(|e| e.name == "mnist-mlp").unwrap();
    let bytes = std::fs::read(root().join("public/models").join(&entry.file)).unwrap();
    entry.verify(&bytes).unwrap();
    let (spec, weights) = (entry.arch_spec().unwrap(), Weights::from_safetensors(&bytes).unwrap());
    let templates = Templates::decode(&std::fs::read(root().join("public/data/mnist-templates.dtpl")).unwrap()).unwrap();
    assert_eq!(templates.dataset, "mnist");

    let seed = 0;
    let starts: Vec<Vec<f32>> = pipeline::default_inputs(seed).iter().map(|i| i.pixels(None).unwrap()).collect();
    let device = Device::flex();
    let net = Network::new(&spec, &weights, &device).unwrap();
    let cfg = AttackConfig::default();
    let evolved = pollster::block_on(evolve(&net, &starts, &cfg)).unwrap();
    let untrained = pollster::block_on(evolve(&net.untrained(pipeline::untrained_seed(seed)).unwrap(), &starts, &cfg)).unwrap();
    let abs = Abstraction::default();
    let r = pipeline::study(&evolved, Some(&untrained), &abs, templates.get(TemplateKind::Contrast), seed);
    // The study's driver gives these runs and this study.
    let runs = pollster::block_on(study(&Local::new(), &net, "mnist-mlp", &[seed], &cfg, true, &|_| {}, &|| false)).unwrap().unwrap();
    assert_eq!(runs, vec![StudyRun { seed, trained: evolved.per_input.concat(), untrained: untrained.per_input.concat() }]);
    let stats = statistics(&runs, &abs, templates.get(TemplateKind::Contrast), None).unwrap();
    assert_eq!(stats.result, r);
    assert!(stats.replicated.is_none() && stats.plant.is_some());
    let u = r.untrained_null.as_ref().unwrap();
    eprintln!(
        "mnist-mlp vs contrast: identification {} margin {:.3}; random null {} {:.3}; untrained null {} {:.3}",
        r.model.vs_dataset.identification,
        r.model.vs_dataset.margin,
        r.random_null.vs_dataset.identification,
        r.random_null.vs_dataset.margin,
        u.vs_dataset.identification,
        u.vs_dataset.margin
    );
    assert_eq!(r.model.reached, 1.0, "every sample reaches its target");
    assert!(r.model.vs_dataset.identification > r.random_null.vs_dataset.identification);
    assert!(r.model.vs_dataset.margin > r.random_null.vs_dataset.margin);
    assert!(r.p_values.model < 0.01, "identification beats relabelled classes: p = {}", r.p_values.model);
    assert!(r.p_values.random_null > r.p_values.model, "{:?}", r.p_values);

    // Transfer from this run: the model keeps (nearly) all of its own examples after 8-bit
    // quantisation, and the matrix agrees with predicting the quantised images directly.
    let robust = entries.iter().find(|e| e.name == "mnist-mlp-robust").unwrap();
    let rb = std::fs::read(root().join("public/models").join(&robust.file)).unwrap();
    let (rspec, rweights) = (robust.arch_spec().unwrap(), Weights::from_safetensors(&rb).unwrap());
    let robust_net = Network::new(&rspec, &rweights, &device).unwrap();
    let nets = [Net { name: "mnist-mlp", family: 0, model: &net }, Net { name: "mnist-mlp-robust", family: 0, model: &robust_net }];
    let m = pollster::block_on(transfer_of(&Local::new(), &nets, &[vec![&evolved], vec![&evolved]], &|_| {}, &|| false)).unwrap().unwrap().remove(0);
    assert!(m[0][0] >= 0.9, "own examples after quantisation: {}", m[0][0]);
    let (bytes, targets) = transfer_images(&evolved);
    let direct = pollster::block_on(dough_compute::eval::predict(&rspec, &rweights, &device, &bytes, 7)).unwrap();
    assert_eq!(m[0][1], transfer_rate(&direct, &targets));
    assert!(m[0][1] < m[0][0], "the robust model is fooled less: {m:?}");

    let out = root().join("target/study-native-mnist-mlp.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, serde_json::to_string(&r).unwrap()).unwrap();

    // Two seeds (the page's seeds=2): the scores with their intervals, for the browser test. The
    // driver cut into pieces as on a pool of three workers gives the same runs.
    let seeds = replicate_seeds(seed, 2);
    let runs = pollster::block_on(study(&Local::with_lanes(3), &net, "mnist-mlp", &seeds, &cfg, true, &|_| {}, &|| false)).unwrap().unwrap();
    let mut results = vec![r];
    for run in &runs[1..] {
        let (e, u) = (Evolved::from_outcomes(run.trained.clone()), Evolved::from_outcomes(run.untrained.clone()));
        results.push(pipeline::study(&e, Some(&u), &abs, templates.get(TemplateKind::Contrast), run.seed));
    }
    assert_eq!(results[0], statistics(&runs[..1], &abs, templates.get(TemplateKind::Contrast), None).unwrap().result, "three lanes, the same first seed");
    let rep = Replicated::new(&seeds, &results, PERMUTATIONS);
    assert_eq!(Some(&rep), statistics(&runs, &abs, templates.get(TemplateKind::Contrast), None).unwrap().replicated.as_ref());
    assert!(rep.model.identification.lo <= rep.model.identification.mean && rep.model.identification.mean <= rep.model.identification.hi);
    // Two seeds give wide t intervals (one degree of freedom); the pooled p-value is still decisive.
    assert!(rep.model.p_value < 0.01 && rep.model.margin.mean > rep.random_null.margin.mean, "{rep:?}");
    std::fs::write(root().join("target/study-native-mnist-mlp-2-seeds.json"), serde_json::to_string(&rep).unwrap()).unwrap();
}

/// The zoo overview of three shipped MLPs, one seed, as the page computes it (the wasm build is
/// checked against target/overview-native-mnist.json in tests/browser.test.mjs).
#[test]
fn overview_of_three_mlps_is_recorded_for_the_page() {
    let entries = manifest::parse(&std::fs::read_to_string(root().join("public/models/manifest.json")).unwrap()).unwrap();
    let loaded: Vec<_> = ["mnist-mlp", "mnist-mlp-robust", "mnist-mlp-s2"]
        .iter()
        .map(|n| {
            let e = entries.iter().find(|e| e.name == *n).unwrap();
            let bytes = std::fs::read(root().join("public/models").join(&e.file)).unwrap();
            e.verify(&bytes).unwrap();
            (e.clone(), Network::new(&e.arch_spec().unwrap(), &Weights::from_safetensors(&bytes).unwrap(), &Device::flex()).unwrap())
        })
        .collect();
    let nets: Vec<Net<Network>> = loaded.iter().map(|(e, net)| Net { name: &e.name, family: family(e.arch), model: net }).collect();
    // The page's defaults: seed 0, one seed, its attack settings and abstraction.
    let settings = dough_core::settings::Settings::default();
    let seeds = replicate_seeds(settings.seed, 1);
    let runs = pollster::block_on(overview(&Local::new(), &nets, &seeds, &settings.attack_config(), settings.seed, &|_| {}, &|| false)).unwrap().unwrap();
    let ov = runs.statistics(&settings.abstraction, PERMUTATIONS).unwrap();
    let (p, t) = (ov.persistence_means(), ov.transfer_means());
    eprintln!("persistence {p:?}\ntransfer {t:?}");
    for i in 0..3 {
        assert_eq!(p[i][i], 1.0, "a model's patterns identify themselves");
        assert!(t[i][i] >= 0.9, "a model keeps its own quantised examples: {}", t[i][i]);
    }
    assert!(ov.persistence[0][2].p_value < 0.01, "two seeds of one recipe share their patterns: {:?}", ov.persistence[0][2]);
    assert!(t[0][1] < t[0][2], "the robust model is fooled less by mnist-mlp's examples than another standard MLP is: {t:?}");
    assert_eq!(ov.explained.as_ref().map(|e| e.points.len()), Some(6));
    let out = root().join("target/overview-native-mnist.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, serde_json::to_string(&ov).unwrap()).unwrap();
}

/// On the CPU the drivers cut the study's batch into pieces of one controlled input; for the
/// convolutional network too, the pieces give the rows of the whole batch: the same targets
/// reached in the same steps, the images equal up to the rounding of a smaller batch.
#[test]
fn a_lenet_study_cut_into_pieces_gives_the_rows_of_the_whole_batch() {
    let entries = manifest::parse(&std::fs::read_to_string(root().join("public/models/manifest.json")).unwrap()).unwrap();
    let e = entries.iter().find(|e| e.name == "mnist-lenet").unwrap();
    let bytes = std::fs::read(root().join("public/models").join(&e.file)).unwrap();
    let net = Network::new(&e.arch_spec().unwrap(), &Weights::from_safetensors(&bytes).unwrap(), &Device::flex()).unwrap();
    let cfg = AttackConfig::default();
    let run = |c: &Local| pollster::block_on(study(c, &net, "mnist-lenet", &[0], &cfg, true, &|_| {}, &|| false)).unwrap().unwrap().remove(0);
    let t = std::time::Instant::now();
    let whole = run(&Local::new().whole());
    let whole_s = t.elapsed().as_secs_f64();
    let cut = run(&Local::new());
    eprintln!("mnist-lenet study, one seed with its twin: {whole_s:.1} s whole, {:.1} s in pieces", t.elapsed().as_secs_f64() - whole_s);
    let mut worst = 0.0f32;
    for (a, b) in whole.trained.iter().chain(&whole.untrained).zip(cut.trained.iter().chain(&cut.untrained)) {
        assert_eq!((a.target, a.reached, a.predicted, a.steps), (b.target, b.reached, b.predicted, b.steps));
        worst = a.adversarial.iter().zip(&b.adversarial).map(|(x, y)| (x - y).abs()).fold(worst, f32::max);
    }
    eprintln!("mnist-lenet, whole batch vs pieces of ten rows: largest pixel difference {worst:e}");
    assert!(worst < 1e-4, "{worst}");
}
