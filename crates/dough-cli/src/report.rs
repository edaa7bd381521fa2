//! `dough-cli templates`, `study` and `report`: the study run natively, over the whole zoo, into
//! `results/REPORT.md` with PNG figures. Deterministic for a given seed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dough_compute::study::evolve;
use dough_compute::{Device, eval};
use dough_core::attack::AttackConfig;
use dough_core::colormap::{diverging_rgba, gray_rgba, symmetric_scale};
use dough_core::export::{heatmap_sheet, tile_sheet};
use dough_core::idx::{self, Split};
use dough_core::manifest::{DatasetId, ModelEntry};
use dough_core::model::{ArchSpec, CLASSES};
use dough_core::study::abstraction::{Abstraction, Method};
use dough_core::study::metrics::Comparison;
use dough_core::study::pipeline::{self, Evolved, StudyResult};
use dough_core::study::templates::{TemplateKind, Templates};
use dough_core::weights::Weights;

use crate::cli::{ReportArgs, StudyArgs, StudyOptions, TemplatesArgs};
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

/// The evolved samples of one model and of its untrained twin.
pub struct ModelRun {
    pub entry: ModelEntry,
    pub spec: ArchSpec,
    pub weights: Weights,
    pub evolved: Evolved,
    pub untrained: Evolved,
}

pub fn run_model(models: &Path, name: &str, s: &StudySettings, device: &Device) -> Result<ModelRun, String> {
    let (entry, spec, weights) = load_model(models, name)?;
    let starts: Vec<Vec<f32>> = pipeline::default_inputs(s.seed).iter().map(|i| i.pixels(None).expect("no pack needed")).collect();
    let evolved = pollster::block_on(evolve(&spec, &weights, device, &starts, &s.attack)).map_err(|e| e.to_string())?;
    let untrained_w = spec.init_weights(pipeline::untrained_seed(s.seed));
    let untrained = pollster::block_on(evolve(&spec, &untrained_w, device, &starts, &s.attack)).map_err(|e| e.to_string())?;
    Ok(ModelRun { entry, spec, weights, evolved, untrained })
}

pub fn study_of(run: &ModelRun, s: &StudySettings, templates: &Templates) -> StudyResult {
    pipeline::study(&run.evolved, Some(&run.untrained), &s.abstraction, templates.get(s.template), s.seed)
}

/// `dough-cli study --model mnist-mlp [--json]`: the study of one model.
pub fn cmd_study(a: &StudyArgs) -> Result<(), String> {
    let s = StudySettings::from_options(&a.study);
    let run = run_model(&a.models, &a.model, &s, &device())?;
    let templates = load_templates(run.entry.dataset)?;
    let r = study_of(&run, &s, &templates);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?);
    } else {
        println!("{} · {} · vs {} template", run.entry.name, s.abstraction.describe(), s.template.label());
        for (label, an) in [("model", Some(&r.model)), ("random null", Some(&r.random_null)), ("untrained null", r.untrained_null.as_ref())] {
            if let Some(an) = an {
                println!(
                    "{label:>15}: identification {:.0}%  margin {:+.3}  recurrence same {:+.3} / different {:+.3}  reached {:.0}%",
                    an.vs_dataset.identification * 100.0,
                    an.vs_dataset.margin,
                    an.recurrence.same_target,
                    an.recurrence.different_target,
                    an.reached * 100.0
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

pub fn cmd_report(a: &ReportArgs) -> Result<(), String> {
    let (models, out) = (&a.models, &a.out);
    std::fs::create_dir_all(out.join("figures")).map_err(|e| e.to_string())?;
    let s = StudySettings::from_options(&a.study);
    let device = device();
    let entries = load_manifest(models)?;
    let only: Vec<String> = a.only.iter().filter(|x| !x.is_empty()).cloned().collect();
    let t0 = Instant::now();
    let mut md = String::new();
    let _ = writeln!(md, "# Dough: the study, run natively over the whole zoo\n");
    let _ = writeln!(
        md,
        "Generated by `dough-cli report --seed {}` (deterministic for a given seed, CPU backend). Controlled inputs: {}. \
         Attack: targeted, L2 step {} , at most {} steps, stop at confidence κ = {}. Patterns: {}. Compared with the dataset's \
         **{}** template (from the 60,000 training images). Nulls: the same numbers for random perturbations with the \
         same L2 norms as the model's, and for an untrained network of the same architecture (seeded He-uniform weights) \
         attacked the same way. These are findings, whatever they are.\n",
        s.seed,
        pipeline::default_inputs(s.seed).iter().map(|i| i.describe()).collect::<Vec<_>>().join(", "),
        s.attack.step_size,
        s.attack.max_steps,
        s.attack.kappa,
        s.abstraction.describe(),
        s.template.label()
    );
    for ds in [DatasetId::Mnist, DatasetId::FashionMnist] {
        let zoo: Vec<&ModelEntry> = entries.iter().filter(|e| e.dataset == ds && (only.is_empty() || only.contains(&e.name))).collect();
        if zoo.is_empty() {
            continue;
        }
        let templates = load_templates(ds)?;
        let mut runs = Vec::new();
        for e in &zoo {
            let t = Instant::now();
            runs.push(run_model(models, &e.name, &s, &device)?);
            eprintln!("{}: attacks done in {:.1} s", e.name, t.elapsed().as_secs_f64());
        }
        let results: Vec<StudyResult> = runs.iter().map(|r| study_of(r, &s, &templates)).collect();
        let names: Vec<String> = runs.iter().map(|r| r.entry.name.clone()).collect();
        let slug = ds.slug();

        let _ = writeln!(md, "## {}\n", ds.title());
        let _ = writeln!(md, "### Patterns vs the dataset's {} template\n", s.template.label());
        let _ = writeln!(md, "Identification: share of the 10 classes whose pattern correlates best with its own class's template (chance: 10%). Margin: mean diagonal minus mean off-diagonal correlation. Recurrence: mean correlation of the same target's per-input patterns across different inputs, vs different targets.\n");
        let _ = writeln!(md, "| model | test acc. | reached | identification | margin | recurrence same / diff. | random null: ident. / margin | untrained null: ident. / margin | beats both nulls |");
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|:---:|");
        for (r, res) in runs.iter().zip(&results) {
            let u = res.untrained_null.as_ref().expect("report runs the untrained null");
            let m = &res.model;
            let beats = m.vs_dataset.margin > res.random_null.vs_dataset.margin
                && m.vs_dataset.margin > u.vs_dataset.margin
                && m.vs_dataset.identification >= res.random_null.vs_dataset.identification
                && m.vs_dataset.identification >= u.vs_dataset.identification;
            let _ = writeln!(
                md,
                "| {} | {:.2}% | {} | {} | {:+.3} | {:+.3} / {:+.3} | {} / {:+.3} | {} / {:+.3} | {} |",
                r.entry.name,
                r.entry.test_accuracy * 100.0,
                pct(m.reached),
                pct(m.vs_dataset.identification),
                m.vs_dataset.margin,
                m.recurrence.same_target,
                m.recurrence.different_target,
                pct(res.random_null.vs_dataset.identification),
                res.random_null.vs_dataset.margin,
                pct(u.vs_dataset.identification),
                u.vs_dataset.margin,
                if beats { "yes" } else { "**no**" }
            );
        }

        // Robust vs standard: each adversarially trained model beside its standard twin.
        let _ = writeln!(md, "\n### Robust vs standard\n");
        let _ = writeln!(md, "| robust model | standard twin | identification robust / standard | margin robust / standard | robust accuracy robust / standard | pattern agreement (identification between the two) |");
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
        for (i, r) in runs.iter().enumerate().filter(|(_, r)| r.entry.config.adversarial.is_some()) {
            let twin = runs.iter().position(|t| {
                t.entry.config.adversarial.is_none() && t.spec == r.spec && t.entry.config.seed == r.entry.config.seed && t.entry.config.augmentation == "none"
            });
            if let Some(j) = twin {
                let acc = |e: &ModelEntry| e.robust_accuracy.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_else(|| "not measured".into());
                let _ = writeln!(
                    md,
                    "| {} | {} | {} / {} | {:+.3} / {:+.3} | {} / {} | {} |",
                    r.entry.name,
                    runs[j].entry.name,
                    pct(results[i].model.vs_dataset.identification),
                    pct(results[j].model.vs_dataset.identification),
                    results[i].model.vs_dataset.margin,
                    results[j].model.vs_dataset.margin,
                    acc(&r.entry),
                    acc(&runs[j].entry),
                    pct(Comparison::new(&results[i].patterns, &results[j].patterns).identification)
                );
            }
        }

        // Figures: patterns of every model, with the templates on top.
        let mut tiles: Vec<Vec<u8>> = templates.class_mean.iter().map(|t| gray_rgba(t)).collect();
        tiles.extend(templates.get(s.template).iter().map(|t| pattern_tile(t)));
        for res in &results {
            tiles.extend(res.patterns.iter().map(|p| pattern_tile(p)));
        }
        let fig = format!("figures/{slug}-patterns.png");
        write_tiles(&out.join(&fig), &tiles, CLASSES, 3)?;
        let _ = writeln!(md, "\n![{} patterns]({fig})\n", ds.title());
        let _ = writeln!(md, "Rows, top to bottom: class means; {} templates; then one row per model in the table's order. Orange: ink added, blue: ink removed (each tile scaled to its own largest value).\n", s.template.label());
        let first = &results[0];
        let hm = format!("figures/{slug}-{}-vs-dataset.png", names[0]);
        write_heatmap(&out.join(&hm), &first.model.vs_dataset.matrix, 24)?;
        let _ = writeln!(md, "Pattern (rows) vs template (columns) correlations for {}:\n\n![heatmap]({hm})\n", names[0]);
        let _ = writeln!(md, "{}", matrix_md(&(0..CLASSES).map(|c| ds.class_names()[c].to_string()).collect::<Vec<_>>(), &first.model.vs_dataset.matrix, |v| format!("{v:+.2}")));

        // Persistence across models.
        let n = runs.len();
        let mut ident = vec![vec![0.0f32; n]; n];
        let mut groups: Vec<(&str, Vec<f32>)> = Vec::new();
        for i in 0..n {
            for j in 0..n {
                let c = Comparison::new(&results[i].patterns, &results[j].patterns);
                ident[i][j] = c.identification;
                if i < j {
                    let rel = relation(&runs[i].entry, &runs[j].entry);
                    match groups.iter_mut().find(|(r, _)| *r == rel) {
                        Some((_, v)) => v.push(c.identification),
                        None => groups.push((rel, vec![c.identification])),
                    }
                }
            }
        }
        let _ = writeln!(md, "### Persistence across models\n");
        let _ = writeln!(md, "Identification accuracy between the patterns of two models (row model's pattern of class c matched against the column model's 10 patterns).\n");
        for (rel, v) in &groups {
            let mean = v.iter().sum::<f32>() / v.len() as f32;
            let _ = writeln!(md, "- {rel}: mean identification {} over {} pairs (min {}, max {})", pct(mean), v.len(), pct(v.iter().cloned().fold(1.0, f32::min)), pct(v.iter().cloned().fold(0.0, f32::max)));
        }
        let _ = writeln!(md, "\n{}", matrix_md(&names, &ident, pct));

        // Persistence across abstraction parameters (first model).
        let variants = [
            Abstraction { method: Method::MeanUnit, sigma: 0.0 },
            Abstraction { method: Method::MeanUnit, sigma: 1.0 },
            Abstraction { method: Method::TopMask { percent: 10.0 }, sigma: 0.0 },
            Abstraction { method: Method::TopMask { percent: 10.0 }, sigma: 1.0 },
            Abstraction { method: Method::Sign, sigma: 0.0 },
            Abstraction { method: Method::Sign, sigma: 1.0 },
        ];
        let pats: Vec<Vec<Vec<f32>>> = variants.iter().map(|v| runs[0].evolved.patterns(v)).collect();
        let labels: Vec<String> = variants.iter().map(|v| format!("{} σ{}", v.method.slug(), v.sigma)).collect();
        let am: Vec<Vec<f32>> = pats.iter().map(|a| pats.iter().map(|b| Comparison::new(a, b).identification).collect()).collect();
        let _ = writeln!(md, "### Persistence across abstraction parameters ({})\n", names[0]);
        let _ = writeln!(md, "{}", matrix_md(&labels, &am, pct));
        let vs: Vec<String> = variants
            .iter()
            .map(|v| {
                let c = Comparison::new(&runs[0].evolved.patterns(v), templates.get(s.template));
                format!("{} σ{}: identification {} margin {:+.3}", v.method.slug(), v.sigma, pct(c.identification), c.margin)
            })
            .collect();
        let _ = writeln!(md, "Against the dataset with each abstraction: {}.\n", vs.join("; "));

        // Transfer.
        let mut transfer = vec![vec![0.0f32; n]; n];
        for (i, src) in runs.iter().enumerate() {
            let advs: Vec<f32> = src.evolved.per_input.iter().flatten().flat_map(|o| o.adversarial.clone()).collect();
            let targets: Vec<usize> = src.evolved.per_input.iter().flatten().map(|o| o.target).collect();
            let bytes: Vec<u8> = advs.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
            for (j, dst) in runs.iter().enumerate() {
                let pred = pollster::block_on(eval::predict(&dst.spec, &dst.weights, &device, &bytes, 500)).map_err(|e| e.to_string())?;
                transfer[i][j] = pred.iter().zip(&targets).filter(|(p, t)| *p == *t).count() as f32 / targets.len() as f32;
            }
        }
        let _ = writeln!(md, "### Transfer\n\nShare of the adversarial examples made on the row model (quantised to 8-bit gray) that the column model assigns to the same target.\n");
        let _ = writeln!(md, "{}", matrix_md(&names, &transfer, pct));
    }
    let _ = write!(md, "{}", suite_section(out));
    let _ = writeln!(md, "\n_Report generated in {:.1} min on the CPU._", t0.elapsed().as_secs_f64() / 60.0);
    std::fs::write(out.join("REPORT.md"), &md).map_err(|e| e.to_string())?;
    println!("wrote {} ({:.1} min)", out.join("REPORT.md").display(), t0.elapsed().as_secs_f64() / 60.0);
    Ok(())
}
