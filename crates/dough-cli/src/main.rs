//! `dough-cli`: the native command-line tool. It reuses `dough-core` and `dough-compute`, so it
//! gives the same numbers as the browser for the same inputs and seed (on the same backend).

mod args;
mod report;
mod zoo_cmd;

use std::path::{Path, PathBuf};
use std::time::Instant;

use args::Args;
use dough_compute::attack::AttackJob;
use dough_compute::{Device, bench, eval};
use dough_core::attack::{AttackConfig, StepNorm, every_target};
use dough_core::idx::{self, Split};
use dough_core::inputs::ControlledInput;
use dough_core::manifest::{self, ArchKind, DatasetId, ModelConfig, ModelEntry, Pgd};
use dough_core::zoo::ZooModel;
use dough_core::model::{ArchSpec, ConvSpec};
use dough_core::pack::SamplePack;
use dough_core::weights::Weights;

const USAGE: &str = "dough-cli <command> [options]

commands:
  zoo     train every model of the zoo that is missing or out of date (--retrain yes: all of them),
          store it in half precision, measure it and rewrite the manifest
          --only name1,name2  --list yes  --models public/models  --data-root ../shared/datasets
  table   print the accuracy table of the manifest
  templates  compute the dataset templates (class mean, contrast, t-statistic) into public/data/
  study   the study of one model: patterns vs dataset templates, with its nulls
          --model mnist-mlp  --seed 0  --steps 500  --method mean|topP|sign  --sigma 0
          --template class-mean|contrast|t-stat  --json yes
  report  the study over every model of the zoo into results/REPORT.md with PNG figures
          (same options as study)  --out results  --only name1,name2
  train   train a network and add it to the manifest (defaults: the shipped mnist-mlp)
          --dataset mnist|fashion-mnist  --data ../shared/datasets/<dataset>
          --models public/models  --name <dataset>-<arch>  --arch mlp|cnn
          --hidden 256,128 (mlp)  --conv 32:3,64:3:pool --dense 128 (cnn)
          --epochs 12  --batch 128  --lr 0.001  --schedule cosine|constant
          --augmentation none|shift2  --seed 1  --dropout 0  --pgd-eps 0 (>0: PGD training)  --pgd-steps 7
  pack    write a sample pack of test images
          --dataset mnist  --data ../shared/datasets/<dataset>  --per-class 300  --seed 0 (a seeded random sample per class)
          --out public/data/mnist-samples.dspk
  eval    accuracy of a shipped model on the full test set and on its sample pack
          --model mnist-mlp  --models public/models  --data ../shared/datasets/mnist
  attack  attack a shipped model toward every class and print the gallery's numbers
          --model mnist-mlp  --input black|gray|white|noise|sample:C:I  --seed 0
          --steps 500  --step-size 0.05  --norm l2|linf  --kappa 0.9
  bench   the fixed benchmark workload on the CPU: mlp|cnn";

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = raw.first().cloned() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let result = Args::parse(&raw[1..]).and_then(|a| match cmd.as_str() {
        "train" => cmd_train(&a),
        "zoo" => zoo_cmd::cmd_zoo(&a),
        "templates" => report::cmd_templates(&a),
        "study" => report::cmd_study(&a),
        "report" => report::cmd_report(&a),
        "table" => {
            let models = PathBuf::from(a.str("models", "public/models"));
            zoo_cmd::print_table(&load_manifest(&models)?, &models);
            Ok(())
        }
        "pack" => cmd_pack(&a),
        "eval" => cmd_eval(&a),
        "attack" => cmd_attack(&a),
        "bench" => cmd_bench(&a),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command \"{other}\"\n\n{USAGE}")),
    });
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

pub(crate) fn device() -> Device {
    Device::flex()
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

fn parse_list(s: &str) -> Result<Vec<usize>, String> {
    s.split(',').filter(|p| !p.is_empty()).map(|p| p.trim().parse().map_err(|_| format!("bad number \"{p}\""))).collect()
}

/// Parses conv layers written as `32:3,64:3:pool` (channels:kernel[:pool]).
fn parse_conv(s: &str) -> Result<Vec<ConvSpec>, String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|layer| {
            let parts: Vec<&str> = layer.split(':').collect();
            let num = |i: usize| parts.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| format!("bad conv layer \"{layer}\" (channels:kernel[:pool])"));
            Ok(ConvSpec { channels: num(0)?, kernel: num(1)?, pool: parts.get(2) == Some(&"pool") })
        })
        .collect()
}

fn cmd_train(a: &Args) -> Result<(), String> {
    let dataset_slug = a.str("dataset", "mnist");
    let dataset = DatasetId::parse(&dataset_slug).ok_or_else(|| format!("unknown dataset \"{dataset_slug}\" (mnist or fashion-mnist)"))?;
    let data_dir = PathBuf::from(a.str("data", &format!("../shared/datasets/{dataset_slug}")));
    let models = PathBuf::from(a.str("models", "public/models"));
    let arch = match a.str("arch", "mlp").as_str() {
        "mlp" => ArchKind::Mlp,
        "cnn" => ArchKind::Cnn,
        other => return Err(format!("unknown arch \"{other}\" (mlp or cnn)")),
    };
    let name = a.str("name", &format!("{dataset_slug}-{}", if arch == ArchKind::Mlp { "mlp" } else { "cnn" }));
    let (hidden, conv, dense) = match arch {
        ArchKind::Mlp => (parse_list(&a.str("hidden", "256,128"))?, vec![], vec![]),
        ArchKind::Cnn => (vec![], parse_conv(&a.str("conv", "32:3,64:3:pool"))?, parse_list(&a.str("dense", "128"))?),
    };
    let pgd_eps: f64 = a.num("pgd-eps", 0.0)?;
    let config = ModelConfig {
        hidden,
        conv,
        dense,
        optimizer: "adam".into(),
        learning_rate: a.num("lr", 1e-3)?,
        schedule: a.str("schedule", "cosine"),
        epochs: a.num("epochs", 12)?,
        batch_size: a.num("batch", 128)?,
        seed: a.num("seed", 1)?,
        augmentation: a.str("augmentation", "none"),
        dropout: a.num("dropout", 0.0)?,
        adversarial: (pgd_eps > 0.0).then(|| Pgd::new(pgd_eps, a.num("pgd-steps", 7).unwrap_or(7))),
    };
    let m = ZooModel {
        name,
        dataset,
        arch,
        robust_eval: config.adversarial.as_ref().map(|p| Pgd::new(p.eps, 20)),
        note: config.adversarial.as_ref().map(|p| format!("adversarially trained ({})", p.describe())),
        config,
    };
    let splits = zoo_cmd::load_splits(&data_dir)?;
    let device = device();
    let (weights, secs) = zoo_cmd::train_model(&m, &splits.train, &device)?;
    let entry = zoo_cmd::ship(&m, &weights, Some(secs), &splits.test, &models, &device)?;
    let mut entries = load_manifest(&models)?;
    manifest::upsert(&mut entries, entry);
    std::fs::write(models.join("manifest.json"), manifest::to_json(&entries)).map_err(|e| e.to_string())?;
    println!("trained in {secs:.1} s; wrote {} and its manifest entry", models.join(format!("{}.safetensors", m.name)).display());
    Ok(())
}

fn cmd_pack(a: &Args) -> Result<(), String> {
    let dataset = a.str("dataset", "mnist");
    DatasetId::parse(&dataset).ok_or_else(|| format!("unknown dataset \"{dataset}\""))?;
    let data_dir = PathBuf::from(a.str("data", &format!("../shared/datasets/{dataset}")));
    let per_class: usize = a.num("per-class", 300)?;
    let seed: u64 = a.num("seed", 0)?;
    let out = PathBuf::from(a.str("out", &format!("public/data/{dataset}-samples.dspk")));
    let test = idx::load_split(&data_dir, Split::Test).map_err(|e| e.to_string())?;
    let pack = SamplePack::from_dataset(&dataset, &test, per_class, seed);
    let bytes = pack.encode();
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&out, &bytes).map_err(|e| e.to_string())?;
    println!("wrote {} ({} images, {} bytes)", out.display(), pack.len(), bytes.len());
    Ok(())
}

fn cmd_eval(a: &Args) -> Result<(), String> {
    let models = PathBuf::from(a.str("models", "public/models"));
    let (entry, spec, weights) = load_model(&models, &a.str("model", "mnist-mlp"))?;
    let device = device();
    let data_dir = PathBuf::from(a.str("data", &format!("../shared/datasets/{}", entry.dataset.slug())));
    let test = idx::load_split(&data_dir, Split::Test).map_err(|e| e.to_string())?;
    let acc = pollster::block_on(eval::accuracy(&spec, &weights, &device, &test.images.pixels, &test.labels))
        .map_err(|e| e.to_string())?;
    println!("{}: test accuracy {:.2}% (manifest: {:.2}%)", entry.name, acc * 100.0, entry.test_accuracy * 100.0);
    Ok(())
}

fn parse_input(s: &str, seed: u64) -> Result<ControlledInput, String> {
    Ok(match s {
        "black" => ControlledInput::Black,
        "gray" => ControlledInput::Gray,
        "white" => ControlledInput::White,
        "noise" => ControlledInput::Noise { seed },
        other => {
            let parts: Vec<&str> = other.split(':').collect();
            match parts.as_slice() {
                ["sample", c, i] => ControlledInput::Sample {
                    class: c.parse().map_err(|_| format!("bad class \"{c}\""))?,
                    index: i.parse().map_err(|_| format!("bad index \"{i}\""))?,
                },
                _ => return Err(format!("unknown input \"{other}\" (black, gray, white, noise, sample:C:I)")),
            }
        }
    })
}

fn cmd_attack(a: &Args) -> Result<(), String> {
    let models = PathBuf::from(a.str("models", "public/models"));
    let (entry, spec, weights) = load_model(&models, &a.str("model", "mnist-mlp"))?;
    let seed: u64 = a.num("seed", 0)?;
    let input = parse_input(&a.str("input", "black"), seed)?;
    let pack = match input {
        ControlledInput::Sample { .. } => {
            let path = a.str("pack", &format!("public/data/{}-samples.dspk", entry.dataset.slug()));
            let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
            Some(SamplePack::decode(&bytes).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let start = input.pixels(pack.as_ref()).map_err(|e| e.to_string())?;
    let cfg = AttackConfig {
        norm: match a.str("norm", "l2").as_str() {
            "l2" => StepNorm::L2,
            "linf" => StepNorm::Linf,
            other => return Err(format!("unknown norm \"{other}\" (l2 or linf)")),
        },
        step_size: a.num("step-size", AttackConfig::default().step_size)?,
        max_steps: a.num("steps", AttackConfig::default().max_steps)?,
        kappa: a.num("kappa", AttackConfig::default().kappa)?,
        early_stop: a.str("early-stop", "yes") != "no",
    };
    let (starts, targets) = every_target(&start);
    let t0 = Instant::now();
    let job = AttackJob::new(&spec, &weights, &device(), &starts, &targets, cfg).map_err(|e| e.to_string())?;
    let out = pollster::block_on(job.run()).map_err(|e| e.to_string())?;
    println!("{} from {} ({:.2} s)", entry.name, input.describe(), t0.elapsed().as_secs_f64());
    println!("target  predicted  confidence  steps      L2    Linf");
    for o in &out {
        println!("{:>6}  {:>9}  {:>10.4}  {:>5}  {:>6.3}  {:>6.3}", o.target, o.predicted, o.confidence, o.steps, o.l2, o.linf);
    }
    Ok(())
}

fn cmd_bench(a: &Args) -> Result<(), String> {
    let name = a.positional.first().cloned().unwrap_or_else(|| "mlp".into());
    let t0 = Instant::now();
    let now = move || t0.elapsed().as_secs_f64() * 1e3;
    let r = pollster::block_on(bench::run(&name, &device(), &now, || async {})).map_err(|e| e.to_string())?;
    println!(
        "bench {}: batch {}, {} steps, {:.2} ms/step ({:.1} steps/s), checksum {:.6} [CPU, flex]",
        r.arch,
        r.batch,
        r.steps,
        r.ms_per_step,
        1e3 / r.ms_per_step,
        r.checksum
    );
    Ok(())
}
