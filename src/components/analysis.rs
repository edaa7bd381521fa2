//! The analysis view: per-class patterns abstracted from the study's perturbations, compared
//! with the dataset's templates (heatmap, identification, margin, recurrence), beside the nulls.

use leptos::prelude::*;
use reactive_stores::Store;

use dough_core::colormap::{diverging_rgba, gray_rgba, symmetric_scale};
use dough_core::drive::Progress;
use dough_core::study::abstraction::PatternMethod;
use dough_core::study::pipeline::{Analysis, StudyResult};
use dough_core::study::replicates::{Replicated, Scores};
use dough_core::study::stats::p_label;
use dough_core::study::templates::{TemplateKind, Templates};
use dough_core::settings::{DEFAULT_TOP_PERCENT, MAX_PAGE_SEEDS, SIGMA_RANGE, Settings, SettingsStoreFields, TOP_PERCENT_RANGE};

use super::controls::FloatField;
use super::heatmap::{MapLegend, heat_cell};
use super::pixels::LivePixels;

/// Where the study stands (`data-study` on the analysis section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StudyStatus {
    Idle,
    Running,
    Done,
    Error,
}

impl StudyStatus {
    pub fn slug(self) -> &'static str {
        match self {
            StudyStatus::Idle => "idle",
            StudyStatus::Running => "running",
            StudyStatus::Done => "done",
            StudyStatus::Error => "error",
        }
    }
}

fn tile(values: &[f32], signed: bool) -> Vec<u8> {
    if signed { diverging_rgba(values, symmetric_scale(values)) } else { gray_rgba(values) }
}

/// One row of the score table: one seed's analysis, or (with several seeds) each score's mean
/// and 95% interval over the seeds. A null "does as well" when its margin reaches the model's
/// (with intervals: its interval reaches the model's lower end) or it identifies more classes.
#[component]
fn ScoreRow(label: &'static str, a: Analysis, p: Option<f32>, over: Option<Scores>, model: Option<Scores>, model_margin: f32, model_ident: f32, is_model: bool) -> impl IntoView {
    let below = !is_model
        && match (&over, &model) {
            (Some(o), Some(m)) => o.margin.hi >= m.margin.lo || o.identification.mean > m.identification.mean,
            _ => a.vs_dataset.margin >= model_margin || a.vs_dataset.identification > model_ident,
        };
    let pct = |v: f32| format!("{:.0}%", v * 100.0);
    let (ident, margin, same, diff, reached, p) = match &over {
        Some(o) => (
            format!("{} [{}–{}]", pct(o.identification.mean), pct(o.identification.lo), pct(o.identification.hi)),
            format!("{:+.3} [{:+.3}, {:+.3}]", o.margin.mean, o.margin.lo, o.margin.hi),
            format!("{:+.3} [{:+.3}, {:+.3}]", o.recurrence_same.mean, o.recurrence_same.lo, o.recurrence_same.hi),
            format!("{:+.3} [{:+.3}, {:+.3}]", o.recurrence_different.mean, o.recurrence_different.lo, o.recurrence_different.hi),
            pct(o.reached.mean),
            Some(o.p_value),
        ),
        None => (
            pct(a.vs_dataset.identification),
            format!("{:+.3}", a.vs_dataset.margin),
            format!("{:+.3}", a.recurrence.same_target),
            format!("{:+.3}", a.recurrence.different_target),
            pct(a.reached),
            p,
        ),
    };
    view! {
        <tr class:null-wins=below data-row=label data-ident-lo=over.as_ref().map(|o| format!("{:.6}", o.identification.lo)) data-ident-hi=over.as_ref().map(|o| format!("{:.6}", o.identification.hi))>
            <th scope="row">{label}</th>
            <td class="num ident">{ident}</td>
            <td class="num p-value" data-p=p.map(|p| format!("{p:.6}"))>{p.map(p_label).unwrap_or_default()}</td>
            <td class="num margin">{margin}</td>
            <td class="num">{same}</td>
            <td class="num">{diff}</td>
            <td class="num">{reached}</td>
            <td>{if is_model { "" } else if below { "the null does as well: no evidence here" } else { "model beats this null" }}</td>
        </tr>
    }
}

#[component]
fn Heatmap(matrix: Vec<Vec<f32>>, names: [&'static str; 10], template: TemplateKind) -> impl IntoView {
    view! {
        <table class="heatmap" id="study-heatmap" aria-label=format!("correlation of each class's pattern (rows) with each class's {} template (columns)", template.label())>
            <thead><tr><th></th>{names.iter().map(|n| view! { <th scope="col">{*n}</th> }).collect_view()}</tr></thead>
            <tbody>
                {matrix.iter().enumerate().map(|(i, row)| view! {
                    <tr>
                        <th scope="row">{names[i]}</th>
                        {row.iter().enumerate().map(|(j, v)| {
                            heat_cell(*v, i == j, format!("{v:+.2}"), format!("pattern {} vs template {}: {v:+.3}", names[i], names[j]), *v)
                        }).collect_view()}
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Each class's pattern, its own template and the template it matches best: 30 canvases made
/// once, redrawn in place when the study's statistics change.
#[component]
fn PatternsTable(result: Memo<Option<StudyResult>>, templates: RwSignal<Option<Templates>>, template: Signal<TemplateKind>, names: Signal<[&'static str; 10]>) -> impl IntoView {
    let best = move |c: usize| result.with(|r| r.as_ref().and_then(|r| r.model.vs_dataset.best_match(c)).unwrap_or(c));
    let template_tile = move |c: usize| {
        let kind = template.get();
        templates.with(|t| t.as_ref().and_then(|t| t.get(kind).get(c).map(|v| tile(v, kind != TemplateKind::ClassMean)))).unwrap_or_default()
    };
    view! {
        <table class="patterns" id="study-patterns" aria-label="each class's pattern, its own template, and the template it matches best">
            <thead><tr><th></th>{(0..10).map(|c| view! { <th scope="col">{move || names.get()[c]}</th> }).collect_view()}</tr></thead>
            <tbody>
                <tr>
                    <th scope="row">"pattern"</th>
                    {(0..10).map(|c| view! {
                        <td class="pattern-cell" data-class=c data-best=move || best(c)>
                            <LivePixels rgba=Signal::derive(move || result.with(|r| r.as_ref().and_then(|r| r.patterns.get(c)).map(|p| tile(p, true)).unwrap_or_default()))
                                alt=Signal::derive(move || format!("pattern of class {}", names.get()[c])) tile="study-pattern"/>
                        </td>
                    }).collect_view()}
                </tr>
                <tr>
                    <th scope="row">"its template"</th>
                    {(0..10).map(|c| view! {
                        <td><LivePixels rgba=Signal::derive(move || template_tile(c)) alt=Signal::derive(move || format!("{} template of class {}", template.get().label(), names.get()[c])) tile="study-template"/></td>
                    }).collect_view()}
                </tr>
                <tr>
                    <th scope="row">"best match"</th>
                    {(0..10).map(|c| view! {
                        <td class:mismatch=move || best(c) != c>
                            <LivePixels rgba=Signal::derive(move || template_tile(best(c)))
                                alt=Signal::derive(move || format!("best-matching template of class {}'s pattern: class {}", names.get()[c], names.get()[best(c)])) tile="study-best"/>
                            <div class="best-label" class:bad=move || best(c) != c>{move || names.get()[best(c)]}</div>
                        </td>
                    }).collect_view()}
                </tr>
            </tbody>
        </table>
    }
}

#[component]
pub fn AnalysisView(
    settings: Store<Settings>,
    names: Signal<[&'static str; 10]>,
    status: RwSignal<StudyStatus>,
    result: Memo<Option<StudyResult>>,
    /// The scores over every seed run, when more than one ran (`seeds=`).
    replicated: Memo<Option<Replicated>>,
    templates: RwSignal<Option<Templates>>,
    /// The study driver's progress (shown while it runs).
    progress: RwSignal<Progress>,
    /// New abstraction or template settings (no new attack needed).
    on_settings: Callback<Settings>,
    on_run: Callback<()>,
    busy: Signal<bool>,
) -> impl IntoView {
    let change = move |f: &dyn Fn(&mut Settings)| {
        let mut s = settings.get_untracked();
        f(&mut s);
        on_settings.run(s);
    };
    let method_slug = move || match settings.abstraction().with(|a| a.method) {
        PatternMethod::MeanUnit => "mean",
        PatternMethod::TopMask { .. } => "top",
        PatternMethod::Sign => "sign",
    };
    view! {
        <section class="analysis" id="analysis" data-study=move || status.get().slug() aria-labelledby="analysis-title">
            <h2 id="analysis-title">"Analysis: are the perturbations class semantics?"</h2>
            <p class="gallery-note">
                "The study attacks five controlled inputs (black, mid-gray, three noise images from the seed) toward every class, "
                "abstracts the perturbations of each class into one pattern, and correlates the patterns with templates computed "
                "from the 60,000 training images. Beside it: the same numbers for random perturbations of the same sizes, and for "
                "an untrained network of the same architecture."
            </p>
            <div class="controls analysis-controls">
                <label>
                    "Pattern "
                    <select id="abs-select" on:change=move |ev| {
                        let m = match event_target_value(&ev).as_str() {
                            "top" => PatternMethod::TopMask { percent: DEFAULT_TOP_PERCENT },
                            "sign" => PatternMethod::Sign,
                            _ => PatternMethod::MeanUnit,
                        };
                        change(&|s| s.abstraction.method = m);
                    }>
                        <option value="mean" selected=move || method_slug() == "mean">"mean of unit-norm perturbations"</option>
                        <option value="top" selected=move || method_slug() == "top">"top p% magnitude mask (signed)"</option>
                        <option value="sign" selected=move || method_slug() == "sign">"majority sign × agreement"</option>
                    </select>
                </label>
                <Show when=move || method_slug() == "top">
                    <FloatField id="top-input" label="keep top % " range=TOP_PERCENT_RANGE step="0.5"
                        value=Signal::derive(move || match settings.abstraction().with(|a| a.method) { PatternMethod::TopMask { percent } => percent, _ => DEFAULT_TOP_PERCENT })
                        on_set=Callback::new(move |p| change(&|s| s.abstraction.method = PatternMethod::TopMask { percent: p }))/>
                </Show>
                <FloatField id="sigma-input" label="smoothing σ (px) " range=SIGMA_RANGE step="0.25"
                    value=Signal::derive(move || settings.abstraction().with(|a| a.sigma))
                    on_set=Callback::new(move |v| change(&|s| s.abstraction.sigma = v))/>
                <label>
                    "Dataset template "
                    <select id="template-select" on:change=move |ev| {
                        if let Some(t) = TemplateKind::parse(&event_target_value(&ev)) { change(&|s| s.template = t); }
                    }>
                        {TemplateKind::ALL.into_iter().map(|t| view! {
                            <option value=t.slug() selected=move || settings.template().get() == t>{t.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Seeds "
                    <select id="study-seeds-select" on:change=move |ev| {
                        if let Ok(k) = event_target_value(&ev).parse::<usize>() { change(&|s| s.seeds = k.clamp(1, MAX_PAGE_SEEDS)); }
                    }>
                        {(1..=MAX_PAGE_SEEDS).map(|k| view! { <option value=k.to_string() selected=move || settings.seeds().get() == k>{k.to_string()}</option> }).collect_view()}
                    </select>
                </label>
                <button id="study-run" type="button" disabled=busy on:click=move |_| on_run.run(())>
                    {move || if status.get() == StudyStatus::Running { "Analysing…" } else { "Run the study" }}
                </button>
                <Show when=move || status.get() == StudyStatus::Running>
                    <span class="study-progress" id="study-progress" role="status">{move || progress.with(|p| {
                        if p.attacks == 0 { String::new() } else { format!("{} of {} attacks done · {}", p.attacks_done, p.attacks, p.label) }
                    })}</span>
                </Show>
            </div>
            {move || result.get().map(|r| {
                let template = settings.template().get();
                let method = settings.attack().with(|a| a.method);
                let abstraction = settings.abstraction().get();
                let seed = settings.seed().get();
                let m = r.model.clone();
                let untrained = r.untrained_null.clone();
                let rep = replicated.get();
                view! {
                    <p class="analysis-method">{format!("{} attack · {} · compared with the {} template", method.label(), abstraction.describe(), template.label())}</p>
                    {match replicated.get() {
                        None => view! { <p class="analysis-seeds" id="study-seeds" data-seeds="1">{format!(
                            "1 seed (seed {}): the numbers are one draw of the controlled inputs, without an interval; p is exact for this draw. \
                             Choose more seeds for intervals; the report (results/REPORT.md) uses 5.", seed)}</p> }.into_any(),
                        Some(rep) => {
                            let k = rep.seeds.len();
                            let list = rep.seeds.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
                            view! { <p class="analysis-seeds" id="study-seeds" data-seeds=k>{format!(
                                "{k} seeds ({list}): each score is the mean with its 95% interval (Student t over the seeds); p counts relabellings that identify at least as many classes over all {k} seeds.{} \
                                 The heatmap and the patterns show seed {}.",
                                if k < 5 { " Fewer seeds than the report's 5." } else { "" }, rep.seeds[0])}</p> }.into_any()
                        }
                    }}
                    <table class="scores" id="study-scores" data-attack=method.slug()>
                        <thead><tr>
                            <th></th>
                            <th scope="col" title="share of classes whose pattern best matches its own template (chance 10%)">"identification"</th>
                            <th scope="col" title="permutation p-value: share of 9,999 random relabellings of the classes that identify at least as many classes">"p"</th>
                            <th scope="col" title="mean diagonal minus mean off-diagonal correlation">"diagonal margin"</th>
                            <th scope="col" title="mean correlation of one target's per-input patterns across inputs">"recurrence, same target"</th>
                            <th scope="col">"recurrence, different targets"</th>
                            <th scope="col" title="share of samples that met the attack's goal">{if method == dough_core::suite::AttackMethod::Evolve { "reached κ" } else { "reached target" }}</th>
                            <th></th>
                        </tr></thead>
                        <tbody>
                            <ScoreRow label="this model" a=m.clone() p=Some(r.p_values.model) over=rep.as_ref().map(|x| x.model.clone()) model=rep.as_ref().map(|x| x.model.clone())
                                model_margin=m.vs_dataset.margin model_ident=m.vs_dataset.identification is_model=true/>
                            <ScoreRow label="random perturbations (null)" a=r.random_null.clone() p=Some(r.p_values.random_null) over=rep.as_ref().map(|x| x.random_null.clone()) model=rep.as_ref().map(|x| x.model.clone())
                                model_margin=m.vs_dataset.margin model_ident=m.vs_dataset.identification is_model=false/>
                            {untrained.map(|u| view! { <ScoreRow label="untrained network (null)" a=u p=r.p_values.untrained_null over=rep.as_ref().and_then(|x| x.untrained_null.clone()) model=rep.as_ref().map(|x| x.model.clone())
                                model_margin=m.vs_dataset.margin model_ident=m.vs_dataset.identification is_model=false/> })}
                        </tbody>
                    </table>
                }
            })}
            // The heatmap follows each result; the pattern tiles stay and redraw in place.
            <Show when=move || result.with(|r| r.is_some())>
                <div class="analysis-grid">
                    <div class="heatmap-block">
                        {move || result.with(|r| r.as_ref().map(|r| view! { <Heatmap matrix=r.model.vs_dataset.matrix.clone() names=names.get() template=settings.template().get()/> }))}
                        <MapLegend low="−1" mid="correlation, 0 white" high="+1" about="heatmap colours: blue is a correlation of −1, white 0, orange +1"/>
                    </div>
                    <PatternsTable result=result templates=templates template=Signal::derive(move || settings.template().get()) names=names/>
                    <MapLegend low="ink removed" mid="patterns: each tile to its own ±max" high="ink added" about="pattern colours: orange adds ink, blue removes it, each tile scaled to its own largest value"/>
                </div>
            </Show>
        </section>
    }
}
