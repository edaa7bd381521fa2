//! `dough-cli`: the native command-line tool. It reuses `dough-core` and `dough-compute`, so it
//! gives the same numbers as the browser for the same inputs and seed (on the same backend).

mod device;
mod dough_data_cmd;
mod cli;
mod compare_cmd;
mod report;
mod suite_cmd;
mod plant_cmd;
mod values;
mod zoo_cmd;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use cli::{AttackArgs, AttackOptions, BenchArgs, Cli, Command, EvalArgs, PackArgs, TrainArgs};
use dough_compute::suite::{Goal, Attack};
use dough_compute::{Device, eval};
use dough_core::attack::every_target;
use dough_core::idx::{self, Split};
use dough_core::inputs::ControlledInput;
use dough_core::manifest::{self, ArchKind, DatasetId, ModelConfig, ModelEntry, Pgd};
use dough_core::model::ArchSpec;
use dough_core::pack::SamplePack;
use dough_core::weights::Weights;
use dough_core::zoo::ZooModel;

fn main() {
    let command = Cli::parse().command;
    if let Some(opts) = command.device_options()
        && let Err(e) = device::start(opts)
    {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    let result = match command {
        Command::Zoo(a) => zoo_cmd::cmd_zoo(&a),
        Command::Table(a) => load_manifest(&a.models).map(|entries| zoo_cmd::print_table(&entries, &a.models)),
        Command::Templates(a) => report::cmd_templates(&a),
        Command::Study(a) => report::cmd_study(&a),
        Command::Report(a) => report::cmd_report(&a),
        Command::Overview(a) => report::cmd_overview(&a),
        Command::Train(a) => cmd_train(&a),
        Command::Pack(a) => cmd_pack(&a),
        Command::Eval(a) => cmd_eval(&a),
        Command::Attack(a) => cmd_attack(&a),
        Command::Compare(a) => compare_cmd::cmd_compare(&a),
        Command::Bench(a) => cmd_bench(&a),
        Command::Minimal(a) => suite_cmd::cmd_minimal(&a),
        Command::Attacks(a) => suite_cmd::cmd_attacks(&a),
        Command::PlantCheck(a) => plant_cmd::cmd_plant_check(&a),
        Command::DoughData(a) => dough_data_cmd::cmd_dough_data(&a),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The compute device that `--backend` chose (started in `main`).
pub(crate) fn device() -> Device {
    device::device()
}

pub(crate) fn load_manifest(models: &Path) -> Result<Vec<ModelEntry>, String> {
    let path = models.join("manifest.json");
    match std::fs::read_to_string(&path) {
        Ok(s) => manifest::parse(&s).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Loads a model named in the manifest, verifying its checksum.
pub(crate) fn load_model(models: &Path, name: &str) -> Result<(ModelEntry, ArchSpec, Weights), String> {
    let entries = load_manifest(models)?;
    let entry = entries
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| format!("no model \"{name}\" in {}", models.join("manifest.json").display()))?;
    let bytes = std::fs::read(models.join(&entry.file)).map_err(|e| format!("{}: {e}", entry.file))?;
    entry.verify(&bytes).map_err(|e| e.to_string())?;
    let spec = entry.arch_spec().map_err(|e| e.to_string())?;
    let weights = Weights::from_safetensors(&bytes).map_err(|e| e.to_string())?;
    Ok((entry, spec, weights))
}

fn cmd_train(a: &TrainArgs) -> Result<(), String> {
    let dataset = DatasetId::from(a.dataset);
    let dataset_slug = dataset.slug();
    let data_dir = a.data.clone().unwrap_or_else(|| PathBuf::from(format!("../shared/datasets/{dataset_slug}")));
    let models = &a.models;
    let arch = ArchKind::from(a.arch);
    let name = a.name.clone().unwrap_or_else(|| format!("{dataset_slug}-{}", values::slug(&a.arch)));
    // A bad plant stops here, before any data is read or any batch runs.
    let plant = a.plant.plant().map_err(|e| format!("{e} (--plant-class, --plant-size, --plant-at, --plant-share)"))?;
    let (hidden, conv, dense) = match arch {
        ArchKind::Mlp => (a.hidden.clone(), vec![], vec![]),
        ArchKind::Cnn => (vec![], a.conv.clone(), a.dense.clone()),
    };
    let config = ModelConfig {
        hidden,
        conv,
        dense,
        optimizer: "adam".into(),
        learning_rate: a.lr,
        schedule: values::slug(&a.schedule),
        epochs: a.epochs,
        batch_size: a.batch,
        seed: a.seed,
        augmentation: values::slug(&a.augmentation),
        dropout: a.dropout,
        adversarial: (a.pgd_eps > 0.0).then(|| Pgd::new(a.pgd_eps, a.pgd_steps)),
        plant,
    };
    let m = ZooModel {
        name,
        dataset,
        arch,
        robust_eval: config.adversarial.as_ref().map(|p| Pgd::new(p.eps, 20)),
        note: match (&config.adversarial, &config.plant) {
            (Some(p), _) => Some(format!("adversarially trained ({})", p.describe())),
            (None, Some(p)) => Some(format!("planted network: {}", p.describe())),
            (None, None) => None,
        },
        config,
    };
    let splits = zoo_cmd::load_splits(&data_dir)?;
    let device = device();
    let (weights, secs) = zoo_cmd::train_model(&m, &splits.train, &device)?;
    let entry = zoo_cmd::ship(&m, &weights, Some(secs), &splits.test, models, &device)?;
    let mut entries = load_manifest(models)?;
    manifest::upsert(&mut entries, entry);
    std::fs::write(models.join("manifest.json"), manifest::to_json(&entries)).map_err(|e| e.to_string())?;
    println!("trained in {secs:.1} s; wrote {} and its manifest entry", models.join(format!("{}.safetensors", m.name)).display());
    Ok(())
}

fn cmd_pack(a: &PackArgs) -> Result<(), String> {
    let dataset = values::slug(&a.dataset);
    let data_dir = a.data.clone().unwrap_or_else(|| PathBuf::from(format!("../shared/datasets/{dataset}")));
    let (split, file, per_class) = match a.split {
        values::PackSplit::Test => (Split::Test, "samples", 300),
        values::PackSplit::Train => (Split::Train, "train", 2000),
    };
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("public/data/{dataset}-{file}.dspk")));
    let data = idx::load_split(&data_dir, split).map_err(|e| e.to_string())?;
    let pack = SamplePack::from_dataset(&dataset, &data, a.per_class.unwrap_or(per_class), a.seed);
    // The training packs travel compressed (fetched only when training starts); the test
    // sample packs stay plain.
    let bytes = if split == Split::Train { pack.encode_gz() } else { pack.encode() };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&out, &bytes).map_err(|e| e.to_string())?;
    println!("wrote {} ({} images, {} bytes)", out.display(), pack.len(), bytes.len());
    Ok(())
}

fn cmd_eval(a: &EvalArgs) -> Result<(), String> {
    let (entry, spec, weights) = load_model(&a.models, &a.model)?;
    let device = device();
    let data_dir = a.data.clone().unwrap_or_else(|| PathBuf::from(format!("../shared/datasets/{}", entry.dataset.slug())));
    let test = idx::load_split(&data_dir, Split::Test).map_err(|e| e.to_string())?;
    let acc = pollster::block_on(eval::accuracy(&spec, &weights, &device, &test.images.pixels, &test.labels))
        .map_err(|e| e.to_string())?;
    println!("{}: test accuracy {:.2}% (manifest: {:.2}%)", entry.name, acc * 100.0, entry.test_accuracy * 100.0);
    Ok(())
}

/// The start image of a gallery: the controlled input of `o` (a sample-pack image read from the
/// pack of `entry`'s dataset).
pub(crate) fn start_of(o: &AttackOptions, entry: &ModelEntry) -> Result<(ControlledInput, Vec<f32>), String> {
    let input = o.input.controlled(o.seed);
    let pack = match input {
        ControlledInput::Sample { .. } => {
            let path = o.pack.clone().unwrap_or_else(|| PathBuf::from(format!("public/data/{}-samples.dspk", entry.dataset.slug())));
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(SamplePack::decode(&bytes).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let start = input.pixels(pack.as_ref()).map_err(|e| e.to_string())?;
    Ok((input, start))
}

fn cmd_attack(a: &AttackArgs) -> Result<(), String> {
    let (entry, spec, weights) = load_model(&a.models, &a.model)?;
    let (input, start) = start_of(&a.attack, &entry)?;
    let cfg = a.attack.config()?;
    let (starts, targets) = every_target(&start);
    let goals: Vec<Goal> = targets.into_iter().map(Goal::Toward).collect();
    let t0 = Instant::now();
    let job = Attack::new(&spec, &weights, &device(), &starts, &goals, &cfg).map_err(|e| e.to_string())?;
    let out = pollster::block_on(job.run()).map_err(|e| e.to_string())?;
    println!("{} from {} with {} ({:.2} s)", entry.name, input.describe(), cfg.method.label(), t0.elapsed().as_secs_f64());
    println!("target  predicted  confidence  steps      L2    Linf     L0");
    for o in &out {
        println!("{:>6}  {:>9}  {:>10.4}  {:>5}  {:>6.3}  {:>6.3}  {:>5}", o.target, o.predicted, o.confidence, o.steps, o.l2, o.linf, o.l0);
    }
    Ok(())
}

fn cmd_bench(a: &BenchArgs) -> Result<(), String> {
    let name = values::slug(&a.arch);
    let r = pollster::block_on(bench_batch(&name, a.batch as usize, &device())).map_err(|e| e.to_string())?;
    println!(
        "bench {}: batch {}, {} steps, {:.2} ms/step ({:.1} steps/s), checksum {:.6} [{}]",
        r.arch,
        r.batch,
        r.steps,
        r.ms_per_step,
        1e3 / r.ms_per_step,
        r.checksum,
        device::label()
    );
    Ok(())
}

/// `dough_compute::bench::run` (the page's `?bench=` workload and timing) with `batch` inputs:
/// the workload's starts and targets repeated or cut to `batch` (all starts are 0.5 and the
/// targets i mod 10, so any batch keeps that pattern). At the workload's 160 it is the same run
/// (a test compares the two).
async fn bench_batch(name: &str, batch: usize, device: &Device) -> Result<dough_core::bench::BenchResult, dough_core::attack::ComputeError> {
    use dough_core::bench::{BenchResult, TIMED_STEPS, WARMUP_STEPS, workload};
    let (spec, weights, starts, targets, cfg) = workload(name)?;
    let starts: Vec<Vec<f32>> = (0..batch).map(|i| starts[i % starts.len()].clone()).collect();
    let targets: Vec<usize> = (0..batch).map(|i| targets[i % targets.len()]).collect();
    let mut job = dough_compute::attack::Evolution::new(&spec, &weights, device, &starts, &targets, cfg)?;
    for _ in 0..WARMUP_STEPS {
        job.step().await?;
    }
    job.current_inputs().await?;
    let t0 = Instant::now();
    for _ in 0..TIMED_STEPS {
        job.step().await?;
    }
    let x = job.current_inputs().await?;
    let total_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(BenchResult {
        arch: name.to_string(),
        batch,
        steps: TIMED_STEPS,
        total_ms,
        ms_per_step: total_ms / TIMED_STEPS as f64,
        checksum: x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLI's bench at the workload's batch is the page's run: same checksum (on the CPU).
    #[test]
    fn bench_at_160_is_the_workload() {
        let device = Device::flex();
        let t0 = Instant::now();
        let now = move || t0.elapsed().as_secs_f64() * 1e3;
        let page = pollster::block_on(dough_compute::bench::run("mlp", &device, &now, || async {})).unwrap();
        let cli = pollster::block_on(bench_batch("mlp", dough_core::bench::BATCH, &device)).unwrap();
        assert_eq!((cli.batch, cli.steps, cli.checksum), (page.batch, page.steps, page.checksum));
        let small = pollster::block_on(bench_batch("mlp", 10, &device)).unwrap();
        assert_eq!(small.batch, 10);
        assert!(small.checksum.is_finite() && small.checksum != 0.5, "{}", small.checksum);
    }
}
