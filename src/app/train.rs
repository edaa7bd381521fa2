//! "Train your own network" in the app: the recipe from the settings (and so the URL), the
//! training pack and the test sample pack fetched when training starts, the run in a compute
//! worker of its own (so a gallery never waits behind it), and per snapshot the class patterns of the study's controlled inputs compared with the
//! dataset's contrast template (in the page, with `pipeline::analyse`). When the run ends the
//! network joins the session's models like an upload (gallery, analysis, compare and export use
//! it) and becomes model A.

use std::rc::Rc;

use leptos::prelude::*;
use dough_core::settings::SettingsStoreFields;
use leptos::task::spawn_local;

use dough_core::attack::AttackConfig;
use dough_core::manifest::{DatasetId, ModelEntry};
use dough_core::dough_data::{TargetRule, batches, start_images, subset, targets};
use dough_core::model::PIXELS;
use dough_core::pack::SamplePack;
use dough_core::protocol::{BackendKind, DoughPhase, DoughRequest, PoolBuilt};
use dough_core::study::pipeline::{self, Evolved};
use dough_core::study::templates::TemplateKind;
use dough_core::train_recipe::{TrainRecipe, trained_entry};
use dough_core::weights::Weights;

use super::Page;
use crate::job_slot::{JobSlot, Ticket};
use crate::pool::{self, Crew};
use crate::assets::{self, LoadedModel};
use crate::components::train::{DoughStatus, DoughTiming, Snapshot, TrainPanel, TrainProgress, TrainStatus};
use crate::worker_handle::{AttackEnd, ClientError, TrainEnd, TrainEvent, WorkerHandle};
use crate::platform;

/// The training run: status, progress, the loss curve, the snapshots and the trained network.
#[derive(Clone, Copy)]
pub struct TrainStore {
    pub status: RwSignal<TrainStatus>,
    pub error: RwSignal<Option<String>>,
    pub progress: RwSignal<Option<TrainProgress>>,
    /// (epochs done as a fraction, loss) at every batch whose loss was read.
    pub losses: RwSignal<Vec<(f64, f32)>>,
    pub snapshots: RwSignal<Vec<Snapshot>>,
    pub paused: RwSignal<bool>,
    /// The trained network's entry (it is among the session's models).
    pub trained: RwSignal<Option<ModelEntry>>,
    /// "Train on dough": its source, progress and outcome (`None`: training on the pack).
    pub dough: RwSignal<Option<DoughStatus>>,
    /// "Train on dough" timed before it starts.
    pub timing: RwSignal<DoughTiming>,
    /// The last snapshot's weights (f32 safetensors).
    last: StoredValue<Option<Rc<Vec<u8>>>, LocalStorage>,
    /// The run's worker (training has a worker of its own, ended on Cancel) and request id.
    in_flight: StoredValue<Option<(WorkerHandle, u32)>, LocalStorage>,
    slot: JobSlot,
}

impl TrainStore {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(TrainStatus::Idle),
            error: RwSignal::new(None),
            progress: RwSignal::new(None),
            losses: RwSignal::new(Vec::new()),
            snapshots: RwSignal::new(Vec::new()),
            paused: RwSignal::new(false),
            trained: RwSignal::new(None),
            dough: RwSignal::new(None),
            timing: RwSignal::new(DoughTiming::Idle),
            last: StoredValue::new_local(None),
            in_flight: StoredValue::new_local(None),
            slot: JobSlot::new(),
        }
    }

    /// The trained network's weights, for its download.
    pub fn weights(&self) -> Option<Rc<Vec<u8>>> {
        self.last.get_value()
    }
}

/// `window.__doughTrain`, for tests and tools: per snapshot its numbers, and the trained
/// weights' statistics.
fn publish(snapshots: &[Snapshot], entry: Option<&ModelEntry>, weights: Option<&[u8]>, dough: Option<&DoughStatus>) {
    let stats: Vec<serde_json::Value> = weights
        .and_then(|b| Weights::from_safetensors(b).ok())
        .map(|w| {
            w.tensors
                .iter()
                .map(|(name, t)| {
                    let n = t.data.len() as f64;
                    let mean = t.data.iter().map(|&v| v as f64).sum::<f64>() / n;
                    let rms = (t.data.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / n).sqrt();
                    serde_json::json!({"name": name, "mean": mean, "rms": rms})
                })
                .collect()
        })
        .unwrap_or_default();
    let json = serde_json::json!({
        "model": entry.map(|e| e.name.clone()),
        "snapshots": snapshots.iter().map(|s| serde_json::json!({
            "epoch": s.epoch, "test_accuracy": s.test_accuracy, "seconds": s.seconds, "identified": s.identified, "margin": s.margin,
        })).collect::<Vec<_>>(),
        "weights": stats,
        "dough": dough.map(|d| serde_json::json!({
            "source": d.source, "count": d.count, "workers": d.workers,
            "kept": d.built.map(|b| b.0), "attempted": d.built.map(|b| b.1), "seconds": d.built.map(|b| b.2), "median_l2": d.built.map(|b| b.3),
            "control_accuracy": d.control,
        })),
    });
    platform::publish_global("__doughTrain", &json.to_string());
}

/// A fresh worker for one training run on `kind` (the CPU worker if WebGPU does not start).
async fn train_worker(kind: BackendKind) -> Result<WorkerHandle, ClientError> {
    WorkerHandle::start(kind, None).await.map(|(worker, _)| worker)
}

impl Page {
    /// Trains the settings' recipe on model A's dataset (MNIST before a model is chosen), in a
    /// worker of its own on the page's backend, so that galleries, studies and the overview never
    /// wait behind it. If that worker dies on WebGPU (a lost device, a panic), the run starts again
    /// on the CPU.
    pub(super) fn start_training(self) {
        let Some(kind) = self.engine.backend.with_untracked(|b| b.as_ref().map(|b| b.choice.kind)) else {
            self.train.error.set(Some("the compute backend has not been chosen yet".into()));
            return self.train.status.set(TrainStatus::Error);
        };
        self.stop_training();
        let ticket = self.train.slot.begin();
        let (recipe, abs, seed) = self.run.settings.with_untracked(|s| (s.train.clone(), s.abstraction, s.seed));
        let source = self.models.entry.get_untracked();
        let dataset = source.as_ref().map_or(DatasetId::Mnist, |e| e.dataset);
        let t = self.train;
        if recipe.dough.is_some() && source.is_none() {
            t.error.set(Some("Training on dough needs a source network: choose model A first.".into()));
            return t.status.set(TrainStatus::Error);
        }
        t.status.set(TrainStatus::Running);
        t.error.set(None);
        t.trained.set(None);
        t.paused.set(false);
        t.dough.set(None);
        let stale = move || !t.slot.is_current(ticket);
        spawn_local(async move {
            let train_url = format!("data/{}-train.dspk", dataset.slug());
            let test_url = format!("data/{}-samples.dspk", dataset.slug());
            let (train, test, templates) = futures::join!(platform::fetch_bytes(&train_url), platform::fetch_bytes(&test_url), assets::load_templates(dataset));
            let (train, test, templates) = match (train, test, templates) {
                (Ok(a), Ok(b), Ok(c)) => (a, b, c),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                    t.error.set(Some(e));
                    return t.status.set(TrainStatus::Error);
                }
            };
            let template = templates.get(TemplateKind::Contrast).to_vec();
            // The source network of "train on dough" (model A), as the worker will cache it.
            let dough_source = match (recipe.dough, &source) {
                (Some(count), Some(entry)) => match self.model_file(entry).await {
                    Ok(m) => Some((m, count)),
                    Err(e) => {
                        t.error.set(Some(format!("The source network {}: {e}", entry.name)));
                        return t.status.set(TrainStatus::Error);
                    }
                },
                _ => None,
            };
            if stale() {
                return;
            }
            // With a CPU pool, its workers attack the subset's batches (the training worker then
            // only assembles D_det); alone, the training worker builds it.
            let mut pool_built: Option<(Vec<f32>, PoolBuilt)> = None;
            if let (Some((m, count)), Some(crew)) = (&dough_source, self.crew().filter(|c| c.workers.len() >= 2)) {
                t.dough.set(Some(DoughStatus { source: m.entry.name.clone(), count: *count, started_ms: platform::now_ms(), workers: crew.workers.len(), ..DoughStatus::default() }));
                match build_on_pool(&crew, t.slot, ticket, Rc::new(m.clone()), &train, *count, seed, t.dough).await {
                    Ok(Some(b)) => pool_built = Some(b),
                    Ok(None) => return,
                    Err(e) => {
                        if stale() {
                            return;
                        }
                        t.error.set(Some(format!("Building the dough on the pool failed: {e}")));
                        return t.status.set(TrainStatus::Error);
                    }
                }
                if stale() {
                    return;
                }
            }
            let mut kind = kind;
            let end = loop {
                t.progress.set(None);
                t.losses.set(Vec::new());
                t.snapshots.set(Vec::new());
                t.last.set_value(None);
                let worker = match train_worker(kind).await {
                    Ok(w) => w,
                    Err(e) => break Err(e),
                };
                if stale() {
                    return worker.terminate();
                }
                let mut dough = None;
                if let Some((m, count)) = &dough_source {
                    if pool_built.is_none() {
                        if let Err(e) = worker.load_model(&m.entry, &m.bytes, false).await {
                            worker.terminate();
                            break Err(e);
                        }
                        if stale() {
                            return worker.terminate();
                        }
                        t.dough.set(Some(DoughStatus { source: m.entry.name.clone(), count: *count, started_ms: platform::now_ms(), workers: 1, ..DoughStatus::default() }));
                    }
                    let built = pool_built.as_ref().map(|(_, b)| b.clone());
                    dough = Some(DoughRequest { source: m.entry.sha256.clone(), count: *count, seed, attack: AttackConfig::default(), built });
                }
                let built_images = pool_built.as_ref().map(|(a, _)| a.clone()).unwrap_or_default();
                let template = template.clone();
                let (id, end) = worker.train(&recipe, &train, &test, seed, &AttackConfig::default(), dough, built_images, move |ev| {
                    if stale() {
                        return;
                    }
                    match ev {
                        TrainEvent::Progress { epoch, epochs, batch, batches, loss } => {
                            t.progress.set(Some(TrainProgress { epoch, epochs, batch, batches }));
                            if let Some(l) = loss {
                                t.losses.update(|v| v.push((epoch as f64 + batch as f64 / batches as f64, l)));
                            }
                        }
                        TrainEvent::Snapshot(s) => {
                            let evolved = Evolved::from_outcomes(s.rows);
                            let analysis = pipeline::analyse(&evolved, &abs, &template);
                            let c = &analysis.vs_dataset;
                            let identified = (0..c.matrix.len()).filter(|&i| c.best_match(i) == Some(i)).count();
                            let snap = Snapshot { epoch: s.epoch, test_accuracy: s.test_accuracy, seconds: s.seconds, identified, margin: c.margin, patterns: evolved.patterns(&abs) };
                            t.last.set_value(Some(Rc::new(s.safetensors)));
                            t.snapshots.update(|v| v.push(snap));
                            t.snapshots.with_untracked(|v| publish(v, None, None, None));
                        }
                        TrainEvent::Dough { phase, done, total } => t.dough.update(|d| {
                            if let Some(d) = d {
                                d.phase = Some((phase, done, total));
                            }
                        }),
                        TrainEvent::DoughBuilt { kept, attempted, seconds, median_l2 } => t.dough.update(|d| {
                            if let Some(d) = d {
                                d.built = Some((kept, attempted, seconds, median_l2));
                            }
                        }),
                    }
                });
                t.in_flight.set_value(Some((worker.clone(), id)));
                // Paused while the worker started: it waits before its first batch.
                if t.paused.get_untracked() {
                    worker.pause(id, true);
                }
                let end = end.await;
                worker.terminate();
                if stale() {
                    return;
                }
                t.in_flight.set_value(None);
                match end {
                    Err(ClientError::Crashed(crash)) if kind == BackendKind::Webgpu => {
                        self.notice(format!("Training stopped: {}. It starts again on the CPU.", crash.describe()));
                        kind = BackendKind::Cpu;
                    }
                    end => break end,
                }
            };
            match end {
                Ok(TrainEnd::Done { images, control }) => {
                    t.dough.update(|d| {
                        if let Some(d) = d {
                            d.control = control;
                            d.phase = None;
                        }
                    });
                    let (Some(bytes), Some((accuracy, seconds))) = (t.last.get_value(), t.snapshots.with_untracked(|v| v.last().map(|s| (s.test_accuracy, v.iter().map(|s| s.seconds).sum::<f64>())))) else {
                        t.error.set(Some("the training run ended without a snapshot".into()));
                        return t.status.set(TrainStatus::Error);
                    };
                    let name = self.unique_name(&recipe.model_name(dataset));
                    let mut entry = trained_entry(&name, dataset, &recipe, accuracy, seconds, images, &bytes);
                    if let Some(d) = t.dough.get_untracked() {
                        entry.note = Some(d.note());
                    }
                    t.snapshots.with_untracked(|v| publish(v, Some(&entry), Some(&bytes), t.dough.get_untracked().as_ref()));
                    t.trained.set(Some(entry.clone()));
                    t.status.set(TrainStatus::Done);
                    self.add_trained(LoadedModel { entry, bytes });
                }
                Ok(TrainEnd::Cancelled) => t.status.set(TrainStatus::Idle),
                Err(e) => {
                    t.error.set(Some(e.to_string()));
                    t.status.set(TrainStatus::Error);
                }
            }
        });
    }

    /// Times "train on dough" before it starts: one batch of [`dough_data::BATCH`] test images
    /// (a seeded subset of the sample pack) attacked toward their next class on model A, as the
    /// build attacks each of its batches, on the main worker.
    pub(super) fn time_dough(self) {
        let t = self.train;
        let (Some(entry), Some(crew)) = (self.models.entry.get_untracked(), self.crew()) else {
            return t.timing.set(DoughTiming::Failed("choose model A first, and wait for the compute backend".into()));
        };
        t.timing.set(DoughTiming::Running);
        let seed = self.run.settings.with_untracked(|s| s.seed);
        spawn_local(async move {
            let timed = async {
                let m = self.model_file(&entry).await?;
                let pack = assets::load_pack(entry.dataset).await?;
                let (starts, goals) = dough_inputs(&pack.to_dataset(), dough_core::dough_data::BATCH, seed);
                let w = &crew.workers[0];
                // (the clock starts with the model in the worker's cache)
                w.load_model(&m.entry, &m.bytes, false).await.map_err(|e| e.to_string())?;
                let t0 = platform::now_ms();
                let (_, end) = start_dough_batch(w, &m, &starts, &goals, &AttackConfig::default()).await.map_err(|e| e.to_string())?;
                match end.await.map_err(|e| e.to_string())? {
                    AttackEnd::Done(..) => Ok(DoughTiming::Done { source: entry.name.clone(), images: starts.len(), seconds: (platform::now_ms() - t0) / 1000.0, workers: crew.workers.len() }),
                    AttackEnd::Cancelled => Err("it was cancelled".to_string()),
                }
            };
            t.timing.set(timed.await.unwrap_or_else(DoughTiming::Failed));
        });
    }

    /// Cancels the training run, if one runs: its worker ends at once.
    pub(super) fn stop_training(self) {
        if let Some((worker, _)) = self.train.in_flight.get_value() {
            self.train.in_flight.set_value(None);
            self.train.slot.stop();
            worker.terminate();
            self.train.status.set(TrainStatus::Idle);
        }
    }

    /// Pauses or resumes the training run (one still starting pauses before its first batch).
    pub(super) fn pause_training(self, paused: bool) {
        if self.train.status.get_untracked() != TrainStatus::Running {
            return;
        }
        if let Some((worker, id)) = self.train.in_flight.get_value() {
            worker.pause(id, paused);
        }
        self.train.paused.set(paused);
    }

    /// `base`, or `base-2`, `base-3`... if the session has that name already.
    fn unique_name(self, base: &str) -> String {
        self.models.entries.with_untracked(|es| {
            let taken = |n: &str| es.iter().any(|e| e.name == n);
            if !taken(base) {
                return base.to_string();
            }
            (2..).map(|k| format!("{base}-{k}")).find(|n| !taken(n)).expect("a free name")
        })
    }

    /// The trained network joins the session's models (as an upload does) and becomes model A.
    fn add_trained(self, model: LoadedModel) {
        let name = model.entry.name.clone();
        self.models.entries.update(|es| es.push(model.entry.clone()));
        self.models.uploads.update_value(|u| u.push(model));
        let b = self.compare.entry.get_untracked().map(|e| e.name);
        self.set_pair(name, b);
    }
}

impl Page {
    /// The panel, wired to the page.
    pub(super) fn train_view(self, names: Signal<[&'static str; 10]>, busy: Signal<bool>) -> impl IntoView {
        let t = self.train;
        let on_recipe = Callback::new(move |r: TrainRecipe| {
            self.run.settings.train().set(r);
        });
        let on_download = Callback::new(move |_| {
            let (Some(entry), Some(bytes)) = (t.trained.get_untracked(), t.weights()) else { return };
            let file = format!("{}.safetensors", entry.name);
            let listed = ModelEntry { file: file.clone(), ..entry.clone() };
            let result = platform::download_bytes(&file, "application/octet-stream", &bytes)
                .and_then(|_| serde_json::to_string_pretty(&listed).map_err(|e| e.to_string()))
                .and_then(|json| platform::download_text(&format!("{}.manifest-entry.json", entry.name), "application/json", &json));
            if let Err(e) = result {
                t.error.set(Some(format!("The download failed: {e}")));
            }
        });
        view! {
            <TrainPanel recipe=Signal::derive(move || self.run.settings.train().get()) on_recipe=on_recipe
                status=t.status error=t.error progress=t.progress losses=t.losses snapshots=t.snapshots paused=t.paused trained=t.trained
                names=names on_train=Callback::new(move |_| self.start_training()) on_cancel=Callback::new(move |_| self.stop_training())
                on_pause=Callback::new(move |p| self.pause_training(p)) on_download=on_download busy=busy dough=t.dough
                source=Signal::derive(move || self.models.entry.with(|e| e.as_ref().map(|e| e.name.clone())))
                timing=t.timing on_time=Callback::new(move |_| self.time_dough())/>
        }
    }
}

/// "Train on dough" on the CPU pool: the seeded subset's batches (`dough_data::batches`), each
/// attacked on the next free worker toward (label + 1) mod 10 with the attack the training worker
/// would use alone, so the set is the same; returns the adversarial images (in subset order) and
/// what the training worker needs to assemble D_det. `None`: cancelled.
#[allow(clippy::too_many_arguments)]
async fn build_on_pool(
    crew: &Crew,
    slot: JobSlot,
    ticket: Ticket,
    source: Rc<LoadedModel>,
    train: &[u8],
    count: usize,
    seed: u64,
    status: RwSignal<Option<DoughStatus>>,
) -> Result<Option<(Vec<f32>, PoolBuilt)>, ClientError> {
    let pack = SamplePack::decode(train).map_err(|e| ClientError::Failed(format!("the training pack: {e}")))?;
    let (starts, goals) = dough_inputs(&pack.to_dataset(), count, seed);
    let n = starts.len();
    let (starts, goals) = (Rc::new(starts), Rc::new(goals));
    let t0 = platform::now_ms();
    let done = Rc::new(std::cell::Cell::new(0usize));
    let report = move |k: usize| status.update(|d| if let Some(d) = d { d.phase = Some((DoughPhase::Build, k, n)) });
    report(0);
    let outcomes = pool::each(crew, batches(n), move |w: WorkerHandle, r: std::ops::Range<usize>| {
        let (starts, goals, source, done) = (starts.clone(), goals.clone(), source.clone(), done.clone());
        async move {
            let cfg = AttackConfig::default();
            let (id, end) = start_dough_batch(&w, &source, &starts[r.clone()], &goals[r], &cfg).await?;
            match slot.follow(ticket, &w, id, end).await {
                Some(Ok(AttackEnd::Done(rows, _))) => {
                    done.set(done.get() + rows.len());
                    report(done.get());
                    Ok(Some(rows))
                }
                Some(Ok(AttackEnd::Cancelled)) | None => Ok(None),
                Some(Err(e)) => Err(e),
            }
        }
    })
    .await?;
    let (mut adversarial, mut reached) = (Vec::with_capacity(n * PIXELS), Vec::with_capacity(n));
    for rows in outcomes {
        let Some(rows) = rows else { return Ok(None) };
        for o in rows {
            reached.push(o.reached);
            adversarial.extend_from_slice(&o.adversarial);
        }
    }
    Ok(Some((adversarial, PoolBuilt { reached, seconds: (platform::now_ms() - t0) / 1000.0, workers: crew.workers.len() })))
}

/// The attack's inputs of a "train on dough" build over `count` seeded images of `data` (as the
/// worker's build picks them): their start images and their D_det targets.
fn dough_inputs(data: &dough_core::idx::Dataset, count: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<usize>) {
    let sub = subset(data, count, seed);
    (start_images(&sub), targets(&sub.labels, TargetRule::Det, seed))
}

/// Starts one batch of a "train on dough" build on `w`: `starts` toward `goals` on `source` (put
/// in the worker's cache first) with `cfg` (the build's attack, `DoughRequest::attack`).
async fn start_dough_batch<'a>(
    w: &'a WorkerHandle,
    source: &'a LoadedModel,
    starts: &'a [Vec<f32>],
    goals: &'a [usize],
    cfg: &'a AttackConfig,
) -> Result<(u32, impl std::future::Future<Output = Result<AttackEnd, ClientError>> + 'static), ClientError> {
    w.load_model(&source.entry, &source.bytes, false).await?;
    Ok(w.attack(starts, goals, cfg, None, false, Some(&source.entry.sha256), |_| {}, None))
}
