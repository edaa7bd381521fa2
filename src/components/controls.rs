//! The settings panel: controlled input, seed and attack parameters.

use leptos::prelude::*;
use reactive_stores::Store;

use dough_core::attack::StepNorm;
use dough_core::suite::{AttackMethod, Param};
use dough_core::settings::{InputChoice, KAPPA_RANGE, MAX_STEPS_LIMIT, STEP_SIZE_RANGE, Settings, SettingsStoreFields};

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

/// One parameter of the selected attack (`pgd-norm` as a choice, the others as numbers).
#[component]
fn SuiteField(param: Param, settings: Store<Settings>, change: Callback<(Param, f32)>) -> impl IntoView {
    let id = format!("param-{}", param.key());
    let value = move || settings.attack().with(|a| a.suite.get(param));
    if param == Param::PgdNorm {
        return view! {
            <label>
                {param.label()} " "
                <select id=id on:change=move |ev| change.run((param, if event_target_value(&ev) == "l2" { 0.0 } else { 1.0 }))>
                    <option value="linf" selected=move || value() >= 0.5>"L∞"</option>
                    <option value="l2" selected=move || value() < 0.5>"L2"</option>
                </select>
            </label>
        }
        .into_any();
    }
    let (lo, hi) = param.range();
    let step = if param.integer() { "1" } else { "any" };
    view! {
        <label>
            {param.label()} " "
            <input id=id type="number" min=lo max=hi step=step
                prop:value=move || value().to_string()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f32>() {
                        if v.is_finite() { change.run((param, v)); }
                    }
                }/>
        </label>
    }
    .into_any()
}

#[component]
pub fn Controls(
    settings: Store<Settings>,
    names: Signal<[&'static str; 10]>,
    /// Called with the new settings after every change; the page reruns the gallery.
    on_change: Callback<Settings>,
    busy: Signal<bool>,
    /// Images per class of the loaded sample pack (`None` until it is loaded).
    pack_counts: Signal<Option<[usize; 10]>>,
) -> impl IntoView {
    // The shipped packs hold 300 images per class; the loaded pack says exactly.
    let max_index = move || pack_counts.get().map_or(299, |c| c[settings.sample_class().get() as usize].max(1) - 1);
    let change = move |f: &dyn Fn(&mut Settings)| {
        let mut s = settings.get_untracked();
        f(&mut s);
        on_change.run(s);
    };
    let is_sample = move || settings.input().get() == InputChoice::Sample;
    let is_evolve = move || settings.attack().with(|a| a.method == AttackMethod::Evolve);
    view! {
        <form class="controls" on:submit=move |ev| { ev.prevent_default(); on_change.run(settings.get_untracked()); }>
            <label>
                "Start from "
                <select id="input-select" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    if let Some(c) = InputChoice::parse(&v) { change(&|s| s.input = c); }
                }>
                    {InputChoice::ALL.into_iter().map(|c| view! {
                        <option value=c.slug() selected=move || settings.input().get() == c>{c.label()}</option>
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
                            <option value=i selected=move || settings.sample_class().get() as usize == i>{n}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "image #"
                    <input id="index-input" type="number" min="0" max=max_index step="1"
                        prop:value=move || settings.sample_index().get().to_string()
                        on:change=move |ev| {
                            if let Ok(i) = event_target_value(&ev).parse::<usize>() { change(&|s| s.sample_index = i.min(max_index())); }
                        }/>
                </label>
            </Show>
            <label>
                "Seed "
                <input id="seed-input" type="number" min="0" step="1"
                    prop:value=move || settings.seed().get().to_string()
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<u64>() { change(&|s| s.seed = v); }
                    }/>
            </label>
            <label>
                "Attack "
                <select id="attack-select" on:change=move |ev| {
                    if let Some(m) = AttackMethod::parse(&event_target_value(&ev)) { change(&|s| s.attack.method = m); }
                }>
                    {AttackMethod::ALL.into_iter().map(|m| view! {
                        <option value=m.slug() selected=move || settings.attack().with(|a| a.method == m)>{m.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <p id="attack-about" class="hint">{move || settings.attack().with(|a| {
                let m = a.method;
                let target = if m.can_target() { "targeted toward each class" } else { "untargeted only: this method cannot aim at a class" };
                format!("{}: {} ({target}).", m.label(), m.describe())
            })}</p>
            <Show when=is_evolve>
                <label>
                    "Step norm "
                    <select id="norm-select" on:change=move |ev| {
                        let n = if event_target_value(&ev) == "linf" { StepNorm::Linf } else { StepNorm::L2 };
                        change(&|s| s.attack.norm = n);
                    }>
                        <option value="l2" selected=move || settings.attack().with(|a| a.norm == StepNorm::L2)>"L2"</option>
                        <option value="linf" selected=move || settings.attack().with(|a| a.norm == StepNorm::Linf)>"L∞ (sign)"</option>
                    </select>
                </label>
                <FloatField id="step-input" label="Step size " range=STEP_SIZE_RANGE step="0.005"
                    value=Signal::derive(move || settings.attack().with(|a| a.step_size))
                    on_set=Callback::new(move |v| change(&|s| s.attack.step_size = v))/>
                <label>
                    "Max steps "
                    <input id="steps-input" type="number" min="1" max=MAX_STEPS_LIMIT step="1"
                        prop:value=move || settings.attack().with(|a| a.max_steps.to_string())
                        on:change=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<usize>() { change(&|s| s.attack.max_steps = v.clamp(1, MAX_STEPS_LIMIT)); }
                        }/>
                </label>
                <FloatField id="kappa-input" label="Stop at confidence κ " range=KAPPA_RANGE step="0.01"
                    value=Signal::derive(move || settings.attack().with(|a| a.kappa))
                    on_set=Callback::new(move |v| change(&|s| s.attack.kappa = v))/>
            </Show>
            {move || {
                let m = settings.attack().with(|a| a.method);
                m.params().iter().map(|&p| view! { <SuiteField param=p settings=settings change=Callback::new(move |(p, v): (Param, f32)| change(&|s| s.attack.suite.set(p, v)))/> }).collect_view()
            }}
            <button id="run" type="submit" disabled=busy>"Run"</button>
        </form>
    }
}
