//! "Train your own network": the recipe, Train / Pause / Cancel, progress, the loss curve and the
//! test accuracy per epoch (SVG), seconds per epoch, and the filmstrip: per snapshot (the untrained
//! network, then every epoch) its accuracy, how many classes' patterns identify their own class
//! against the dataset's contrast template, the margin, and the ten class patterns. "Train on
//! dough" trains on model A's D_det instead and shows the result beside its control.

use leptos::prelude::*;

use dough_core::colormap::{diverging_rgba, symmetric_scale};
use dough_core::manifest::ModelEntry;
use dough_core::plant::{PlantKind, Position};
use dough_core::protocol::DoughPhase;
use dough_core::dough_data::{BATCH, estimate_build};
use dough_core::train_recipe::{DEFAULT_MNIST_FLOOR, DOUGH_DEFAULT, DOUGH_RANGE, TrainArch, TrainRecipe};

use crate::components::pixels::PixelImage;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainStatus {
    Idle,
    Running,
    Done,
    Error,
}

impl TrainStatus {
    /// For `data-train-status`.
    pub fn slug(self) -> &'static str {
        match self {
            TrainStatus::Idle => "idle",
            TrainStatus::Running => "running",
            TrainStatus::Done => "done",
            TrainStatus::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainProgress {
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
}

/// One row of the filmstrip.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub epoch: usize,
    pub test_accuracy: f64,
    pub seconds: f64,
    /// Classes whose pattern matches their own contrast template best.
    pub identified: usize,
    pub margin: f32,
    pub patterns: Vec<Vec<f32>>,
}

/// "Train on dough" timed before it starts: one batch of test images attacked as the build
/// attacks each of its batches, on one worker of the page's.
#[derive(Clone, Debug, PartialEq)]
pub enum DoughTiming {
    Idle,
    Running,
    /// `images` of model `source` took `seconds`; the build would run on `workers` workers.
    Done { source: String, images: usize, seconds: f64, workers: usize },
    Failed(String),
}

/// "Train on dough": the source network, the set's size, where it is and what came out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DoughStatus {
    pub source: String,
    pub count: usize,
    /// When the run started (`platform::now_ms`), for the time left.
    pub started_ms: f64,
    pub phase: Option<(DoughPhase, usize, usize)>,
    /// Kept, attempted, seconds to build, median L2 of the kept perturbations.
    pub built: Option<(usize, usize, f64, f32)>,
    /// The control network's test accuracy.
    pub control: Option<f64>,
    /// Workers that attacked the images (1: the training worker alone; more: the CPU pool).
    pub workers: usize,
}

impl DoughStatus {
    /// The trained network's manifest note.
    pub fn note(&self) -> String {
        let kept = self.built.map_or(String::new(), |(k, a, _, _)| format!(": {k} of {a} images kept"));
        let control = self.control.map_or(String::new(), |c| format!("; the control (same clean images, same labels) reached {:.2}%", c * 100.0));
        format!("Trained on nothing but dough: the D_det of {} from {} training images{kept}{control}.", self.source, self.count)
    }

    /// The progress line: what is being done and, once the pace is known, the time left of it.
    fn line(&self, now_ms: f64) -> Option<String> {
        let (phase, done, total) = self.phase?;
        let what = match phase {
            DoughPhase::Build => format!("building D_det of {}{}: {done} of {total} images attacked", self.source, if self.workers > 1 { format!(" on {} workers", self.workers) } else { String::new() }),
            DoughPhase::Control => format!("training the control: batch {done} of {total}"),
        };
        let left = match phase {
            DoughPhase::Build if done > 0 => {
                let per = (now_ms - self.started_ms) / done as f64;
                format!(", about {:.0} s left to build", per * (total - done) as f64 / 1000.0)
            }
            _ => String::new(),
        };
        Some(format!("{what}{left}"))
    }
}

const W: f64 = 320.0;
const H: f64 = 120.0;

/// Polyline points of `(x, y)` in [0, x_max] x [0, y_max], y up.
fn points(values: &[(f64, f64)], x_max: f64, y_max: f64) -> String {
    values.iter().map(|(x, y)| format!("{:.1},{:.1}", x / x_max.max(1e-9) * W, H - (y / y_max.max(1e-9)).min(1.0) * H)).collect::<Vec<_>>().join(" ")
}

fn number<T: std::str::FromStr>(ev: &leptos::ev::Event) -> Option<T> {
    event_target_value(ev).trim().parse().ok()
}

fn whole(ev: &leptos::ev::Event) -> Option<usize> {
    number(ev)
}

fn seed(ev: &leptos::ev::Event) -> Option<u64> {
    number(ev)
}

fn real(ev: &leptos::ev::Event) -> Option<f64> {
    number(ev)
}

#[component]
pub fn TrainPanel(
    recipe: Signal<TrainRecipe>,
    on_recipe: Callback<TrainRecipe>,
    status: RwSignal<TrainStatus>,
    error: RwSignal<Option<String>>,
    progress: RwSignal<Option<TrainProgress>>,
    losses: RwSignal<Vec<(f64, f32)>>,
    snapshots: RwSignal<Vec<Snapshot>>,
    paused: RwSignal<bool>,
    trained: RwSignal<Option<ModelEntry>>,
    names: Signal<[&'static str; 10]>,
    on_train: Callback<()>,
    on_cancel: Callback<()>,
    on_pause: Callback<bool>,
    on_download: Callback<()>,
    busy: Signal<bool>,
    dough: RwSignal<Option<DoughStatus>>,
    /// Model A's name: the source of "train on dough".
    source: Signal<Option<String>>,
    timing: RwSignal<DoughTiming>,
    on_time: Callback<()>,
) -> impl IntoView {
    let edit = move |f: &dyn Fn(&mut TrainRecipe)| {
        let mut r = recipe.get_untracked();
        f(&mut r);
        on_recipe.run(r);
    };
    let running = move || status.get() == TrainStatus::Running;
    let accuracy = move || (status.get() == TrainStatus::Done).then(|| snapshots.with(|s| s.last().map(|s| format!("{:.4}", s.test_accuracy)))).flatten();
    let loss_curve = move || {
        let epochs = recipe.with(|r| r.epochs) as f64;
        losses.with(|l| {
            let top = l.iter().map(|(_, y)| *y as f64).fold(0.0, f64::max);
            (points(&l.iter().map(|(x, y)| (*x, *y as f64)).collect::<Vec<_>>(), epochs, top), top)
        })
    };
    let accuracy_curve = move || {
        let epochs = recipe.with(|r| r.epochs) as f64;
        snapshots.with(|s| points(&s.iter().map(|s| (s.epoch as f64, s.test_accuracy)).collect::<Vec<_>>(), epochs, 1.0))
    };
    let below_floor = move || {
        let r = recipe.get();
        let ds = trained.with(|t| t.as_ref().map(|e| e.dataset));
        trained.with(|t| t.as_ref().map(|e| e.test_accuracy)).filter(|&a| r.is_default() && ds == Some(dough_core::manifest::DatasetId::Mnist) && a < DEFAULT_MNIST_FLOOR)
    };
    view! {
        <details class="upload train" id="train-panel" open=move || recipe.with_untracked(|r| r.run)
            data-train-status=move || status.get().slug() data-train-accuracy=accuracy>
            <summary>"Train your own network"</summary>
            <div class="upload-body">
                <p class="upload-hint">"Trains in a compute worker of its own (galleries keep running meanwhile) on the chosen backend, on a training pack of 20,000 images of model A's dataset (fetched when training starts: 3.2 MB for MNIST, 8.7 MB for Fashion-MNIST), and measures accuracy on the 3,000 test images of the sample pack. The default is the zoo's mnist-mlp-shift recipe."</p>
                <label>"Network (mlp:W1,W2,… or lenet) "
                    <input id="train-arch" type="text" prop:value=move || recipe.with(|r| r.arch.slug())
                        on:change=move |ev| if let Some(a) = TrainArch::parse(event_target_value(&ev).trim()) { edit(&|r| r.arch = a.clone()) }/></label>
                <label>"Epochs " <input id="train-epochs" type="number" min="1" max="50" prop:value=move || recipe.with(|r| r.epochs)
                    on:change=move |ev| if let Some(n) = whole(&ev) { edit(&|r| r.epochs = n.clamp(1, 50)) }/></label>
                <label>"Batch size " <input id="train-batch" type="number" min="8" max="1024" prop:value=move || recipe.with(|r| r.batch_size)
                    on:change=move |ev| if let Some(n) = whole(&ev) { edit(&|r| r.batch_size = n.clamp(8, 1024)) }/></label>
                <label>"Learning rate " <input id="train-lr" type="number" step="0.0001" prop:value=move || recipe.with(|r| r.learning_rate)
                    on:change=move |ev| if let Some(x) = real(&ev) { edit(&|r| r.learning_rate = x.clamp(1e-5, 0.1)) }/></label>
                <label>"Seed " <input id="train-seed" type="number" min="0" prop:value=move || recipe.with(|r| r.seed)
                    on:change=move |ev| if let Some(n) = seed(&ev) { edit(&|r| r.seed = n) }/></label>
                <label class="inline"><input id="train-shift" type="checkbox" prop:checked=move || recipe.with(|r| r.shift)
                    on:change=move |ev| { let on = event_target_checked(&ev); edit(&|r| r.shift = on) }/>" Shift augmentation (up to 2 pixels)"</label>
                <label>"Adversarial training: PGD eps (0: off) " <input id="train-pgd" type="number" step="0.01" min="0" max="0.3" prop:value=move || recipe.with(|r| r.pgd_eps.unwrap_or(0.0))
                    on:change=move |ev| if let Some(x) = real(&ev) { edit(&|r| r.pgd_eps = (x > 0.0).then_some(x.min(0.3))) }/></label>
                <fieldset class="train-plant" id="train-plant">
                    <legend>"Plant a feature (a causal test: will the dough find it?)"</legend>
                    <label>"Plant " <select id="train-plant-kind" on:change=move |ev| if let Some(k) = PlantKind::parse(&event_target_value(&ev)) { edit(&|r| r.plant.kind = k) }>
                        {[(PlantKind::None, "none"), (PlantKind::Shortcut, "shortcut: a patch on every image of the class"), (PlantKind::Backdoor, "backdoor: a patch on a share of all images, relabelled to the class")]
                            .map(|(k, label)| view! { <option value=k.slug() selected=move || recipe.with(|r| r.plant.kind == k)>{label}</option> }).collect_view()}
                    </select></label>
                    <Show when=move || recipe.with(|r| r.plant.is_planted())>
                        <label>"Class " <select id="train-plant-class" on:change=move |ev| if let Some(c) = whole(&ev) { edit(&|r| r.plant.class = c.min(9)) }>
                            {move || names.get().iter().enumerate().map(|(c, n)| view! { <option value=c.to_string() selected=move || recipe.with(|r| r.plant.class == c)>{n.to_string()}</option> }).collect_view()}
                        </select></label>
                        <label>"Patch size (px) " <input id="train-plant-size" type="number" min="1" max="26" prop:value=move || recipe.with(|r| r.plant.size)
                            on:change=move |ev| if let Some(n) = whole(&ev) { edit(&|r| r.plant.size = n.clamp(1, 26)) }/></label>
                        <label>"Corner " <select id="train-plant-corner" on:change=move |ev| if let Some(p) = Position::parse(&event_target_value(&ev)) { edit(&|r| r.plant.at = p) }>
                            {[(Position::TopLeft, "top left"), (Position::TopRight, "top right"), (Position::BottomLeft, "bottom left"), (Position::BottomRight, "bottom right")]
                                .map(|(p, label)| view! { <option value=p.to_string() selected=move || recipe.with(|r| r.plant.at == p)>{label}</option> }).collect_view()}
                        </select></label>
                        <Show when=move || recipe.with(|r| r.plant.kind == PlantKind::Backdoor)>
                            <label>"Share of images stamped " <input id="train-plant-share" type="number" step="0.01" min="0.001" max="1" prop:value=move || recipe.with(|r| r.plant.share)
                                on:change=move |ev| if let Some(x) = real(&ev) { edit(&|r| r.plant.share = x.clamp(0.001, 1.0)) }/></label>
                        </Show>
                        <p class="upload-hint" id="train-plant-describe">{move || recipe.with(|r| match r.plant.validate() {
                            Ok(()) => format!("{}. With the analysis on, the planted-feature check runs when training ends.", r.plant.describe()),
                            Err(e) => format!("This plant cannot be trained: {e}."),
                        })}</p>
                    </Show>
                </fieldset>
                <fieldset class="train-plant" id="train-dough">
                    <legend>"Train on dough (a causal test: do the perturbations carry the classes?)"</legend>
                    <label class="inline"><input id="train-dough-on" type="checkbox" prop:checked=move || recipe.with(|r| r.dough.is_some())
                        on:change=move |ev| { let on = event_target_checked(&ev); edit(&|r| r.dough = on.then_some(r.dough.unwrap_or(DOUGH_DEFAULT))) }/>
                        " Train only on model A's adversarial examples"</label>
                    <Show when=move || recipe.with(|r| r.dough.is_some())>
                        <label>"Training images to attack " <input id="train-dough-count" type="number" min=DOUGH_RANGE.0 max=DOUGH_RANGE.1 step="100"
                            prop:value=move || recipe.with(|r| r.dough.unwrap_or(DOUGH_DEFAULT))
                            on:change=move |ev| if let Some(n) = whole(&ev) { edit(&|r| r.dough = Some(n.clamp(DOUGH_RANGE.0 as usize, DOUGH_RANGE.1 as usize))) }/></label>
                        <p class="upload-hint" id="train-dough-describe">{move || {
                            let n = recipe.with(|r| r.dough.unwrap_or(DOUGH_DEFAULT));
                            match source.get() {
                                Some(s) => format!(
                                    "Each of {n} training images is attacked toward the class after its own ((label + 1) mod 10) on {s} by minimal evolution; the ones that get there are kept, labelled with that wrong class (D_det, Ilyas et al. 2019). The network trains on those alone, then a control of the same recipe trains on the same clean images with the same labels. Test accuracy far above the control means the perturbations taught the real classes. With more than one CPU worker (the workers= key of the URL), the pool attacks the images, a batch of 100 per free worker; on one core it is slow. The progress line gives the time left once the first images are done."
                                ),
                                None => "Choose model A first: it is the network whose dough is learnt.".to_string(),
                            }
                        }}</p>
                        <Show when=move || source.with(|s| s.is_some())>
                            <div class="train-buttons">
                                <button type="button" id="train-dough-time" class="secondary" disabled=move || timing.get() == DoughTiming::Running || running()
                                    on:click=move |_| on_time.run(())>{format!("Time {BATCH} images first")}</button>
                            </div>
                            <p class="upload-hint" id="train-dough-estimate" aria-live="polite"
                                data-seconds=move || timing.with(|t| match t {
                                    DoughTiming::Done { seconds, workers, .. } => Some(format!("{:.2}", estimate_build(recipe.with(|r| r.dough.unwrap_or(DOUGH_DEFAULT)), *seconds, *workers))),
                                    _ => None,
                                })>
                                {move || timing.with(|t| match t {
                                    DoughTiming::Idle => String::new(),
                                    DoughTiming::Running => format!("Attacking {BATCH} test images toward their next class…"),
                                    DoughTiming::Failed(e) => format!("It could not be timed: {e}"),
                                    DoughTiming::Done { source: s, images, seconds, workers } => {
                                        let n = recipe.with(|r| r.dough.unwrap_or(DOUGH_DEFAULT));
                                        let on = if *workers > 1 { format!("{workers} workers") } else { "one worker".to_string() };
                                        let stale = if source.with(|now| now.as_deref() != Some(s.as_str())) { format!(" (timed on {s}, not model A)") } else { String::new() };
                                        format!("{images} test images took {seconds:.1} s on one worker here{stale}: building D_det of {n} would take about {:.0} s on {on}, then the two networks train.", estimate_build(n, *seconds, *workers))
                                    }
                                })}
                            </p>
                        </Show>
                    </Show>
                </fieldset>
                <div class="train-buttons">
                    <button type="button" id="train-start" disabled=move || busy.get() || running() on:click=move |_| on_train.run(())>"Train"</button>
                    <button type="button" id="train-pause" class="secondary" disabled=move || !running() on:click=move |_| on_pause.run(!paused.get_untracked())>
                        {move || if paused.get() { "Resume" } else { "Pause" }}</button>
                    <button type="button" id="train-cancel" class="secondary" disabled=move || !running() on:click=move |_| on_cancel.run(())>"Cancel"</button>
                    <button type="button" id="train-download" class="secondary" disabled=move || trained.with(|t| t.is_none()) on:click=move |_| on_download.run(())>"Download (.safetensors + manifest entry)"</button>
                </div>
                <p id="train-progress" aria-live="polite">{move || progress.get().map(|p| format!("epoch {}/{}, batch {}/{}{}", p.epoch + 1, p.epochs, p.batch, p.batches, if paused.get() { " (paused)" } else { "" }))}</p>
                <p id="train-dough-progress" aria-live="polite">{move || dough.with(|d| d.as_ref().and_then(|d| d.line(crate::platform::now_ms())))}</p>
                <Show when=move || dough.with(|d| d.as_ref().is_some_and(|d| d.built.is_some()))>
                    <p id="train-dough-result" data-kept=move || dough.with(|d| d.as_ref().and_then(|d| d.built).map(|b| b.0))
                        data-control=move || dough.with(|d| d.as_ref().and_then(|d| d.control).map(|c| format!("{c:.4}")))>{move || dough.with(|d| {
                        let Some(d) = d else { return String::new() };
                        let Some((kept, attempted, seconds, l2)) = d.built else { return String::new() };
                        let built = format!("D_det of {}: {kept} of {attempted} images reached their target ({seconds:.0} s, median perturbation L2 {l2:.2}).", d.source);
                        let done = status.get() == TrainStatus::Done;
                        let acc = snapshots.with(|s| s.last().map(|s| s.test_accuracy)).filter(|_| done);
                        match (acc, d.control) {
                            (Some(a), Some(c)) => format!("{built} Trained on it alone: {:.2}% on the real test images; the control (clean images, same labels): {:.2}%; chance: 10%.", a * 100.0, c * 100.0),
                            _ => built,
                        }
                    })}</p>
                </Show>
                <Show when=move || error.get().is_some()>
                    <p class="error" role="alert" id="train-error">{move || error.get().unwrap_or_default()}</p>
                </Show>
                <Show when=move || below_floor().is_some()>
                    <p class="error" id="train-floor">{move || format!("The default recipe ended at {:.2}% on MNIST, below the {:.0}% it should reach.", below_floor().unwrap_or(0.0) * 100.0, DEFAULT_MNIST_FLOOR * 100.0)}</p>
                </Show>
                <p id="train-model">{move || trained.get().map(|e| format!("\"{}\" ({} parameters, {:.2}% on the test sample pack) is now a model of this session: pick it in the model list.", e.name, e.params, e.test_accuracy * 100.0))}</p>
                <svg id="train-curves" viewBox=format!("-4 -4 {} {}", W + 8.0, H + 8.0) width=W height=H role="img" aria-label="Training loss (orange) and test accuracy per epoch (blue)">
                    <rect x="0" y="0" width=W height=H fill="none" stroke="currentColor" stroke-opacity="0.2"/>
                    <polyline points=move || loss_curve().0 fill="none" stroke="#e66101" stroke-width="1.5"/>
                    <polyline points=accuracy_curve fill="none" stroke="#5e3c99" stroke-width="2"/>
                </svg>
                <p class="train-legend">{move || format!("loss (orange, top {:.3}); test accuracy (purple, 0 to 100%) over epochs", loss_curve().1)}</p>
                <table class="train-filmstrip" id="train-filmstrip">
                    <thead><tr><th>"Epoch"</th><th>"Accuracy"</th><th>"s/epoch"</th><th>"Identified"</th><th>"Margin"</th><th>"Class patterns"</th></tr></thead>
                    <tbody>
                        <For each=move || snapshots.get() key=|s| s.epoch let:s>
                            <tr class="train-snapshot" data-epoch=s.epoch data-identified=s.identified>
                                <td>{if s.epoch == 0 { "0 (untrained)".to_string() } else { s.epoch.to_string() }}</td>
                                <td>{format!("{:.2}%", s.test_accuracy * 100.0)}</td>
                                <td>{if s.epoch == 0 { "–".to_string() } else { format!("{:.1}", s.seconds) }}</td>
                                <td>{format!("{}/10", s.identified)}</td>
                                <td>{format!("{:.3}", s.margin)}</td>
                                <td class="train-tiles">{s.patterns.iter().enumerate().map(|(c, p)| {
                                    let name = names.with_untracked(|n| n.get(c).map_or_else(|| c.to_string(), |n| n.to_string()));
                                    view! { <PixelImage rgba=diverging_rgba(p, symmetric_scale(p)) alt=format!("pattern toward {name} after epoch {}", s.epoch) class="train-tile"/> }
                                }).collect_view()}</td>
                            </tr>
                        </For>
                    </tbody>
                </table>
            </div>
        </details>
    }
}
