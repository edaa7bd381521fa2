//! `dough-cli templates`, `study` and `report`: the study run natively, over the whole zoo, into
//! `results/REPORT.md` with PNG figures. Deterministic for a given seed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dough_compute::Device;
use dough_compute::network::Network;
use dough_core::drive::overview::{Net, overview, transfer_of};
use dough_core::drive::study::{StudyRun, study};
use dough_core::attack::AttackConfig;
use dough_core::colormap::{diverging, diverging_rgba, gray_rgba, symmetric_scale};
use dough_core::export::{heatmap_sheet, tile_sheet};
use dough_core::idx::{self, Split};
use dough_core::manifest::{DatasetId, ModelEntry};
use dough_core::model::CLASSES;
use dough_core::study::abstraction::{Abstraction, PatternMethod};
use dough_core::study::metrics::Comparison;
use dough_core::study::overview::{MIN_MODELS_FOR_MANTEL, Overview, family};
use dough_core::study::pairs::Persistence;
use dough_core::study::pipeline::{self, Evolved, StudyResult};
use dough_core::study::replicates::{PERMUTATIONS, Replicated, replicate_seeds};
use dough_core::study::stats::{Interval, Mantel, p_label};
use dough_core::study::templates::{TemplateKind, Templates};

use crate::cli::{OverviewArgs, ReportArgs, StudyArgs, StudyOptions, TemplatesArgs};
use crate::{device, load_manifest, load_model};

fn templates_path(dataset: &str) -> PathBuf {
    PathBuf::from(format!("public/data/{dataset}-templates.dtpl"))
}

/// Computes the dataset templates from the training split and writes them for the page.
pub fn cmd_templates(a: &TemplatesArgs) -> Result<(), String> {
    for ds in [DatasetId::Mnist, DatasetId::FashionMnist] {
        let dir = a.data_root.join(ds.slug());
        let train = idx::load_split(&dir, Split::Train).map_err(|e| format!("{}: {e}", dir.display()))?;
        let t = Templates::from_dataset(ds.slug(), &train).map_err(|e| e.to_string())?;
        let out = templates_path(ds.slug());
        let bytes = t.encode();
        std::fs::write(&out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
        println!("wrote {} ({} bytes, from {} training images)", out.display(), bytes.len(), train.len());
    }
    Ok(())
}

pub fn load_templates(dataset: DatasetId) -> Result<Templates, String> {
    let p = templates_path(dataset.slug());
    let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e} (run `dough-cli templates`)", p.display()))?;
    Templates::decode(&bytes).map_err(|e| format!("{}: {e}", p.display()))
}

/// The study's settings, shared by `study` and `report`.
pub struct StudySettings {
    pub seed: u64,
    pub attack: AttackConfig,
    pub abstraction: Abstraction,
    pub template: TemplateKind,
}

impl StudySettings {
    pub fn from_options(o: &StudyOptions) -> Self {
        Self {
            seed: o.seed,
            attack: AttackConfig { max_steps: o.steps, ..AttackConfig::default() },
            abstraction: Abstraction { method: o.method, sigma: o.sigma },
            template: o.template.into(),
        }
    }
}

/// The evolved samples of one model and of its untrained twin, one of each per seed.
pub struct ModelRun {
    pub entry: ModelEntry,
    pub net: Network,
    pub evolved: Vec<Evolved>,
    pub untrained: Vec<Evolved>,
}

/// The study's attacks on the model `name` (and its untrained twin) for every seed, through the
/// study's driver (as the page runs them).
pub fn run_model(models: &Path, name: &str, s: &StudySettings, seeds: &[u64], device: &Device) -> Result<ModelRun, String> {
    let (entry, spec, weights) = load_model(models, name)?;
    let net = Network::new(&spec, &weights, device).map_err(|e| e.to_string())?;
    let runs: Vec<StudyRun> = pollster::block_on(study(&crate::device::local(), &net, name, seeds, &s.attack, true, &|_| {}, &|| false))
        .map_err(|e| e.to_string())?
        .ok_or("the study was cancelled")?;
    let evolved = runs.iter().map(|r| Evolved::from_outcomes(r.trained.clone())).collect();
    let untrained = runs.into_iter().map(|r| Evolved::from_outcomes(r.untrained)).collect();
    Ok(ModelRun { entry, net, evolved, untrained })
}

/// `dough-cli overview --model a,b,c [--seeds N] [--json]`: persistence and transfer over a
/// set of models of one dataset, computed as the page's overview computes it.
pub fn cmd_overview(a: &OverviewArgs) -> Result<(), String> {
    let s = StudySettings::from_options(&a.study);
    let seeds = replicate_seeds(s.seed, a.seeds.max(1) as usize);
    let names: Vec<String> = match a.dataset {
        // The clean zoo of the dataset: the planted networks are checked by `plant-check`.
        Some(d) => load_manifest(&a.models)?.into_iter().filter(|e| e.dataset == d.into() && e.plant().is_none()).map(|e| e.name).collect(),
        None => a.models_list.clone(),
    };
    let loaded = names.iter().map(|n| load_model(&a.models, n)).collect::<Result<Vec<_>, _>>()?;
    if let Some((first, other)) = loaded.first().and_then(|f| loaded.iter().find(|e| e.0.dataset != f.0.dataset).map(|o| (f, o))) {
        return Err(format!("{} ({}) and {} ({}) are of different datasets", first.0.name, first.0.dataset.slug(), other.0.name, other.0.dataset.slug()));
    }
    let device = device();
    let built = loaded.iter().map(|(e, spec, w)| Network::new(spec, w, &device).map(|n| (e, n)).map_err(|err| format!("{}: {err}", e.name))).collect::<Result<Vec<_>, _>>()?;
    let nets: Vec<Net<Network>> = built.iter().map(|(e, net)| Net { name: &e.name, family: family(e.arch), model: net }).collect();
    let t = Instant::now();
    let runs = pollster::block_on(overview(&crate::device::local(), &nets, &seeds, &s.attack, s.seed, &|_| {}, &|| false)).map_err(|e| e.to_string())?.ok_or("the overview was cancelled")?;
    let ov = runs.statistics(&s.abstraction, PERMUTATIONS)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&ov).map_err(|e| e.to_string())?);
        return Ok(());
    }
    let plural = if seeds.len() == 1 { "" } else { "s" };
    let list = seeds.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
    println!("{} models · {} · {} seed{plural} ({list}) · {:.1} s", ov.models.len(), s.abstraction.describe(), seeds.len(), t.elapsed().as_secs_f64());
    println!("\nPersistence (row model's patterns identified among the column model's), mean over the seeds:\n");
    println!("{}", matrix_md(&ov.models, &ov.persistence_means(), pct));
    println!("Transfer (share of the row model's adversarial examples that the column model assigns to their targets):\n");
    println!("{}", matrix_md(&ov.models, &ov.transfer_means(), pct));
    match &ov.explained {
        Some(ex) => {
            println!("| pairs | n | Spearman rho | p |\n|---|---:|---:|---:|");
            println!("{}", mantel_row("all", &ex.all));
            println!("{}", mantel_row("all, family held fixed", &ex.family_held));
        }
        None => println!("(transfer vs persistence needs at least {MIN_MODELS_FOR_MANTEL} models)"),
    }
    Ok(())
}

/// The study of one run's `k`-th seed.
pub fn study_of(run: &ModelRun, k: usize, seed: u64, s: &StudySettings, templates: &Templates) -> StudyResult {
    pipeline::study(&run.evolved[k], Some(&run.untrained[k]), &s.abstraction, templates.get(s.template), seed)
}

/// `dough-cli study --model mnist-mlp [--seeds N] [--json]`: the study of one model.
pub fn cmd_study(a: &StudyArgs) -> Result<(), String> {
    let s = StudySettings::from_options(&a.study);
    let seeds = replicate_seeds(s.seed, a.seeds.max(1) as usize);
    let run = run_model(&a.models, &a.model, &s, &seeds, &device())?;
    let templates = load_templates(run.entry.dataset)?;
    let results: Vec<StudyResult> = seeds.iter().enumerate().map(|(k, &seed)| study_of(&run, k, seed, &s, &templates)).collect();
    let rep = Replicated::new(&seeds, &results, PERMUTATIONS);
    if a.json {
        let out = serde_json::json!({ "seeds": seeds, "results": results, "summary": rep });
        println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
    } else {
        println!(
            "{} · {} · vs {} template · {} seed{} ({}) · mean [95% interval]",
            run.entry.name,
            s.abstraction.describe(),
            s.template.label(),
            seeds.len(),
            if seeds.len() == 1 { "" } else { "s" },
            seeds.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
        );
        for (label, sc) in [("model", Some(&rep.model)), ("random null", Some(&rep.random_null)), ("untrained null", rep.untrained_null.as_ref())] {
            if let Some(sc) = sc {
                println!(
                    "{label:>15}: identification {} (p {})  margin {}  recurrence same {} / different {}  reached {}",
                    pct_iv(&sc.identification),
                    p_label(sc.p_value),
                    num_iv(&sc.margin),
                    num_iv(&sc.recurrence_same),
                    num_iv(&sc.recurrence_different),
                    pct(sc.reached.mean)
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- figures

/// Writes a grid of 28x28 tiles (RGBA each) as a PNG, `cols` tiles per row, scaled x`zoom`.
fn write_tiles(path: &Path, tiles: &[Vec<u8>], cols: usize, zoom: usize) -> Result<(), String> {
    let s = tile_sheet(tiles, cols, zoom);
    write_png(path, &s.rgba, s.width, s.height)
}

fn write_png(path: &Path, rgba: &[u8], w: usize, h: usize) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgba).map_err(|e| e.to_string())
}

/// A correlation matrix as a heatmap PNG (diverging map, -1..1), `zoom` px per cell.
fn write_heatmap(path: &Path, m: &[Vec<f32>], zoom: usize) -> Result<(), String> {
    let s = heatmap_sheet(m, zoom);
    write_png(path, &s.rgba, s.width, s.height)
}

fn pattern_tile(p: &[f32]) -> Vec<u8> {
    diverging_rgba(p, symmetric_scale(p))
}

// ---------------------------------------------------------------- report

pub(crate) fn pct(v: f32) -> String {
    format!("{:.0}%", v * 100.0)
}

/// A share with its interval: "90% [82, 98]" (the interval only over more than one seed).
pub(crate) fn pct_iv(i: &Interval) -> String {
    if i.n > 1 { format!("{:.0}% [{:.0}, {:.0}]", i.mean * 100.0, i.lo * 100.0, i.hi * 100.0) } else { pct(i.mean) }
}

/// A signed number with its interval: "+0.295 [+0.270, +0.320]".
pub(crate) fn num_iv(i: &Interval) -> String {
    if i.n > 1 { format!("{:+.3} [{:+.3}, {:+.3}]", i.mean, i.lo, i.hi) } else { format!("{:+.3}", i.mean) }
}


pub(crate) fn matrix_md(names: &[String], m: &[Vec<f32>], fmt: impl Fn(f32) -> String) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| | {} |", names.join(" | "));
    let _ = writeln!(s, "|---|{}", "---:|".repeat(names.len()));
    for (n, row) in names.iter().zip(m) {
        let _ = writeln!(s, "| {n} | {} |", row.iter().map(|v| fmt(*v)).collect::<Vec<_>>().join(" | "));
    }
    s
}

/// The attack suite's tables (`dough-cli minimal` and `attacks`, written to `out`), included in
/// the report with their headings one level down, and linked.
pub(crate) fn suite_section(out: &Path) -> String {
    let mut s = String::new();
    for file in ["MINIMALITY.md", "ATTACKS.md"] {
        let Ok(text) = std::fs::read_to_string(out.join(file)) else { continue };
        if s.is_empty() {
            s += "\n## The attack suite\n\n";
        }
        let _ = writeln!(s, "(from [{file}]({file}))\n");
        for line in text.lines() {
            let _ = writeln!(s, "{}", if line.starts_with('#') { format!("#{line}") } else { line.to_string() });
        }
    }
    s
}

/// How two zoo models relate: which of architecture, seed, recipe they differ in.
fn relation(a: &ModelEntry, b: &ModelEntry) -> &'static str {
    let (ca, cb) = (&a.config, &b.config);
    if ca.adversarial.is_some() != cb.adversarial.is_some() {
        "standard vs robust"
    } else if a.arch != b.arch || ca.hidden != cb.hidden || ca.conv != cb.conv || ca.dense != cb.dense {
        "across architectures"
    } else if ca.seed != cb.seed && ca.augmentation == cb.augmentation && ca.epochs == cb.epochs {
        "across seeds"
    } else {
        "across recipes"
    }
}

/// Rates in [0, 1] drawn on the diverging map: blue 0%, white 50%, orange 100%.
fn write_rate_heatmap(path: &Path, m: &[Vec<f32>], zoom: usize) -> Result<(), String> {
    let centred: Vec<Vec<f32>> = m.iter().map(|r| r.iter().map(|v| 2.0 * v - 1.0).collect()).collect();
    write_heatmap(path, &centred, zoom)
}

/// A scatter plot of (x, y) in [0, 1]^2 as a PNG: axes from the lower left corner, grid lines
/// at 25% steps, orange points for pairs of one family and blue for pairs across families.
fn write_scatter(path: &Path, points: &[(f32, f32, bool)]) -> Result<(), String> {
    let (size, pad) = (360usize, 20usize);
    let mut img = vec![255u8; size * size * 4];
    let mut put = |x: usize, y: usize, c: [u8; 3]| {
        if x < size && y < size {
            img[(y * size + x) * 4..(y * size + x) * 4 + 3].copy_from_slice(&c);
        }
    };
    let plot = size - 2 * pad;
    let to_px = |v: f32| pad + (v.clamp(0.0, 1.0) * plot as f32).round() as usize;
    for k in 0..=4 {
        let at = pad + k * plot / 4;
        let shade = if k == 0 { [0, 0, 0] } else { [220, 220, 220] };
        for t in pad..=pad + plot {
            put(at, size - 1 - t, shade);
            put(t, size - 1 - at, shade);
        }
    }
    for &(x, y, same) in points {
        let (cx, cy) = (to_px(x), size - 1 - to_px(y));
        let c = if same { diverging(0.9) } else { diverging(-0.9) };
        for dy in 0..5 {
            for dx in 0..5 {
                put(cx + dx - 2, cy + dy - 2, c);
            }
        }
    }
    write_png(path, &img, size, size)
}

fn mantel_row(label: &str, m: &Mantel) -> String {
    format!("| {label} | {} | {:+.3} | {} |", m.pairs, m.rho, p_label(m.p_value))
}

/// Replaces the attack suite's section of an existing REPORT.md with the current MINIMALITY.md
/// and ATTACKS.md (they are made by other, slower commands), keeping everything else.
fn resplice(out: &Path) -> Result<(), String> {
    let path = out.join("REPORT.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e} (run `dough-cli report` first)", path.display()))?;
    let footer = text.rfind("\n_Report generated").ok_or_else(|| format!("{}: no footer line; regenerate it", path.display()))?;
    let body_end = text.find("\n## The attack suite\n").unwrap_or(footer);
    let md = format!("{}{}{}", &text[..body_end], suite_section(out), &text[footer..]);
    std::fs::write(&path, md).map_err(|e| e.to_string())?;
    println!("updated the attack suite's section of {}", path.display());
    Ok(())
}

pub fn cmd_report(a: &ReportArgs) -> Result<(), String> {
    if a.suite_only {
        return resplice(&a.out);
    }
    let (models, out) = (&a.models, &a.out);
    std::fs::create_dir_all(out.join("figures")).map_err(|e| e.to_string())?;
    let s = StudySettings::from_options(&a.study);
    let seeds = replicate_seeds(s.seed, a.seeds.max(1) as usize);
    let device = device();
    let entries = load_manifest(models)?;
    let only: Vec<String> = a.only.iter().filter(|x| !x.is_empty()).cloned().collect();
    let t0 = Instant::now();
    let mut md = String::new();
    let _ = writeln!(md, "# Dough: the study, run natively over the whole zoo\n");
    let _ = writeln!(
        md,
        "Generated by `dough-cli report --seed {} --seeds {}` (deterministic for a given seed, CPU backend). Every number is \
         measured {} times, with the controlled inputs and the nulls drawn from the seeds {}, and shown as the mean with its 95% \
         interval over the seeds in brackets (Student t). Controlled inputs per seed s: black, mid-gray and seeded noise from s, \
         s + 1 and s + 2. Attack: targeted, L2 step {}, at most {} steps, stop at confidence κ = {}. Patterns: {}. Compared \
         with the dataset's **{}** template (from the 60,000 training images). Nulls: the same numbers for random perturbations \
         with the same L2 norms as the model's, and for an untrained network of the same architecture (seeded He-uniform \
         weights) attacked the same way. p: the share of {} random relabellings of the classes that identify at least as many \
         classes over all seeds (one-sided; the floor is 1 / {}). These are findings, whatever they are.\n",
        s.seed,
        seeds.len(),
        seeds.len(),
        seeds.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "),
        s.attack.step_size,
        s.attack.max_steps,
        s.attack.kappa,
        s.abstraction.describe(),
        s.template.label(),
        PERMUTATIONS,
        PERMUTATIONS + 1
    );
    for ds in [DatasetId::Mnist, DatasetId::FashionMnist] {
        // The clean zoo unless --only names a planted network (those are `plant-check`'s).
        let zoo: Vec<&ModelEntry> =
            entries.iter().filter(|e| e.dataset == ds && if only.is_empty() { e.plant().is_none() } else { only.contains(&e.name) }).collect();
        if zoo.is_empty() {
            continue;
        }
        let templates = load_templates(ds)?;
        let mut runs = Vec::new();
        for e in &zoo {
            let t = Instant::now();
            runs.push(run_model(models, &e.name, &s, &seeds, &device)?);
            eprintln!("{}: attacks for {} seeds done in {:.1} s", e.name, seeds.len(), t.elapsed().as_secs_f64());
        }
        // results[model][seed]
        let results: Vec<Vec<StudyResult>> =
            runs.iter().map(|r| seeds.iter().enumerate().map(|(k, &seed)| study_of(r, k, seed, &s, &templates)).collect()).collect();
        let reps: Vec<Replicated> = results.iter().map(|r| Replicated::new(&seeds, r, PERMUTATIONS)).collect();
        let patterns: Vec<Vec<Vec<Vec<f32>>>> = results.iter().map(|r| r.iter().map(|x| x.patterns.clone()).collect()).collect();
        let names: Vec<String> = runs.iter().map(|r| r.entry.name.clone()).collect();
        let slug = ds.slug();

        let _ = writeln!(md, "## {}\n", ds.title());
        let _ = writeln!(md, "### Patterns vs the dataset's {} template\n", s.template.label());
        let _ = writeln!(md, "Identification: share of the 10 classes whose pattern correlates best with its own class's template (chance: 10%), with its permutation p-value. Margin: mean diagonal minus mean off-diagonal correlation. Recurrence: mean correlation of the same target's per-input patterns across different inputs, vs different targets. Beats both nulls: the model's margin interval lies above both nulls' margin intervals and its mean identification is at least theirs.\n");
        let _ = writeln!(md, "| model | test acc. | reached | identification | p | margin | recurrence same / diff. | random null: ident. (p) / margin | untrained null: ident. (p) / margin | beats both nulls |");
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");
        for (r, rep) in runs.iter().zip(&reps) {
            let u = rep.untrained_null.as_ref().expect("report runs the untrained null");
            let (m, rn) = (&rep.model, &rep.random_null);
            let beats = m.margin.lo > rn.margin.hi
                && m.margin.lo > u.margin.hi
                && m.identification.mean >= rn.identification.mean
                && m.identification.mean >= u.identification.mean;
            let _ = writeln!(
                md,
                "| {} | {:.2}% | {} | {} | {} | {} | {:+.3} / {:+.3} | {} ({}) / {} | {} ({}) / {} | {} |",
                r.entry.name,
                r.entry.test_accuracy * 100.0,
                pct(m.reached.mean),
                pct_iv(&m.identification),
                p_label(m.p_value),
                num_iv(&m.margin),
                m.recurrence_same.mean,
                m.recurrence_different.mean,
                pct_iv(&rn.identification),
                p_label(rn.p_value),
                num_iv(&rn.margin),
                pct_iv(&u.identification),
                p_label(u.p_value),
                num_iv(&u.margin),
                if beats { "yes" } else { "**no**" }
            );
        }

        // Persistence and transfer between every pair of models, over the seeds (the same
        // overview the page computes).
        let nets: Vec<Net<Network>> = runs.iter().map(|r| Net { name: &r.entry.name, family: family(r.entry.arch), model: &r.net }).collect();
        let evolved: Vec<Vec<&Evolved>> = runs.iter().map(|r| r.evolved.iter().collect()).collect();
        let per_seed = pollster::block_on(transfer_of(&crate::device::local(), &nets, &evolved, &|_| {}, &|| false)).map_err(|e| e.to_string())?.ok_or("the overview was cancelled")?;
        let families: Vec<usize> = runs.iter().map(|r| family(r.entry.arch)).collect();
        let ov = Overview::new(names.clone(), families, seeds.clone(), &patterns, &per_seed, PERMUTATIONS, s.seed).map_err(|e| e.to_string())?;
        let pm = &ov.persistence;
        let ident_mean = ov.persistence_means();

        // Robust vs standard: each adversarially trained model beside its standard twin.
        let _ = writeln!(md, "\n### Robust vs standard\n");
        let _ = writeln!(md, "| robust model | standard twin | identification robust / standard | margin robust / standard | robust accuracy robust / standard | pattern agreement (identification between the two, p) |");
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
        for (i, r) in runs.iter().enumerate().filter(|(_, r)| r.entry.config.adversarial.is_some()) {
            let twin = runs.iter().position(|t| {
                t.entry.config.adversarial.is_none() && t.net.spec() == r.net.spec() && t.entry.config.seed == r.entry.config.seed && t.entry.config.augmentation == "none"
            });
            if let Some(j) = twin {
                let acc = |e: &ModelEntry| e.robust_accuracy.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_else(|| "not measured".into());
                let agree: &Persistence = &pm[i][j];
                let _ = writeln!(
                    md,
                    "| {} | {} | {} / {} | {} / {} | {} / {} | {} ({}) |",
                    r.entry.name,
                    runs[j].entry.name,
                    pct_iv(&reps[i].model.identification),
                    pct_iv(&reps[j].model.identification),
                    num_iv(&reps[i].model.margin),
                    num_iv(&reps[j].model.margin),
                    acc(&r.entry),
                    acc(&runs[j].entry),
                    pct_iv(&agree.identification),
                    p_label(agree.p_value)
                );
            }
        }

        // Figures: patterns of every model (first seed), with the templates on top.
        let mut tiles: Vec<Vec<u8>> = templates.class_mean.iter().map(|t| gray_rgba(t)).collect();
        tiles.extend(templates.get(s.template).iter().map(|t| pattern_tile(t)));
        for res in &results {
            tiles.extend(res[0].patterns.iter().map(|p| pattern_tile(p)));
        }
        let fig = format!("figures/{slug}-patterns.png");
        write_tiles(&out.join(&fig), &tiles, CLASSES, 3)?;
        let _ = writeln!(md, "\n![{} patterns]({fig})\n", ds.title());
        let _ = writeln!(md, "Rows, top to bottom: class means; {} templates; then one row per model in the table's order (seed {}). Orange: ink added, blue: ink removed (each tile scaled to its own largest value).\n", s.template.label(), seeds[0]);
        let first = &results[0][0];
        let hm = format!("figures/{slug}-{}-vs-dataset.png", names[0]);
        write_heatmap(&out.join(&hm), &first.model.vs_dataset.matrix, 24)?;
        let _ = writeln!(md, "Pattern (rows) vs template (columns) correlations for {} (seed {}):\n\n![heatmap]({hm})\n", names[0], seeds[0]);
        let _ = writeln!(md, "{}", matrix_md(&(0..CLASSES).map(|c| ds.class_names()[c].to_string()).collect::<Vec<_>>(), &first.model.vs_dataset.matrix, |v| format!("{v:+.2}")));

        // Persistence across models, grouped by how the two models differ.
        let n = runs.len();
        let mut groups: Vec<(&str, Vec<f32>)> = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                let rel = relation(&runs[i].entry, &runs[j].entry);
                match groups.iter_mut().find(|(r, _)| *r == rel) {
                    Some((_, v)) => v.push(ident_mean[i][j]),
                    None => groups.push((rel, vec![ident_mean[i][j]])),
                }
            }
        }
        let _ = writeln!(md, "### Persistence across models\n");
        let _ = writeln!(md, "Identification accuracy between the patterns of two models (row model's pattern of class c matched against the column model's 10 patterns, seed by seed), mean over the seeds; the groups' intervals are over their pairs' means.\n");
        for (rel, v) in &groups {
            let _ = writeln!(md, "- {rel}: mean identification {} over {} pairs (min {}, max {})", pct_iv(&Interval::of(v).within(0.0, 1.0)), v.len(), pct(v.iter().cloned().fold(1.0, f32::min)), pct(v.iter().cloned().fold(0.0, f32::max)));
        }
        let weakest = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .min_by(|a, b| ident_mean[a.0][a.1].total_cmp(&ident_mean[b.0][b.1]).then(pm[b.0][b.1].p_value.total_cmp(&pm[a.0][a.1].p_value)));
        if let Some((i, j)) = weakest {
            let _ = writeln!(md, "- the weakest pair: {}'s patterns among {}'s, identification {} with p {}", names[i], names[j], pct_iv(&pm[i][j].identification), p_label(pm[i][j].p_value));
        }
        let significant = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).filter(|&(i, j)| pm[i][j].p_value < 0.01).count();
        let _ = writeln!(md, "- {significant} of {} ordered pairs identify more classes than relabelled patterns would with p < 0.01", n * (n - 1));
        let pfig = format!("figures/{slug}-persistence.png");
        write_rate_heatmap(&out.join(&pfig), &ident_mean, 20)?;
        let _ = writeln!(md, "\n![persistence matrix]({pfig})\n\nThe same matrix as a heatmap (rows and columns in the table's order; blue 0%, white 50%, orange 100%).\n");
        let _ = writeln!(md, "{}", matrix_md(&names, &ident_mean, pct));

        // Persistence across abstraction parameters (first model, first seed).
        let variants = [
            Abstraction { method: PatternMethod::MeanUnit, sigma: 0.0 },
            Abstraction { method: PatternMethod::MeanUnit, sigma: 1.0 },
            Abstraction { method: PatternMethod::TopMask { percent: 10.0 }, sigma: 0.0 },
            Abstraction { method: PatternMethod::TopMask { percent: 10.0 }, sigma: 1.0 },
            Abstraction { method: PatternMethod::Sign, sigma: 0.0 },
            Abstraction { method: PatternMethod::Sign, sigma: 1.0 },
        ];
        let pats: Vec<Vec<Vec<f32>>> = variants.iter().map(|v| runs[0].evolved[0].patterns(v)).collect();
        let labels: Vec<String> = variants.iter().map(|v| format!("{} σ{}", v.method.slug(), v.sigma)).collect();
        let am: Vec<Vec<f32>> = pats.iter().map(|a| pats.iter().map(|b| Comparison::new(a, b).identification).collect()).collect();
        let _ = writeln!(md, "### Persistence across abstraction parameters ({}, seed {})\n", names[0], seeds[0]);
        let _ = writeln!(md, "{}", matrix_md(&labels, &am, pct));
        let vs: Vec<String> = variants
            .iter()
            .map(|v| {
                let c = Comparison::new(&runs[0].evolved[0].patterns(v), templates.get(s.template));
                format!("{} σ{}: identification {} margin {:+.3}", v.method.slug(), v.sigma, pct(c.identification), c.margin)
            })
            .collect();
        let _ = writeln!(md, "Against the dataset with each abstraction: {}.\n", vs.join("; "));

        let transfer_mean = ov.transfer_means();
        let tfig = format!("figures/{slug}-transfer.png");
        write_rate_heatmap(&out.join(&tfig), &transfer_mean, 20)?;
        let _ = writeln!(md, "### Transfer\n\nShare of the adversarial examples made on the row model (quantised to 8-bit gray) that the column model assigns to the same target, mean over the seeds.\n");
        let _ = writeln!(md, "![transfer matrix]({tfig})\n");
        let _ = writeln!(md, "{}", matrix_md(&names, &transfer_mean, pct));

        // Do the patterns explain transfer?
        let ex = ov.explained.as_ref().ok_or_else(|| format!("{}: transfer vs persistence needs at least {MIN_MODELS_FOR_MANTEL} models", ds.title()))?;
        let sfig = format!("figures/{slug}-transfer-vs-persistence.png");
        write_scatter(&out.join(&sfig), &ex.points)?;
        let _ = writeln!(md, "### Do the patterns explain transfer?\n");
        let _ = writeln!(md, "Over the ordered pairs of different models (row model A, column model B): Spearman's rho between persistence (A's patterns identified among B's) and transfer (B assigns A's adversarial examples to their targets). p: Mantel-style permutation test over model labels ({} relabellings, one-sided for a positive association). Architecture family may drive both, so the test is repeated with the labels permuted only within a family (family held fixed), and within each family alone.\n", PERMUTATIONS);
        let _ = writeln!(md, "| pairs | n | Spearman rho | p |");
        let _ = writeln!(md, "|---|---:|---:|---:|");
        let _ = writeln!(md, "{}", mantel_row("all", &ex.all));
        let _ = writeln!(md, "{}", mantel_row("all, family held fixed", &ex.family_held));
        for (f, m) in &ex.within {
            let _ = writeln!(md, "{}", mantel_row(if *f == 0 { "within the fully connected networks" } else { "within the convolutional networks" }, m));
        }
        let _ = writeln!(md, "\n![transfer vs persistence]({sfig})\n\nTransfer (up) against persistence (right), both from 0 to 100% with grid lines every 25%; orange: both models of one family, blue: across families.\n");
    }
    let _ = write!(md, "{}", suite_section(out));
    let _ = writeln!(md, "\n_Report generated in {:.1} min on the CPU._", t0.elapsed().as_secs_f64() / 60.0);
    std::fs::write(out.join("REPORT.md"), &md).map_err(|e| e.to_string())?;
    println!("wrote {} ({:.1} min)", out.join("REPORT.md").display(), t0.elapsed().as_secs_f64() / 60.0);
    Ok(())
}
