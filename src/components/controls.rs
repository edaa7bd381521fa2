//! The settings panel: controlled input, seed and attack parameters.

use leptos::prelude::*;

use dough_core::attack::StepNorm;
use dough_core::settings::{InputChoice, KAPPA_RANGE, MAX_STEPS_LIMIT, STEP_SIZE_RANGE, Settings};

/// A number input for a float setting, clamped to `range`; non-numbers are ignored.
#[component]
pub fn FloatField(
    id: &'static str,
    label: &'static str,
    range: (f32, f32),
    step: &'static str,
    value: Signal<f32>,
    on_set: Callback<f32>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input id=id type="number" min=range.0 max=range.1 step=step
                prop:value=move || value.get().to_string()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f32>() {
                        if v.is_finite() { on_set.run(v.clamp(range.0, range.1)); }
                    }
                }/>
        </label>
    }
}

#[component]
pub fn Controls(
    settings: RwSignal<Settings>,
    names: Signal<[&'static str; 10]>,
    /// Called with the new settings after every change; the page reruns the gallery.
    on_change: Callback<Settings>,
    busy: Signal<bool>,
) -> impl IntoView {
    let change = move |f: &dyn Fn(&mut Settings)| {
        let mut s = settings.get_untracked();
        f(&mut s);
        on_change.run(s);
    };
    let is_sample = move || settings.with(|s| s.input == InputChoice::Sample);
    view! {
        <form class="controls" on:submit=move |ev| { ev.prevent_default(); on_change.run(settings.get_untracked()); }>
            <label>
                "Start from "
                <select id="input-select" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    if let Some(c) = InputChoice::parse(&v) { change(&|s| s.input = c); }
                }>
                    {InputChoice::ALL.into_iter().map(|c| view! {
                        <option value=c.slug() selected=move || settings.with(|s| s.input == c)>{c.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <Show when=is_sample>
                <label>
                    "of class "
                    <select id="class-select" on:change=move |ev| {
                        if let Ok(c) = event_target_value(&ev).parse::<u8>() { change(&|s| { s.sample_class = c; }); }
                    }>
                        {move || names.get().into_iter().enumerate().map(|(i, n)| view! {
                            <option value=i selected=move || settings.with(|s| s.sample_class as usize == i)>{n}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "image #"
                    <input id="index-input" type="number" min="0" max="99" step="1"
                        prop:value=move || settings.with(|s| s.sample_index.to_string())
                        on:change=move |ev| {
                            if let Ok(i) = event_target_value(&ev).parse::<usize>() { change(&|s| s.sample_index = i.min(99)); }
                        }/>
                </label>
            </Show>
            <label>
                "Seed "
                <input id="seed-input" type="number" min="0" step="1"
                    prop:value=move || settings.with(|s| s.seed.to_string())
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<u64>() { change(&|s| s.seed = v); }
                    }/>
            </label>
            <label>
                "Step norm "
                <select id="norm-select" on:change=move |ev| {
                    let n = if event_target_value(&ev) == "linf" { StepNorm::Linf } else { StepNorm::L2 };
                    change(&|s| s.attack.norm = n);
                }>
                    <option value="l2" selected=move || settings.with(|s| s.attack.norm == StepNorm::L2)>"L2"</option>
                    <option value="linf" selected=move || settings.with(|s| s.attack.norm == StepNorm::Linf)>"L∞ (sign)"</option>
                </select>
            </label>
            <FloatField id="step-input" label="Step size " range=STEP_SIZE_RANGE step="0.005"
                value=Signal::derive(move || settings.with(|s| s.attack.step_size))
                on_set=Callback::new(move |v| change(&|s| s.attack.step_size = v))/>
            <label>
                "Max steps "
                <input id="steps-input" type="number" min="1" max=MAX_STEPS_LIMIT step="1"
                    prop:value=move || settings.with(|s| s.attack.max_steps.to_string())
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<usize>() { change(&|s| s.attack.max_steps = v.clamp(1, MAX_STEPS_LIMIT)); }
                    }/>
            </label>
            <FloatField id="kappa-input" label="Stop at confidence κ " range=KAPPA_RANGE step="0.01"
                value=Signal::derive(move || settings.with(|s| s.attack.kappa))
                on_set=Callback::new(move |v| change(&|s| s.attack.kappa = v))/>
            <button id="run" type="submit" disabled=busy>"Run"</button>
        </form>
    }
}
