//! The per-class gallery: one row per target class.

use leptos::prelude::*;

use dough_core::attack::SampleOutcome;
use dough_core::colormap::{diverging, diverging_rgba, gray_rgba, symmetric_scale};
use dough_core::compare::{ModelReadings, Reading};

use super::draw::frame_image;
use super::pixels::PixelImage;

fn css_rgb([r, g, b]: [u8; 3]) -> String {
    format!("rgb({r},{g},{b})")
}

/// The colour scale legend: -scale (blue) .. 0 .. +scale (orange); `labelled`: with the ±scale.
#[component]
pub fn Scale(scale: f32, #[prop(default = true)] labelled: bool) -> impl IntoView {
    let gradient = format!(
        "linear-gradient(to right, {}, {}, {})",
        css_rgb(diverging(-1.0)),
        css_rgb(diverging(0.0)),
        css_rgb(diverging(1.0))
    );
    view! {
        <div class="scale" title="perturbation colour scale: blue removes ink, orange adds ink">
            <div class="scale-bar" style=format!("background:{gradient}")></div>
            {labelled.then(|| view! { <div class="scale-label">{format!("±{scale:.2}")}</div> })}
        </div>
    }
}

#[component]
fn Row(
    outcome: SampleOutcome,
    index: usize,
    names: [&'static str; 10],
    current: RwSignal<Option<usize>>,
    frames: RwSignal<Vec<(usize, Vec<f32>)>>,
    frame: RwSignal<Option<usize>>,
    readings: RwSignal<Option<ModelReadings>>,
) -> impl IntoView {
    let o = outcome;
    // Compare mode: what model B says about this row's adversarial example.
    let b = move || readings.with(|r| r.as_ref().and_then(|r| r.rows.get(index).copied()));
    let start = o.start.clone();
    let last = o.adversarial.clone();
    // The image at the scrubbed step of the animation, or the final one.
    let last = StoredValue::new(last);
    let shown = move || frames.with(|f| frame_image(f, frame.get(), index)).unwrap_or_else(|| last.get_value());
    let delta = o.perturbation();
    let scale = symmetric_scale(&delta);
    let target = names[o.target];
    let predicted = names.get(o.predicted).copied().unwrap_or("?");
    let ok = o.predicted == o.target;
    view! {
        <tr
            class="gallery-row"
            class:missed=!ok
            class:current=move || current.get() == Some(o.target)
            aria-current=move || (current.get() == Some(o.target)).then_some("true")
            data-target=o.target
            data-predicted=o.predicted
            data-confidence=format!("{:.4}", o.confidence)
            data-steps=o.steps
            data-reached=o.reached.to_string()
            data-l0=o.l0
            data-l2=format!("{:.4}", o.l2)
            data-linf=format!("{:.4}", o.linf)
            data-b-predicted=move || b().map(|r| r.predicted.to_string())
            data-b-confidence=move || b().map(|r| format!("{:.4}", r.confidence))
            data-b-fooled=move || b().map(|r| r.fooled.to_string())
        >
            <th scope="row" class="target">{target}</th>
            <td><PixelImage rgba=gray_rgba(&o.start) alt="starting input".to_string()/></td>
            <td>{move || view! { <PixelImage rgba=gray_rgba(&shown()) alt=format!("adversarial example for class {target}")/> }}</td>
            <td class="perturbation">
                {let start = start.clone(); move || {
                    let d: Vec<f32> = shown().iter().zip(&start).map(|(a, s)| a - s).collect();
                    view! { <PixelImage rgba=diverging_rgba(&d, scale) alt=format!("perturbation toward class {target}, scale ±{scale:.2}")/> }
                }}
                <Scale scale=scale/>
            </td>
            <td class="num">{o.steps}</td>
            <td class="num">{format!("{:.1}%", o.confidence * 100.0)}</td>
            <td class="predicted" class:bad=!ok>{predicted}</td>
            <td class="num">{format!("{:.2}", o.l2)}</td>
            <td class="num">{format!("{:.2}", o.linf)}</td>
            <td class="num">{o.l0}</td>
            {move || b().map(|r: Reading| {
                let name = names.get(r.predicted).copied().unwrap_or("?");
                view! {
                    <td class="b-predicted" class:fooled=r.fooled title=if r.fooled { "model B predicts the target too: the example transfers" } else { "model B is not fooled" }>
                        {if r.fooled { format!("{name} ✔ fooled") } else { name.to_string() }}
                    </td>
                    <td class="num">{format!("{:.1}%", r.confidence * 100.0)}</td>
                }
            })}
        </tr>
    }
}

/// What both views of a gallery show (the hero's columns and this table): its rows, the class
/// names, the highlighted class, and the recorded frames with the one shown.
#[derive(Clone, Copy)]
pub struct Shown {
    pub rows: RwSignal<Vec<SampleOutcome>>,
    pub names: Signal<[&'static str; 10]>,
    pub current: RwSignal<Option<usize>>,
    pub frames: RwSignal<Vec<(usize, Vec<f32>)>>,
    pub frame: RwSignal<Option<usize>>,
}

/// A row's key by content, so that a row already on the page is not drawn again.
pub fn row_key(i: usize, o: &SampleOutcome, names: [&'static str; 10]) -> (usize, usize, usize, u32, u32, &'static str) {
    (i, o.target, o.steps, o.confidence.to_bits(), o.l2.to_bits(), names[0])
}

#[component]
pub fn Gallery(shown: Shown, readings: RwSignal<Option<ModelReadings>>) -> impl IntoView {
    let Shown { rows, names, current, frames, frame } = shown;
    let b_name = move || readings.with(|r| r.as_ref().map(|r| r.model.clone()));
    view! {
        <p class="gallery-note">"Each row: the network was asked to see the target class in the starting input."</p>
        <div class="gallery-wrap">
        <table class="gallery" id="gallery">
            <thead>
                <tr>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Start"</th>
                    <th scope="col">"Adversarial"</th>
                    <th scope="col">"Perturbation"</th>
                    <th scope="col" title="gradient steps or iterations">"Steps"</th>
                    <th scope="col">"Confidence"</th>
                    <th scope="col">"Predicted"</th>
                    <th scope="col" title="L2 size of the perturbation">"L2"</th>
                    <th scope="col" title="largest pixel change">"L∞"</th>
                    <th scope="col" title="pixels changed">"L0"</th>
                    {move || b_name().map(|b| view! {
                        <th scope="col" class="b-col" title=format!("what model B ({b}) predicts on this adversarial example")>{format!("B ({b}) predicts")}</th>
                        <th scope="col" class="b-col" title=format!("model B's ({b}) confidence in the row's target")>"B's confidence in target"</th>
                    })}
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || rows.get().into_iter().enumerate()
                    key=move |(i, o)| row_key(*i, o, names.get())
                    children=move |(i, o)| view! { <Row outcome=o index=i names=names.get_untracked() current=current frames=frames frame=frame readings=readings/> }
                />
            </tbody>
        </table>
        </div>
    }
}
