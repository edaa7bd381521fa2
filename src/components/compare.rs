//! Compare mode's controls and summary: the "Compare with" picker (model B, any model of model
//! A's dataset but A), the "standard vs robust" preset, the swap button, the line that says
//! how many of A's adversarial examples B classifies as their target, and the two models'
//! patterns side by side with the persistence identification between them.

use leptos::prelude::*;
use reactive_stores::Store;

use dough_core::attack::SampleOutcome;
use dough_core::colormap::{diverging_rgba, symmetric_scale};
use dough_core::export::tile_sheet;
use dough_core::study::stats::p_label;
use dough_core::compare::{self, ModelReadings, PatternPair};
use dough_core::manifest::ModelEntry;
use dough_core::settings::{Settings, SettingsStoreFields};

use super::heatmap::{MapLegend, heat_cell};
use super::pixels::PixelImage;
use crate::platform::download_png;

/// Where B's own run (for the patterns side by side) stands: `data-status` of the section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnStatus {
    Idle,
    Running,
    Done,
    Error,
}

impl OwnStatus {
    pub fn slug(self) -> &'static str {
        match self {
            OwnStatus::Idle => "idle",
            OwnStatus::Running => "running",
            OwnStatus::Done => "done",
            OwnStatus::Error => "error",
        }
    }
}

#[component]
pub fn ComparePicker(
    entries: RwSignal<Vec<ModelEntry>>,
    current: RwSignal<Option<ModelEntry>>,
    compare: RwSignal<Option<ModelEntry>>,
    on_compare: Callback<Option<String>>,
    on_preset: Callback<()>,
    on_swap: Callback<()>,
    busy: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="picker compare-picker">
            <label>
                "Compare with (model B) "
                <select id="compare-select" disabled=busy on:change=move |ev| {
                    let v = event_target_value(&ev);
                    on_compare.run(Some(v).filter(|v| !v.is_empty()));
                }>
                    {move || {
                        let a = current.get();
                        let chosen = compare.get().map(|e| e.name).unwrap_or_default();
                        let none = view! { <option value="" selected=chosen.is_empty()>"none"</option> };
                        let others = entries
                            .get()
                            .into_iter()
                            .filter(|e| a.as_ref().is_some_and(|a| a.dataset == e.dataset && a.name != e.name))
                            .map(|e| {
                                let selected = e.name == chosen;
                                let label = format!("{}{}", e.name, if e.config.adversarial.is_some() { " (robust)" } else { "" });
                                view! { <option value=e.name.clone() selected=selected>{label}</option> }
                            })
                            .collect_view();
                        (none, others)
                    }}
                </select>
            </label>
            <div class="compare-buttons">
                <button type="button" class="secondary" id="compare-preset" disabled=busy
                    title=format!("model A = {}, model B = {}", compare::PRESET.0, compare::PRESET.1)
                    on:click=move |_| on_preset.run(())>"standard vs robust"</button>
                <button type="button" class="secondary" id="compare-swap" disabled=move || busy.get() || compare.with(|c| c.is_none())
                    on:click=move |_| on_swap.run(())>"Swap A and B (X)"</button>
            </div>
        </div>
    }
}

/// "B (name) agrees with 7 of 10 targets", when B's readings belong to the rows shown.
#[component]
pub fn CompareSummary(rows: RwSignal<Vec<SampleOutcome>>, readings: RwSignal<Option<ModelReadings>>) -> impl IntoView {
    let shown = move || {
        readings.with(|r| {
            let r = r.as_ref()?;
            rows.with(|rows| compare::for_rows(&r.rows, rows).map(|rs| (compare::summary(&r.model, rs), compare::agreement(rs), rs.len())))
        })
    };
    view! {
        {move || shown().map(|(text, agree, n)| view! {
            <p class="compare-summary" id="compare-summary" role="status" data-agree=agree data-rows=n
                title="rows where model B also predicts the target: the adversarial example transfers">{text}</p>
        })}
    }
}

/// The 10x10 correlations of A's patterns (rows) with B's (columns).
fn pattern_heatmap(matrix: &[Vec<f32>], names: [&'static str; 10]) -> impl IntoView {
    view! {
        <table class="heatmap" id="compare-heatmap" aria-label="correlation of model A's pattern of each class (rows) with model B's pattern of each class (columns)">
            <thead><tr><th></th>{names.iter().map(|n| view! { <th scope="col">{format!("B {n}")}</th> }).collect_view()}</tr></thead>
            <tbody>
                {matrix.iter().enumerate().map(|(i, row)| view! {
                    <tr>
                        <th scope="row">{format!("A {}", names[i])}</th>
                        {row.iter().enumerate().map(|(j, v)| {
                            heat_cell(*v, i == j, format!("{v:+.2}"), format!("A's pattern {} vs B's pattern {}: {v:+.3}", names[i], names[j]), *v)
                        }).collect_view()}
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <MapLegend low="−1" mid="correlation, 0 white; patterns: orange adds ink, blue removes it" high="+1"
            about="colours: heatmap blue is a correlation of −1, white 0, orange +1; in the patterns orange adds ink and blue removes it"/>
    }
}

/// A's and B's pattern of every class side by side, the persistence identification with its
/// null, the 10x10 heatmap, and transfer in both directions on this input.
#[component]
pub fn ComparePatterns(
    pair: RwSignal<Option<(String, PatternPair)>>,
    status: RwSignal<OwnStatus>,
    names: Signal<[&'static str; 10]>,
    a_name: Signal<String>,
    settings: Store<Settings>,
    /// B's readings of A's gallery (forward) and A's readings of B's own run (reverse).
    forward: Signal<Option<ModelReadings>>,
    reverse: Signal<Option<ModelReadings>>,
) -> impl IntoView {
    let image = |p: &[f32], alt: String| view! { <PixelImage rgba=diverging_rgba(p, symmetric_scale(p)) alt=alt/> };
    view! {
        <Show when=move || status.get() != OwnStatus::Idle>
            <section class="compare-patterns" id="compare-patterns" aria-label="Patterns of model A and model B"
                data-status=move || status.get().slug()
                data-identification=move || pair.with(|p| p.as_ref().map(|(_, p)| format!("{:.4}", p.comparison.identification)))>
                <h2>"Patterns: A vs B"</h2>
                {move || match (status.get(), pair.get()) {
                    (OwnStatus::Running, _) => view! { <p class="compare-patterns-note">"Model B runs the same attack on the same input…"</p> }.into_any(),
                    (OwnStatus::Error, _) | (_, None) => view! { <p class="compare-patterns-note">"B's own run did not finish; no patterns to compare."</p> }.into_any(),
                    (_, Some((b, p))) => {
                        let names = names.get();
                        let a = a_name.get();
                        let hits = (0..p.a.len()).filter(|&i| p.comparison.best_match(i) == Some(i)).count();
                        let abs = settings.abstraction().with(|a| a.describe());
                        view! {
                            <p class="compare-patterns-note">{format!(
                                "Each class: the perturbation of A's gallery (A = {a}) beside B's own perturbation from the same input (B = {b}), each abstracted as the analysis does ({abs})."
                            )}</p>
                            <p class="compare-persistence" id="compare-persistence">{format!(
                                "Persistence: A's pattern matches B's pattern of the same class best for {hits} of {} classes (identification {:.2}).",
                                p.a.len(), p.comparison.identification
                            )}</p>
                            {move || {
                                let fwd = forward.get().map(|r| compare::agreement(&r.rows));
                                let rev = reverse.get().map(|r| (compare::agreement(&r.rows), r.rows.len()));
                                rev.map(|(k, n)| view! {
                                    <p class="compare-asymmetry" id="compare-asymmetry" data-forward=fwd.map(|f| f.to_string()) data-reverse=k>{format!(
                                        "Transfer both ways on this input: B is fooled by {} of A's examples; A is fooled by {k} of {n} of B's own examples.",
                                        fwd.map(|f| format!("{f} of {n}")).unwrap_or_else(|| "(not read yet)".into())
                                    )}</p>
                                })
                            }}
                            <table class="scores" id="compare-scores">
                                <thead><tr>
                                    <th></th>
                                    <th scope="col" title="share of classes whose A pattern best matches B's pattern of the same class">"identification"</th>
                                    <th scope="col" title="permutation p-value: share of 9,999 random relabellings of the classes that identify at least as many classes">"p"</th>
                                    <th scope="col" title="mean diagonal minus mean off-diagonal correlation">"margin"</th>
                                </tr></thead>
                                <tbody>
                                    <tr data-row="pair">
                                        <th scope="row">"A's patterns vs B's"</th>
                                        <td class="num">{format!("{:.0}%", p.comparison.identification * 100.0)}</td>
                                        <td class="num p-value" data-p=format!("{:.6}", p.p_value)>{p_label(p.p_value)}</td>
                                        <td class="num">{format!("{:+.3}", p.comparison.margin)}</td>
                                    </tr>
                                    <tr data-row="random null">
                                        <th scope="row">"A's patterns vs B's random perturbations of the same norms (null)"</th>
                                        <td class="num">{format!("{:.0}%", p.random_null.identification * 100.0)}</td>
                                        <td class="num p-value" data-p=format!("{:.6}", p.random_null_p_value)>{p_label(p.random_null_p_value)}</td>
                                        <td class="num">{format!("{:+.3}", p.random_null.margin)}</td>
                                    </tr>
                                    {p.untrained_null.clone().map(|u| view! {
                                        <tr data-row="untrained null">
                                            <th scope="row">"A's patterns vs an untrained network of B's architecture (null)"</th>
                                            <td class="num">{format!("{:.0}%", u.identification * 100.0)}</td>
                                            <td class="num p-value" data-p=p.untrained_null_p_value.map(|v| format!("{v:.6}"))>{p.untrained_null_p_value.map(p_label).unwrap_or_default()}</td>
                                            <td class="num">{format!("{:+.3}", u.margin)}</td>
                                        </tr>
                                    })}
                                </tbody>
                            </table>
                            <div class="analysis-grid">
                            {pattern_heatmap(&p.comparison.matrix, names)}
                            <div class="gallery-wrap">
                            <table class="gallery compare-patterns-table">
                                <thead><tr>
                                    <th scope="col">"Class"</th>
                                    <th scope="col">{format!("A ({a})")}</th>
                                    <th scope="col">{format!("B ({b})")}</th>
                                    <th scope="col" title="correlation of A's and B's pattern of this class">"Correlation"</th>
                                    <th scope="col" title="B's class whose pattern matches A's pattern best">"Best match in B"</th>
                                </tr></thead>
                                <tbody>
                                    {p.a.iter().zip(&p.b).enumerate().map(|(i, (pa, pb))| {
                                        let best = p.comparison.best_match(i);
                                        let name = names.get(i).copied().unwrap_or("?");
                                        view! {
                                            <tr class="pattern-row" data-class=i data-best=best.map(|b| b.to_string()).unwrap_or_default()>
                                                <th scope="row">{name}</th>
                                                <td>{image(pa, format!("model A's pattern of class {name}"))}</td>
                                                <td>{image(pb, format!("model B's pattern of class {name}"))}</td>
                                                <td class="num">{format!("{:.2}", p.comparison.matrix[i][i])}</td>
                                                <td class:bad=best != Some(i)>{best.and_then(|b| names.get(b).copied()).unwrap_or("?")}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            </div>
                            </div>
                            <div class="export-bar">
                                <button type="button" class="secondary" id="compare-png" on:click={
                                    let (pa, pb, a, b) = (p.a.clone(), p.b.clone(), a.clone(), b.clone());
                                    move |_| {
                                        // A's patterns on the first row, B's on the second.
                                        let tiles: Vec<Vec<u8>> = pa.iter().chain(&pb).map(|t| diverging_rgba(t, symmetric_scale(t))).collect();
                                        let sheet = tile_sheet(&tiles, 10, 4);
                                        if let Err(e) = download_png(&format!("dough-patterns-{a}-vs-{b}.png"), sheet.width, sheet.height, &sheet.rgba) {
                                            web_sys::console::warn_1(&format!("Dough: the export failed: {e}").into());
                                        }
                                    }
                                }>"Patterns A vs B (PNG)"</button>
                            </div>
                        }.into_any()
                    }
                }}
            </section>
        </Show>
    }
}
