//! `dough-cli zoo` and `dough-cli train`: train networks, store them in half precision, measure
//! them (clean accuracy before and after rounding, robust accuracy where the zoo asks for it, a
//! planted network's pull on stamped test images) and write their manifest entries.

use std::path::Path;
use std::time::Instant;

use dough_compute::{Device, eval, pgd, train};
use dough_core::digest::sha256_hex;
use dough_core::idx::{self, Dataset, Split};
use dough_core::manifest::{self, ModelEntry};
use dough_core::weights::Weights;
use dough_core::zoo::{self, ZooModel};

use crate::cli::ZooArgs;
use crate::{device, load_manifest};

/// Train and test splits of one dataset, loaded once.
pub struct Splits {
    pub train: Dataset,
    pub test: Dataset,
}

pub fn load_splits(dir: &Path) -> Result<Splits, String> {
    Ok(Splits {
        train: idx::load_split(dir, Split::Train).map_err(|e| format!("{}: {e}", dir.display()))?,
        test: idx::load_split(dir, Split::Test).map_err(|e| format!("{}: {e}", dir.display()))?,
    })
}

/// Trains one model with a progress bar and the time of every epoch; returns f32 weights and seconds.
pub fn train_model(m: &ZooModel, data: &Dataset, device: &Device) -> Result<(Weights, f64), String> {
    let spec = m.spec();
    println!("training {}: {} params, {} training images, {} epochs", m.name, spec.param_count(), data.len(), m.config.epochs);
    let t0 = Instant::now();
    let mut epoch_start = Instant::now();
    let model = train::train(&spec, &m.config, data, device, &mut |p| {
        if p.batch == 1 {
            epoch_start = Instant::now();
        }
        let width = 30;
        let filled = p.batch * width / p.batches;
        eprint!(
            "\r  epoch {}/{} [{}{}] {}/{}{}",
            p.epoch + 1,
            p.epochs,
            "#".repeat(filled),
            " ".repeat(width - filled),
            p.batch,
            p.batches,
            if p.loss.is_nan() { String::new() } else { format!("  loss {:.4}", p.loss) }
        );
        if p.batch == p.batches {
            eprintln!("  {:.1} s/epoch", epoch_start.elapsed().as_secs_f64());
        }
    })
    .map_err(|e| e.to_string())?;
    let weights = pollster::block_on(model.to_weights())?;
    Ok((weights, t0.elapsed().as_secs_f64()))
}

/// Rounds `weights` to half precision, measures the model, writes the file and returns its entry.
pub fn ship(
    m: &ZooModel,
    weights: &Weights,
    train_seconds: Option<f64>,
    test: &Dataset,
    models: &Path,
    device: &Device,
) -> Result<ModelEntry, String> {
    let spec = m.spec();
    let half = weights.rounded_to_f16();
    if let Some((name, _)) = half.tensors.iter().find(|(_, t)| t.data.iter().any(|v| !v.is_finite())) {
        return Err(format!("{}: tensor {name} does not fit half precision", m.name));
    }
    let acc = |w: &Weights| {
        pollster::block_on(eval::accuracy(&spec, w, device, &test.images.pixels, &test.labels)).map_err(|e| e.to_string())
    };
    let round4 = |v: f64| (v * 1e4).round() / 1e4;
    let acc32 = acc(weights)?;
    let acc16 = acc(&half)?;
    let plant_success = match m.config.plant.as_ref().filter(|p| p.is_planted()) {
        Some(p) => {
            let stamped = p.stamped_others(test).map_err(|e| e.to_string())?;
            let pred = pollster::block_on(eval::predict(&spec, &half, device, &stamped, 500)).map_err(|e| e.to_string())?;
            let rate = pred.iter().filter(|&&c| c == p.class).count() as f64 / pred.len().max(1) as f64;
            println!("  {}: {:.2}% of the stamped test images of the other classes classified as {}", p.kind.slug(), rate * 100.0, p.class);
            Some(round4(rate))
        }
        None => None,
    };
    let robust = match &m.robust_eval {
        Some(pgd) => {
            let t = Instant::now();
            let r = pollster::block_on(pgd::robust_accuracy(&spec, &half, device, &test.images.pixels, &test.labels, pgd, 0))
                .map_err(|e| e.to_string())?;
            println!("  robust accuracy {:.2}% under {} ({:.0} s)", r * 100.0, pgd.describe(), t.elapsed().as_secs_f64());
            Some(round4(r))
        }
        None => None,
    };
    let bytes = weights.to_safetensors_f16();
    let file = format!("{}.safetensors", m.name);
    std::fs::create_dir_all(models).map_err(|e| e.to_string())?;
    std::fs::write(models.join(&file), &bytes).map_err(|e| e.to_string())?;
    println!(
        "  {}: test accuracy {:.2}% (f32 {:.2}%), {} bytes",
        m.name,
        acc16 * 100.0,
        acc32 * 100.0,
        bytes.len()
    );
    let floor = zoo::accuracy_floor(m.dataset, m.arch);
    if acc16 < floor && m.note.is_none() {
        eprintln!("  warning: {} is below its floor of {:.1}% and has no note saying why", m.name, floor * 100.0);
    }
    Ok(ModelEntry {
        name: m.name.clone(),
        dataset: m.dataset,
        arch: m.arch,
        config: m.config.clone(),
        params: spec.param_count(),
        test_accuracy: round4(acc16),
        test_accuracy_f32: Some(round4(acc32)),
        robust_accuracy: robust,
        robust_eps: m.robust_eval.as_ref().map(|p| p.eps),
        robust_attack: m.robust_eval.clone(),
        train_seconds: train_seconds.map(|s| s.round()),
        plant_success,
        file: file.clone(),
        sha256: sha256_hex(&bytes),
        layers: spec.layers(),
        note: m.note.clone(),
    })
}

/// An existing entry that already holds this zoo model's training (same dataset, architecture and
/// recipe, file present and verified): its weights, so that the zoo need not train it again.
fn existing(m: &ZooModel, entries: &[ModelEntry], models: &Path) -> Option<(ModelEntry, Weights)> {
    let e = entries.iter().find(|e| e.name == m.name && e.dataset == m.dataset && e.arch == m.arch && e.config == m.config)?;
    let bytes = std::fs::read(models.join(&e.file)).ok()?;
    e.verify(&bytes).ok()?;
    Some((e.clone(), Weights::from_safetensors(&bytes).ok()?))
}

pub fn cmd_zoo(a: &ZooArgs) -> Result<(), String> {
    let (models, data_root, retrain) = (&a.models, &a.data_root, a.retrain);
    let only: Vec<String> = a.only.iter().filter(|s| !s.is_empty()).cloned().collect();
    let plan = if a.planted { zoo::planted_plan() } else { zoo::plan() };
    let order: Vec<String> = zoo::plan().into_iter().chain(zoo::planted_plan()).map(|m| m.name).collect();
    if let Some(unknown) = only.iter().find(|n| !plan.iter().any(|m| &&m.name == n)) {
        return Err(format!("no model \"{unknown}\" in the zoo (see `dough-cli zoo --list`)"));
    }
    if a.list {
        for m in &plan {
            println!("{:<28} {:>9} params  {:?}", m.name, m.spec().param_count(), m.config);
        }
        return Ok(());
    }
    let device = device();
    let t0 = Instant::now();
    let mut entries = load_manifest(models)?;
    let mut splits: Vec<(String, Splits)> = Vec::new();
    for m in plan.iter().filter(|m| only.is_empty() || only.contains(&m.name)) {
        let slug = m.dataset.slug();
        if !splits.iter().any(|(s, _)| s == slug) {
            splits.push((slug.to_string(), load_splits(&data_root.join(slug))?));
        }
        let data = &splits.iter().find(|(s, _)| s == slug).expect("loaded").1;
        let entry = match (retrain, existing(m, &entries, models)) {
            (false, Some((e, w))) => {
                let complete = e.test_accuracy_f32.is_some()
                    && e.robust_accuracy.is_some() == m.robust_eval.is_some()
                    && w.to_safetensors_f16() == std::fs::read(models.join(&e.file)).unwrap_or_default();
                let complete = complete && e.plant_success.is_some() == m.config.plant.is_some();
                if complete && e.note == m.note {
                    println!("{}: already trained and measured, kept (--retrain trains it again)", m.name);
                    continue;
                }
                println!("{}: already trained, storing in half precision and measuring", m.name);
                ship(m, &w, e.train_seconds, &data.test, models, &device)?
            }
            _ => {
                let (w, secs) = train_model(m, &data.train, &device)?;
                ship(m, &w, Some(secs), &data.test, models, &device)?
            }
        };
        manifest::upsert(&mut entries, entry);
        // Keep the zoo's order; write after every model so an interrupted run loses nothing.
        entries.sort_by_key(|e| order.iter().position(|n| *n == e.name).unwrap_or(usize::MAX));
        std::fs::write(models.join("manifest.json"), manifest::to_json(&entries)).map_err(|e| e.to_string())?;
    }
    println!("zoo done in {:.1} min", t0.elapsed().as_secs_f64() / 60.0);
    print_table(&entries, models);
    Ok(())
}

/// The accuracy table of the README and the closing notes.
pub fn print_table(entries: &[ModelEntry], models: &Path) {
    println!("| model | dataset | params | test accuracy (f16 as shipped) | f32 | robust accuracy | planted: pull on stamped images | file size | training |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut total = 0u64;
    for e in entries {
        let size = std::fs::metadata(models.join(&e.file)).map(|m| m.len()).unwrap_or(0);
        total += size;
        println!(
            "| {} | {} | {} | {:.2}% | {} | {} | {} | {:.0} kB | {} |",
            e.name,
            e.dataset.title(),
            e.params,
            e.test_accuracy * 100.0,
            e.test_accuracy_f32.map(|v| format!("{:.2}%", v * 100.0)).unwrap_or_default(),
            match (e.robust_accuracy, e.robust_eps) {
                (Some(r), Some(eps)) => format!("{:.2}% at eps {eps}", r * 100.0),
                _ => String::new(),
            },
            match (e.plant(), e.plant_success) {
                (Some(p), Some(s)) => format!("{} {}: {:.2}%", p.kind.slug(), p.class, s * 100.0),
                _ => String::new(),
            },
            size as f64 / 1e3,
            e.train_seconds.map(|s| format!("{:.1} min", s / 60.0)).unwrap_or_default()
        );
    }
    println!("total weights: {:.2} MB", total as f64 / 1e6);
}
