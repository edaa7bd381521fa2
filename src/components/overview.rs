//! The zoo overview's view: which models and seeds, the progress of the computation, the
//! persistence and transfer matrices as heatmaps, whether the patterns explain transfer
//! (Spearman and Mantel), a scatter plot of the pairs, and the exports.

use leptos::prelude::*;

use dough_core::export::heatmap_sheet;
use dough_core::manifest::ModelEntry;
use dough_core::protocol::JobProgress;
use dough_core::settings::{MAX_PAGE_SEEDS, OverviewModels};
use dough_core::study::overview::Overview;
use dough_core::study::stats::{Interval, Mantel, p_label};

use super::heatmap::{MapLegend, heat_cell};
use crate::platform::{download_png, download_text};

/// Where the overview stands (`data-overview` on its section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverviewStatus {
    Idle,
    Running,
    Done,
    Error,
}

impl OverviewStatus {
    pub fn slug(self) -> &'static str {
        match self {
            OverviewStatus::Idle => "idle",
            OverviewStatus::Running => "running",
            OverviewStatus::Done => "done",
            OverviewStatus::Error => "error",
        }
    }
}

/// How far the overview's computation is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OverviewProgress {
    pub attacks_done: usize,
    pub attacks: usize,
    pub readings_done: usize,
    pub readings: usize,
    pub label: String,
    /// The attack in flight.
    pub step: Option<JobProgress>,
}

impl OverviewProgress {
    /// Share done: attacks weigh 0.9 of the work, the readings 0.1.
    fn fraction(&self) -> f64 {
        let within = self.step.map_or(0.0, |s| s.step as f64 / s.max_steps.max(1) as f64);
        let attacks = (self.attacks_done as f64 + within) / self.attacks.max(1) as f64;
        let readings = self.readings_done as f64 / self.readings.max(1) as f64;
        0.9 * attacks.min(1.0) + 0.1 * readings
    }
}

/// A model's name without its dataset prefix, for the matrices' labels.
fn short(name: &str) -> &str {
    name.strip_prefix("fashion-mnist-").or_else(|| name.strip_prefix("mnist-")).unwrap_or(name)
}

fn pct(v: f32) -> String {
    format!("{:.0}%", v * 100.0)
}

fn pct_iv(i: &Interval) -> String {
    if i.n > 1 { format!("{} [{}–{}]", pct(i.mean), pct(i.lo), pct(i.hi)) } else { pct(i.mean) }
}

/// A models x models matrix of shares as a table heatmap (blue 0%, white 50%, orange 100%).
#[component]
fn RateHeatmap(id: &'static str, caption: &'static str, models: Vec<String>, cells: Vec<Vec<(Interval, String)>>) -> impl IntoView {
    view! {
        <table class="heatmap rate-heatmap" id=id>
            <caption>{caption}</caption>
            <thead><tr><th></th>{models.iter().map(|m| view! { <th scope="col" title=m.clone()>{short(m).to_string()}</th> }).collect_view()}</tr></thead>
            <tbody>
                {cells.into_iter().enumerate().map(|(i, row)| view! {
                    <tr>
                        <th scope="row" title=models[i].clone()>{short(&models[i]).to_string()}</th>
                        {row.into_iter().enumerate().map(|(j, (iv, text))| heat_cell(2.0 * iv.mean - 1.0, i == j, format!("{:.0}", iv.mean * 100.0), text, iv.mean)).collect_view()}
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn mantel_row(label: &'static str, m: &Mantel) -> impl IntoView {
    view! {
        <tr data-rho=format!("{:.6}", m.rho) data-p=format!("{:.6}", m.p_value)>
            <th scope="row">{label}</th>
            <td class="num">{m.pairs}</td>
            <td class="num">{if m.rho.is_finite() { format!("{:+.3}", m.rho) } else { "–".into() }}</td>
            <td class="num">{p_label(m.p_value)}</td>
        </tr>
    }
}

/// Transfer (up) against persistence (right) for every ordered pair of different models.
#[component]
fn Scatter(ov: Overview) -> impl IntoView {
    let (size, pad) = (260.0f32, 30.0f32);
    let plot = size - 2.0 * pad;
    let n = ov.models.len();
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).collect();
    let points = ov.explained.as_ref().map(|e| e.points.clone()).unwrap_or_default();
    view! {
        <svg id="overview-scatter" class="scatter" viewBox=format!("0 0 {size} {size}") width=size height=size role="img"
            aria-label="transfer (up) against persistence (right) for every ordered pair of models">
            {(0..=4).map(|k| {
                let at = pad + k as f32 * plot / 4.0;
                view! {
                    <line x1=pad y1=at x2=size - pad y2=at class="grid"/>
                    <line x1=at y1=pad x2=at y2=size - pad class="grid"/>
                }
            }).collect_view()}
            <text x=size / 2.0 y=size - 6.0 text-anchor="middle" class="axis">"persistence →"</text>
            <text x=12 y=size / 2.0 text-anchor="middle" class="axis" transform=format!("rotate(-90 12 {})", size / 2.0)>"transfer →"</text>
            {points.into_iter().zip(pairs).map(|((p, t, same), (i, j))| {
                let title = format!("{} → {}: persistence {}, transfer {}", ov.models[i], ov.models[j], pct(p), pct(t));
                view! {
                    <circle cx=pad + p * plot cy=size - pad - t * plot r="4" class:same-family=same class:across=!same data-a=i data-b=j>
                        <title>{title}</title>
                    </circle>
                }
            }).collect_view()}
        </svg>
    }
}

#[component]
pub fn OverviewView(
    entries: Signal<Vec<ModelEntry>>,
    choice: Signal<Option<OverviewModels>>,
    seeds: Signal<usize>,
    status: RwSignal<OverviewStatus>,
    progress: RwSignal<OverviewProgress>,
    error: RwSignal<Option<String>>,
    result: Memo<Option<Result<Overview, String>>>,
    /// The model set and the seeds changed.
    on_choice: Callback<(Option<OverviewModels>, usize)>,
    on_run: Callback<()>,
    on_cancel: Callback<()>,
    busy: Signal<bool>,
) -> impl IntoView {
    let checked = move |name: &str| match choice.get() {
        None | Some(OverviewModels::All) => true,
        Some(OverviewModels::Named(n)) => n.iter().any(|m| m == name),
    };
    let toggle = move |name: String, on: bool| {
        let all: Vec<String> = entries.get_untracked().into_iter().map(|e| e.name).collect();
        let mut now: Vec<String> = all.iter().filter(|m| if **m == name { on } else { checked(m) }).cloned().collect();
        now.dedup();
        let c = if now.len() == all.len() { OverviewModels::All } else { OverviewModels::Named(now) };
        on_choice.run((Some(c), seeds.get_untracked()));
    };
    let export = move |kind: &'static str| {
        let Some(Ok(ov)) = result.get_untracked() else { return };
        let base = format!("dough-overview-{}-models-{}-seeds", ov.models.len(), ov.seeds.len());
        let done = match kind {
            "json" => download_text(&format!("{base}.json"), "application/json", &serde_json::to_string_pretty(&ov).unwrap_or_default()),
            "csv" => download_text(&format!("{base}.csv"), "text/csv", &ov.to_csv()),
            _ => {
                // Persistence and transfer side by side, 8 px apart.
                let zoom = 24;
                let centred = |m: Vec<Vec<f32>>| m.into_iter().map(|r| r.into_iter().map(|v| 2.0 * v - 1.0).collect::<Vec<f32>>()).collect::<Vec<_>>();
                let (a, b) = (heatmap_sheet(&centred(ov.persistence_means()), zoom), heatmap_sheet(&centred(ov.transfer_means()), zoom));
                let (gap, w, h) = (8, a.width + 8 + b.width, a.height.max(b.height));
                let mut img = vec![255u8; w * h * 4];
                for (sheet, ox) in [(&a, 0), (&b, a.width + gap)] {
                    for y in 0..sheet.height {
                        let src = &sheet.rgba[y * sheet.width * 4..(y + 1) * sheet.width * 4];
                        img[(y * w + ox) * 4..(y * w + ox + sheet.width) * 4].copy_from_slice(src);
                    }
                }
                download_png(&format!("{base}.png"), w, h, &img)
            }
        };
        if let Err(e) = done {
            error.set(Some(format!("The export failed: {e}")));
        }
    };
    view! {
        <section class="overview" id="overview" data-overview=move || status.get().slug() aria-labelledby="overview-title">
            <h2 id="overview-title">"Zoo overview: do the patterns persist across networks, and do they explain transfer?"</h2>
            <p class="gallery-note">
                "Runs the study's attack (five controlled inputs toward every class) on each chosen network of the dataset, then asks every "
                "network to classify every other network's adversarial examples. Persistence: a network's class patterns identified among "
                "another's. Transfer: the share of one network's adversarial examples the other assigns to their targets. "
                "The same numbers as the report (results/REPORT.md), which uses every network and 5 seeds."
            </p>
            <div class="controls overview-controls">
                <fieldset id="overview-models">
                    <legend>"Networks"</legend>
                    {move || entries.get().into_iter().map(|e| {
                        let name = e.name.clone();
                        let on = checked(&name);
                        let label = format!("{}{}", short(&e.name), if e.config.adversarial.is_some() { " (robust)" } else { "" });
                        view! {
                            <label class="overview-model-label">
                                <input type="checkbox" class="overview-model" value=e.name.clone() checked=on disabled=move || status.get() == OverviewStatus::Running
                                    on:change=move |ev| toggle(name.clone(), event_target_checked(&ev))/>
                                {label}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <label>
                    "Seeds "
                    <select id="seeds-select" disabled=move || status.get() == OverviewStatus::Running on:change=move |ev| {
                        if let Ok(k) = event_target_value(&ev).parse::<usize>() {
                            on_choice.run((choice.get_untracked(), k.clamp(1, MAX_PAGE_SEEDS)));
                        }
                    }>
                        {(1..=MAX_PAGE_SEEDS).map(|k| view! { <option value=k.to_string() selected=move || seeds.get() == k>{k.to_string()}</option> }).collect_view()}
                    </select>
                </label>
                <button id="overview-run" type="button" disabled=move || busy.get() || status.get() == OverviewStatus::Running on:click=move |_| on_run.run(())>
                    {move || if status.get() == OverviewStatus::Running { "Computing…" } else { "Compute the overview" }}
                </button>
                <Show when=move || status.get() == OverviewStatus::Running>
                    <button id="overview-cancel" type="button" class="secondary" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                </Show>
            </div>
            <Show when=move || status.get() == OverviewStatus::Running>
                <div class="overview-progress">
                    <progress max="1" value=move || progress.with(|p| p.fraction())></progress>
                    <span id="overview-progress">{move || progress.with(|p| format!(
                        "attacks {} of {} · readings {} of {} · {}{}",
                        p.attacks_done, p.attacks, p.readings_done, p.readings, p.label,
                        p.step.map(|s| format!(" · step {} of at most {}", s.step, s.max_steps)).unwrap_or_default()
                    ))}</span>
                </div>
            </Show>
            {move || error.get().map(|e| view! { <p class="error" id="overview-error" role="alert">{e}</p> })}
            {move || match result.get() {
                None => None,
                Some(Err(e)) => Some(view! { <p class="error" id="overview-error">{e}</p> }.into_any()),
                Some(Ok(ov)) => {
                    let seeds = ov.seeds.clone();
                    let per_cell = |iv: &Interval, what: String| (*iv, what);
                    let persistence: Vec<Vec<(Interval, String)>> = ov.persistence.iter().enumerate().map(|(i, row)| row.iter().enumerate().map(|(j, p)| {
                        per_cell(&p.identification, format!("{}'s patterns among {}'s: identification {}, p {}", ov.models[i], ov.models[j], pct_iv(&p.identification), p_label(p.p_value)))
                    }).collect()).collect();
                    let transfer: Vec<Vec<(Interval, String)>> = ov.transfer.iter().enumerate().map(|(i, row)| row.iter().enumerate().map(|(j, t)| {
                        per_cell(t, format!("{} classifies {} of {}'s adversarial examples as their targets", ov.models[j], pct_iv(t), ov.models[i]))
                    }).collect()).collect();
                    let plural = if seeds.len() == 1 { "" } else { "s" };
                    Some(view! {
                        <p class="overview-summary" id="overview-summary" data-models=ov.models.len() data-seeds=seeds.len()>{format!(
                            "{} networks · {} seed{plural} ({}){}. Cells: mean over the seeds{}.",
                            ov.models.len(), seeds.len(), seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
                            if seeds.len() < 5 { " — fewer than the report's 5" } else { "" },
                            if seeds.len() > 1 { "; hover for the 95% interval" } else { "" }
                        )}</p>
                        <div class="overview-grid">
                            <RateHeatmap id="overview-persistence" caption="Persistence: row network's patterns identified among the column network's (%)" models=ov.models.clone() cells=persistence/>
                            <RateHeatmap id="overview-transfer" caption="Transfer: share of the row network's adversarial examples that the column network assigns to their targets (%)" models=ov.models.clone() cells=transfer/>
                        </div>
                        <MapLegend low="0%" mid="50% white" high="100%" about="heatmap colours: blue is 0%, white 50%, orange 100%"/>
                        {match ov.explained.clone() {
                            Some(ex) => view! {
                                <div class="overview-grid">
                                    <table class="scores" id="overview-mantel">
                                        <caption>"Do the patterns explain transfer? Spearman's rho between persistence and transfer over ordered pairs; p: permutation of network labels"</caption>
                                        <thead><tr><th>"pairs"</th><th scope="col">"n"</th><th scope="col">"rho"</th><th scope="col">"p"</th></tr></thead>
                                        <tbody>
                                            {mantel_row("all", &ex.all)}
                                            {mantel_row("family held fixed", &ex.family_held)}
                                            {ex.within.iter().filter(|(_, m)| m.pairs >= 2).map(|(f, m)| mantel_row(if *f == 0 { "within fully connected" } else { "within convolutional" }, m)).collect_view()}
                                        </tbody>
                                    </table>
                                    <Scatter ov=ov.clone()/>
                                </div>
                            }.into_any(),
                            None => view! { <p class="gallery-note" id="overview-mantel-none">"With three or more networks the overview also tests whether persistence explains transfer."</p> }.into_any(),
                        }}
                        <div class="export-bar">
                            <button type="button" class="secondary" id="overview-json" on:click=move |_| export("json")>"Overview JSON"</button>
                            <button type="button" class="secondary" id="overview-csv" on:click=move |_| export("csv")>"Overview CSV"</button>
                            <button type="button" class="secondary" id="overview-png" on:click=move |_| export("png")>"Heatmaps PNG"</button>
                        </div>
                    }.into_any())
                }
            }}
        </section>
    }
}
