//! Compare mode's controls and summary: the "Compare with" picker (model B, any model of model
//! A's dataset but A), the "standard vs robust" preset, the swap button, and the line that says
//! how many of A's adversarial examples B classifies as their target.

use leptos::prelude::*;

use dough_core::attack::SampleOutcome;
use dough_core::compare::{self, ModelReadings};
use dough_core::manifest::ModelEntry;

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
