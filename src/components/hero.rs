//! The hero view: the ten target classes as ten columns on one screen. Each column holds its
//! class name, the adversarial image (at the played step while kneading), the perturbation with
//! its scale, the network's confidence, steps and L2; with the analysis on, the class pattern,
//! the dataset's template and the template it matches best. The shared start stands once, in a
//! first column that also labels the rows and carries the colour legend. While a run is going,
//! live columns show its inputs kneading as the workers send them.

use leptos::prelude::*;

use dough_core::attack::SampleOutcome;
use dough_core::model::PIXELS;
use dough_core::colormap::{diverging_rgba, gray_rgba, symmetric_scale};
use dough_core::study::pipeline::StudyResult;
use dough_core::study::templates::{TemplateKind, Templates};

use super::draw::frame_image;
use super::gallery::{Scale, Shown, row_key};
use super::pixels::{LivePixels, PixelImage};

fn signed_tile(values: &[f32]) -> Vec<u8> {
    diverging_rgba(values, symmetric_scale(values))
}

/// The study's per-class pictures for the columns, when the analysis has run.
#[derive(Clone)]
struct ColumnPatterns {
    pattern: Vec<f32>,
    template: Vec<f32>,
    signed_template: bool,
    best: usize,
    /// Correlation of the pattern with its own template, and with the best match.
    own_r: f32,
    best_r: f32,
}

#[component]
fn Column(
    outcome: SampleOutcome,
    index: usize,
    names: [&'static str; 10],
    current: RwSignal<Option<usize>>,
    frames: RwSignal<Vec<(usize, Vec<f32>)>>,
    frame: RwSignal<Option<usize>>,
    patterns: Signal<Option<ColumnPatterns>>,
) -> impl IntoView {
    let o = outcome;
    let target = names[o.target];
    let start = StoredValue::new(o.start.clone());
    let last = StoredValue::new(o.adversarial.clone());
    let shown = move || frames.with(|f| frame_image(f, frame.get(), index)).unwrap_or_else(|| last.get_value());
    let scale = symmetric_scale(&o.perturbation());
    let ok = o.predicted == o.target;
    let predicted = names.get(o.predicted).copied().unwrap_or("?");
    let numbers = format!(
        "{target}: {:.1}% confident after {} steps, L2 {:.2}{}",
        o.confidence * 100.0,
        o.steps,
        o.l2,
        if ok { String::new() } else { format!(", but it predicts {predicted}") }
    );
    view! {
        <figure class="class-col" class:missed=!ok class:current=move || current.get() == Some(o.target)
            data-target=o.target data-predicted=o.predicted data-confidence=format!("{:.4}", o.confidence) data-steps=o.steps
            data-reached=o.reached.to_string() data-l2=format!("{:.4}", o.l2)
            on:click=move |_| current.set(Some(o.target))>
            <figcaption class="col-name" title=target>{target}</figcaption>
            // One canvas each for the column's life: a step of the playback redraws it in place.
            <div class="cell"><LivePixels rgba=Signal::derive(move || gray_rgba(&shown())) alt=format!("adversarial example for class {target}") tile="adversarial"/></div>
            <div class="cell">
                <LivePixels rgba=Signal::derive(move || {
                    let d: Vec<f32> = start.with_value(|s| shown().iter().zip(s).map(|(a, s)| a - s).collect());
                    diverging_rgba(&d, scale)
                }) alt=format!("perturbation toward class {target}, scale ±{scale:.2}") tile="perturbation"/>
            </div>
            <div class="col-scale">{format!("±{scale:.2}")}</div>
            <div class="col-nums" aria-label=numbers.clone()>
                <span class="conf" class:bad=!ok>{format!("{:.0}%", o.confidence * 100.0)}</span>
                <span>{format!("{} st", o.steps)}</span>
                <span>{format!("L2 {:.2}", o.l2)}</span>
                {(!ok).then(|| view! { <span class="bad">{format!("→ {predicted}")}</span> })}
            </div>
            // The pattern and template canvases stay while the analysis is on; a new abstraction
            // redraws them in place.
            <Show when=move || patterns.with(|p| p.is_some())>
                <div class="cell pattern-tile" data-best=move || patterns.with(|p| p.as_ref().map(|p| p.best))>
                    <LivePixels rgba=Signal::derive(move || patterns.with(|p| p.as_ref().map(|p| signed_tile(&p.pattern)).unwrap_or_default())) alt=format!("pattern of class {target}") tile="pattern"/>
                </div>
                <div class="cell">
                    <LivePixels rgba=Signal::derive(move || patterns.with(|p| p.as_ref().map(|p| if p.signed_template { signed_tile(&p.template) } else { gray_rgba(&p.template) }).unwrap_or_default()))
                        alt=format!("dataset template of class {target}") tile="template"/>
                </div>
                {move || patterns.get().map(|p| view! {
                    <div class="col-match" class:bad=p.best != o.target
                        title=if p.best == o.target { format!("matches its own template best, r {:+.2}", p.own_r) } else { format!("matches the template of {} best (r {:+.2}; its own: r {:+.2})", names[p.best], p.best_r, p.own_r) }>
                        {if p.best == o.target { format!("✔ r {:+.2}", p.own_r) } else { format!("✘ → {}", names[p.best]) }}
                    </div>
                })}
            </Show>
        </figure>
    }
}

/// A run as it goes: its rows' targets and starts, and the inputs after `step` steps.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveRun {
    pub targets: Vec<usize>,
    pub starts: Vec<Vec<f32>>,
    pub step: usize,
    pub max_steps: usize,
    /// rows x 784
    pub inputs: Vec<f32>,
    /// Live frames shown so far.
    pub shown: usize,
}

impl LiveRun {
    pub fn new(targets: &[usize], starts: &[Vec<f32>], max_steps: usize) -> Self {
        Self { targets: targets.to_vec(), starts: starts.to_vec(), step: 0, max_steps, inputs: starts.concat(), shown: 0 }
    }

    fn row(&self, i: usize) -> Option<&[f32]> {
        self.inputs.get(i * PIXELS..(i + 1) * PIXELS)
    }
}

/// One class's column while the run goes: its input now and what the run added so far. Its
/// canvases stay and redraw in place as the frames come.
#[component]
fn LiveColumn(index: usize, target: usize, names: [&'static str; 10], live: Signal<Option<LiveRun>>) -> impl IntoView {
    let name = names.get(target).copied().unwrap_or("?");
    let now = Memo::new(move |_| {
        live.with(|l| {
            let l = l.as_ref()?;
            let (x, start) = (l.row(index)?, l.starts.get(index)?);
            let d: Vec<f32> = x.iter().zip(start).map(|(a, s)| a - s).collect();
            let scale = symmetric_scale(&d);
            let l2 = d.iter().map(|v| v * v).sum::<f32>().sqrt();
            Some(LiveTiles { input: gray_rgba(x), perturbation: diverging_rgba(&d, scale), scale, l2 })
        })
    });
    let tiles = move |f: fn(&LiveTiles) -> Vec<u8>| Signal::derive(move || now.with(|t| t.as_ref().map(f).unwrap_or_default()));
    let scale = move || now.with(|t| t.as_ref().map_or(0.0, |t| t.scale));
    let l2 = move || now.with(|t| t.as_ref().map_or(0.0, |t| t.l2));
    view! {
        <figure class="live-col" data-target=target>
            <figcaption class="col-name" title=name>{name}</figcaption>
            <div class="cell"><LivePixels rgba=tiles(|t| t.input.clone()) alt=format!("the input evolving toward class {name}") tile="live"/></div>
            <div class="cell"><LivePixels rgba=tiles(|t| t.perturbation.clone()) alt=Signal::derive(move || format!("perturbation so far toward class {name}, scale ±{:.2}", scale())) tile="live-perturbation"/></div>
            <div class="col-scale">{move || format!("±{:.2}", scale())}</div>
            <div class="col-nums"><span class="kneading" data-l2=move || format!("{:.4}", l2())>{move || format!("L2 {:.2}", l2())}</span></div>
        </figure>
    }
}

/// A live column's pictures and numbers at one frame.
#[derive(Clone, PartialEq)]
struct LiveTiles {
    input: Vec<u8>,
    perturbation: Vec<u8>,
    scale: f32,
    l2: f32,
}

/// The top of the first column: the shared start, and the colour legend of the perturbations.
#[component]
fn StartHead(start: Signal<Option<Vec<f32>>>, tile: &'static str, label: &'static str) -> impl IntoView {
    view! {
        <div class="col-name">"start"</div>
        <div class="cell">{move || start.get().map(|s| view! { <PixelImage rgba=gray_rgba(&s) alt="the starting input of every column".to_string() tile=tile/> })}</div>
        <div class="cell legend-cell">
            <span class="row-label">{label}</span>
            <Scale scale=1.0 labelled=false/>
            <span class="legend-text"><span class="added">"orange: ink added"</span>" · "<span class="removed">"blue: removed"</span></span>
        </div>
    }
}

/// The hero's grid while a run goes.
#[component]
fn LiveGrid(live: Signal<Option<LiveRun>>, names: [&'static str; 10]) -> impl IntoView {
    // Memos: a frame changes the step and the inputs, never the rows or the start.
    let rows = Memo::new(move |_| live.with(|l| l.as_ref().map(|l| l.targets.iter().copied().enumerate().collect::<Vec<_>>()).unwrap_or_default()));
    let start = Memo::new(move |_| live.with(|l| l.as_ref().and_then(|l| l.starts.first().cloned())));
    let step = Memo::new(move |_| live.with(|l| l.as_ref().map_or((0, 0), |l| (l.step, l.max_steps))));
    view! {
        <div class="hero-grid live-grid" id="live-grid" data-live-step=move || step.get().0 aria-label=move || format!("kneading: step {} of at most {}", step.get().0, step.get().1)>
            <div class="start-col">
                <StartHead start=start.into() tile="live-start" label="perturbation so far"/>
                <div class="col-scale"></div>
                <div class="col-nums row-label"><span id="live-step">{move || format!("step {}", step.get().0)}</span><span>"L2 so far"</span></div>
            </div>
            <For each=move || rows.get() key=|(i, t)| (*i, *t) children=move |(i, t)| view! { <LiveColumn index=i target=t names=names live=live/> }/>
        </div>
    }
}

#[component]
pub fn Hero(
    shown: Shown,
    result: Memo<Option<StudyResult>>,
    templates: RwSignal<Option<Templates>>,
    template: Signal<TemplateKind>,
    /// The run going now, shown live in place of the last finished one.
    live: Signal<Option<LiveRun>>,
) -> impl IntoView {
    let Shown { rows, names, current, frames, frame } = shown;
    // The columns' patterns follow the study one frame after the analysis view does, so that the
    // two redraws are two short tasks, not one long one.
    let study = RwSignal::new(None::<StudyResult>);
    Effect::new(move |_| {
        let r = result.get();
        leptos::task::spawn_local(async move {
            crate::platform::next_frame().await;
            if result.with_untracked(|now| now == &r) {
                study.set(r);
            }
        });
    });
    let result = study;
    let start = move || rows.with(|r| r.first().map(|o| o.start.clone()));
    let has_patterns = move || result.with(|r| r.is_some());
    let summary = move || {
        result.with(|r| {
            r.as_ref().map(|r| {
                let pct = |v: f32| format!("{:.0}%", v * 100.0);
                let untrained = r.untrained_null.as_ref().map(|u| format!(", untrained network {}", pct(u.vs_dataset.identification))).unwrap_or_default();
                format!(
                    "Patterns match their own class's template for {} of the classes (random perturbations {}{untrained}; chance 10%).",
                    pct(r.model.vs_dataset.identification),
                    pct(r.random_null.vs_dataset.identification)
                )
            })
        })
    };
    view! {
        <section class="hero" id="hero" aria-label="The gallery: one column per target class" data-columns=move || rows.with(|r| r.len())
            data-live=move || live.with(|l| l.is_some()).to_string()>
            <Show when=move || live.with(|l| l.is_some())>
                <LiveGrid live=live names=names.get_untracked()/>
            </Show>
            <div class="hero-grid result-grid" class:with-patterns=has_patterns class:behind-live=move || live.with(|l| l.is_some())>
                <div class="start-col">
                    <StartHead start=Signal::derive(start) tile="start" label="perturbation"/>
                    <div class="col-scale"></div>
                    <div class="col-nums row-label"><span>"confidence"</span><span>"steps"</span><span>"L2"</span></div>
                    <Show when=has_patterns>
                        <div class="cell row-label pattern-label">"class pattern"</div>
                        <div class="cell row-label pattern-label" title=move || template.get().label()>{move || format!("{} template", template.get().slug())}</div>
                        <div class="col-match row-label pattern-label">"best match"</div>
                    </Show>
                </div>
                <For
                    each=move || rows.get().into_iter().enumerate()
                    key=move |(i, o)| row_key(*i, o, names.get())
                    children=move |(i, o)| {
                        let target = o.target;
                        let patterns = Signal::derive(move || {
                            let kind = template.get();
                            result.with(|r| {
                                let r = r.as_ref()?;
                                let pattern = r.patterns.get(target)?.clone();
                                let template = templates.with(|t| t.as_ref().and_then(|t| t.get(kind).get(target).cloned())).unwrap_or_default();
                                let m = &r.model.vs_dataset;
                                let best = m.best_match(target).unwrap_or(target);
                                let row = m.matrix.get(target)?;
                                Some(ColumnPatterns { pattern, template, signed_template: kind != TemplateKind::ClassMean, best, own_r: row[target], best_r: row[best] })
                            })
                        });
                        view! { <Column outcome=o index=i names=names.get_untracked() current=current frames=frames frame=frame patterns=patterns/> }
                    }
                />
            </div>
            <p class="hero-summary" id="hero-summary">{summary}</p>
        </section>
    }
}
