//! The app: wires settings -> worker requests -> results -> views. The page computes nothing
//! itself: Burn and the study's statistics live in the compute workers (`crates/dough-worker`),
//! reached through [`WorkerHandle`]s and shared out by [`crate::pool`]. The page's state is a
//! few stores named after what they hold; each feature's job is a [`JobSlot`].

mod commands;
mod compare;
mod overview;
mod study;
mod sync;
mod tour;
mod train;
mod upload;
mod workers;

use std::rc::Rc;

use leptos::prelude::*;
use reactive_stores::{Patch, Store};
use leptos::task::spawn_local;

use dough_core::attack::SampleOutcome;
use dough_core::backend::{BackendPref, Choice, Measurement, Reason};
use dough_core::compare::ModelReadings;
use dough_core::manifest::{DatasetId, ModelEntry};
use dough_core::pack::SamplePack;
use dough_core::protocol::{AdapterReport, BackendKind, Fault, JobProgress};
use dough_core::settings::{InputChoice, PoolFault, Settings, SettingsStoreFields};

use crate::assets::{self, LoadedModel};
use crate::backend_state::{self, BackendState};
use crate::components::analysis::{AnalysisView, StudyStatus};
use crate::components::compare::{ComparePatterns, ComparePicker, CompareSummary, OwnStatus};
use crate::components::controls::Controls;
use crate::components::draw::DrawPanel;
use crate::components::hero::{Hero, LiveRun};
use crate::components::knead::{Knead, KneadBar};
use crate::components::story::StoryPanel;
use crate::components::plant_check::{PlantCheckView, flagged_slug};
use crate::components::export::ExportBar;
use crate::components::gallery::{Gallery, Shown};
use crate::components::overview::OverviewView;
use crate::components::train::TrainStatus;
use crate::components::model_card::{ModelCard, ModelPicker, SaveOffline};
use crate::components::shortcuts::{self, Command, ShortcutHelp};
use crate::components::status::{BackendLine, Messages, Progress};
use crate::components::upload::UploadForm;
use crate::batches::gallery_batch;
use crate::job_slot::JobSlot;
use crate::platform;
use crate::pool::{self, AttackAsk};
use crate::worker_handle::{AttackEnd, ClientError, Crash, WorkerHandle};
use crate::state::Status;
use commands::Chrome;
use compare::CompareStore;
use sync::Synced;
use overview::OverviewStore;
use study::StudyStore;
use train::TrainStore;

/// Gallery rows added per frame when a finished run is shown.
const GALLERY_SLICE: usize = 3;
/// A run shown live for this many frames (about a second and a half) is not played again at
/// its end; a quicker one is.
const LIVE_ENOUGH: usize = 10;

/// The gallery run: its settings (and so the URL), status, rows, progress and messages.
#[derive(Clone, Copy)]
struct RunStore {
    settings: Store<Settings>,
    status: RwSignal<Status>,
    error: RwSignal<Option<String>>,
    notices: RwSignal<Vec<String>>,
    rows: RwSignal<Vec<SampleOutcome>>,
    progress: RwSignal<JobProgress>,
    /// Frames of the step playback, and the one shown.
    frames: RwSignal<Vec<(usize, Vec<f32>)>>,
    frame: RwSignal<Option<usize>>,
    /// Playing the frames on the hero's columns.
    knead: Knead,
    /// The run going now, as the workers send its inputs (none with reduced motion).
    live: RwSignal<Option<LiveRun>>,
    /// The gallery's job (B's own run in compare mode is part of it).
    slot: JobSlot,
    pack: StoredValue<Option<SamplePack>, LocalStorage>,
    /// Images per class in the loaded sample pack (the largest index the page offers).
    pack_counts: RwSignal<Option<[usize; 10]>>,
}

/// The models: the manifest, the selected entry and its verified file.
#[derive(Clone, Copy)]
struct ModelStore {
    entries: RwSignal<Vec<ModelEntry>>,
    entry: RwSignal<Option<ModelEntry>>,
    loaded: StoredValue<Option<LoadedModel>, LocalStorage>,
    /// The user's uploaded networks (their entries are in `entries` too).
    uploads: StoredValue<Vec<LoadedModel>, LocalStorage>,
}


/// The user's own input and the network's live guess on it.
#[derive(Clone, Copy)]
struct DrawingStore {
    custom: RwSignal<Option<Vec<f32>>>,
    prediction: RwSignal<Option<Vec<f32>>>,
}

/// The compute backend: which runs and why, the main worker that runs it, and (on the CPU) the
/// pool's other workers.
#[derive(Clone, Copy)]
struct EngineStore {
    backend: RwSignal<Option<BackendState>>,
    compute: StoredValue<Option<WorkerHandle>, LocalStorage>,
    /// More CPU workers (the pool beside the main worker; none on WebGPU).
    extra: StoredValue<Vec<WorkerHandle>, LocalStorage>,
    /// Workers in the pool now (for the backend line and `data-workers`).
    workers: RwSignal<usize>,
    /// A test-only pool fault still to strike (`debug=panic-pool|corrupt-model|silent-worker`).
    pool_fault: StoredValue<Option<PoolFault>>,
}

#[derive(Clone, Copy)]
struct Page {
    run: RunStore,
    models: ModelStore,
    study: StudyStore,
    drawing: DrawingStore,
    engine: EngineStore,
    compare: CompareStore,
    overview: OverviewStore,
    train: TrainStore,
}

impl Page {
    fn new(settings: Settings, notices: Vec<String>) -> Self {
        let pool_fault = settings.pool_fault;
        let (frames, frame) = (RwSignal::new(Vec::new()), RwSignal::new(None));
        Self {
            run: RunStore {
                settings: Store::new(settings),
                status: RwSignal::new(Status::Loading),
                error: RwSignal::new(None),
                notices: RwSignal::new(notices),
                rows: RwSignal::new(Vec::new()),
                progress: RwSignal::new(JobProgress::default()),
                frames,
                frame,
                knead: Knead::new(frames, frame),
                live: RwSignal::new(None),
                slot: JobSlot::new(),
                pack: StoredValue::new_local(None),
                pack_counts: RwSignal::new(None),
            },
            models: ModelStore { entries: RwSignal::new(Vec::new()), entry: RwSignal::new(None), loaded: StoredValue::new_local(None), uploads: StoredValue::new_local(Vec::new()) },
            study: StudyStore::new(),
            drawing: DrawingStore { custom: RwSignal::new(None), prediction: RwSignal::new(None) },
            engine: EngineStore {
                backend: RwSignal::new(None),
                compute: StoredValue::new_local(None),
                extra: StoredValue::new_local(Vec::new()),
                workers: RwSignal::new(1),
                pool_fault: StoredValue::new(pool_fault),
            },
            compare: CompareStore::new(),
            overview: OverviewStore::new(),
            train: TrainStore::new(),
        }
    }

    fn fail(&self, msg: String) {
        web_sys::console::warn_1(&msg.clone().into());
        self.run.error.set(Some(msg));
        self.run.status.set(Status::Error);
    }

    fn notice(&self, msg: String) {
        self.run.notices.update(|v| v.push(msg));
    }

    /// Chooses the backend, starts the worker while the model downloads, then runs the first
    /// gallery. The page's interface is already drawn: nothing here blocks it.
    async fn start(self) {
        let s = self.run.settings.get_untracked();
        let adapter = if s.backend == BackendPref::Cpu { None } else { backend_state::adapter_report().await };
        let cached = adapter.as_ref().filter(|_| !s.force_calibration).and_then(backend_state::cached);
        let plan = dough_core::backend::plan(s.backend, adapter.as_ref(), cached, s.force_calibration);
        let choice = Choice { kind: plan.start, reason: plan.reason, adapter: adapter.clone(), measurement: cached, measuring: plan.calibrate, note: None };
        // The pool's other CPU workers start beside the main one (they get the model with it).
        let early_pool = plan.start == BackendKind::Cpu && s.pool_fault.is_none();
        let pool = async {
            if early_pool {
                self.fit_pool_for(true).await;
            }
        };
        let (worker, entries, ()) = futures::join!(self.start_worker(choice, s.fault, None), assets::load_manifest(), pool);
        if let Err(e) = worker {
            return self.fail(format!("The compute worker could not start: {e}"));
        }
        let entries = match entries {
            Ok(e) => e,
            Err(e) => return self.fail(format!("The model list could not be loaded: {e}")),
        };
        let (entry, notices) = assets::pick(&entries, s.model.as_deref(), s.dataset.as_deref());
        let entry = entry.clone();
        self.run.notices.update(|v| v.extend(notices));
        self.models.entries.set(entries);
        // Compare mode: model B is fetched beside model A, and only when it fits A.
        let b_entry = self.compare_entry(s.compare.as_deref(), &entry);
        let b_load = async {
            match &b_entry {
                Some(b) => Some(assets::load_model(b).await),
                None => None,
            }
        };
        let (model, b_model) = futures::join!(assets::load_model(&entry), b_load);
        let model = match model {
            Ok(m) => m,
            Err(e) => return self.fail(format!("The model could not be loaded: {e}")),
        };
        if let Err(e) = self.use_model(model).await {
            return self.fail(format!("The model could not be loaded: {e}"));
        }
        self.fit_pool().await;
        let b_model = match (b_model, &b_entry) {
            (Some(Ok(m)), _) => Some(m),
            (Some(Err(e)), Some(b)) => {
                self.notice(format!("Model B ({}) could not be loaded: {e}; compare mode is off.", b.name));
                None
            }
            _ => None,
        };
        self.use_compare(b_model);
        self.run(self.run.settings.get_untracked());
        if s.train.run {
            self.start_training();
        }
        if plan.calibrate
            && let Some(a) = adapter
        {
            spawn_local(self.calibrate(a, !s.force_calibration));
        }
    }

    /// Starts a worker on `choice.kind` and makes it the page's. WebGPU may not start (no adapter
    /// in the worker, a failed device request): the CPU worker then runs, and the state says so.
    async fn start_worker(self, mut choice: Choice, fault: Option<Fault>, recovered: Option<&'static str>) -> Result<WorkerHandle, String> {
        let (c, started) = WorkerHandle::start(choice.kind, fault).await.map_err(|e| e.to_string())?;
        if started.backend != choice.kind {
            choice.reason = if started.adapter.is_none() { Reason::NoAdapter } else { Reason::WebgpuFailed };
            choice.note = started.note.clone();
            choice.measuring = false;
        }
        choice.kind = started.backend;
        choice.adapter = started.adapter.or(choice.adapter);
        self.engine.backend.set(Some(BackendState { choice, recovered }));
        let page = self;
        c.on_crash(move |crash| spawn_local(page.recover(crash)));
        if let Some(old) = self.engine.compute.get_value() {
            old.terminate();
        }
        self.engine.compute.set_value(Some(c.clone()));
        Ok(c)
    }

    /// The worker died (a lost GPU device, a panic): say so, start a fresh worker on the CPU,
    /// give it the model, and finish what was running with the same settings.
    async fn recover(self, crash: Crash) {
        let Some(before) = self.engine.backend.get_untracked() else { return };
        let gallery_running = self.run.status.get_untracked() == Status::Running;
        let study_running = self.study.status.get_untracked() == StudyStatus::Running;
        self.notice(format!(
            "{}: Dough switched to the CPU{}.",
            crash.describe(),
            if gallery_running || study_running { " and finishes the run there" } else { "" }
        ));
        let reason = if before.choice.kind == BackendKind::Webgpu { Reason::GpuLost } else { before.choice.reason };
        let choice = Choice { kind: BackendKind::Cpu, reason, note: Some(crash.describe()), measuring: false, ..before.choice };
        if let Err(e) = self.start_worker(choice, None, Some(crash.slug())).await {
            return self.fail(format!("The compute worker could not be restarted: {e}"));
        }
        if let Some(m) = self.models.loaded.get_value()
            && let Err(e) = self.send_model(&m).await
        {
            return self.fail(format!("The model could not be loaded: {e}"));
        }
        self.fit_pool().await;
        if gallery_running {
            self.run(self.run.settings.get_untracked());
        } else if study_running {
            self.run_study();
        }
    }

    /// Times the real workload on both backends (WebGPU in a second worker, so the page keeps
    /// working on the CPU meanwhile) and moves to the faster one. `remember`: cache the result.
    async fn calibrate(self, adapter: AdapterReport, remember: bool) {
        // After the first gallery: it must not wait for WebGPU.
        while matches!(self.run.status.get_untracked(), Status::Loading | Status::Running) {
            platform::sleep_ms(100).await;
        }
        let t0 = platform::now_ms();
        let gpu = async {
            let c = WorkerHandle::spawn(BackendKind::Webgpu).await?;
            let started = c.init(BackendKind::Webgpu, None).await?;
            if started.backend != BackendKind::Webgpu {
                c.terminate();
                return Err(ClientError::Failed(started.note.unwrap_or_else(|| "WebGPU did not start".into())));
            }
            let m = self.models.loaded.get_value().ok_or_else(|| ClientError::Failed("no model".into()))?;
            c.load_model(&m.entry, &m.bytes, true).await?;
            let ms = c.calibrate().await?;
            Ok::<_, ClientError>((c, ms, started.init_ms))
        };
        let result = gpu.await;
        let cpu_ms = match self.engine.compute.get_value() {
            Some(c) => c.calibrate().await,
            None => Err(ClientError::Failed("no worker".into())),
        };
        let total_ms = platform::now_ms() - t0;
        let Some(state) = self.engine.backend.get_untracked() else { return };
        match (result, cpu_ms) {
            (Ok((gpu, webgpu_ms, init_ms)), Ok(cpu_ms)) => {
                let m = Measurement { cpu_ms, webgpu_ms };
                if remember {
                    backend_state::store(&adapter, &m);
                }
                platform::publish_global(
                    "__doughCalibration",
                    &serde_json::json!({ "cpu_ms": cpu_ms, "webgpu_ms": webgpu_ms, "webgpu_init_ms": init_ms, "total_ms": total_ms }).to_string(),
                );
                let mut choice = Choice { measurement: Some(m), measuring: false, reason: Reason::Measured, ..state.choice };
                if m.winner() == BackendKind::Webgpu && self.models.loaded.get_value().is_some() {
                    // The WebGPU worker is warm (shaders compiled): it becomes the page's. The
                    // CPU worker finishes what it runs, then goes.
                    choice.kind = BackendKind::Webgpu;
                    let old = self.engine.compute.get_value();
                    let page = self;
                    gpu.on_crash(move |crash| spawn_local(page.recover(crash)));
                    self.engine.compute.set_value(Some(gpu.clone()));
                    if let Some(m) = self.models.loaded.get_value() {
                        let _ = self.send_model(&m).await;
                    }
                    // One GPU worker is the rule: the CPU pool's other workers go too.
                    self.fit_pool().await;
                    if let Some(old) = old {
                        spawn_local(async move {
                            while old.busy() {
                                platform::sleep_ms(200).await;
                            }
                            old.terminate();
                        });
                    }
                } else {
                    gpu.terminate();
                }
                self.engine.backend.set(Some(BackendState { choice, recovered: state.recovered }));
            }
            (Err(e), _) | (_, Err(e)) => {
                web_sys::console::warn_1(&format!("Dough: the backend calibration failed: {e}").into());
                let choice = Choice { measuring: false, ..state.choice };
                self.engine.backend.set(Some(BackendState { choice, recovered: state.recovered }));
            }
        }
    }


    /// Makes `m` the current model (in the worker first) and records it in the settings.
    async fn use_model(self, m: LoadedModel) -> Result<(), String> {
        self.send_model(&m).await?;
        if self.run.pack.with_value(|p| p.as_ref().is_some_and(|p| p.dataset != m.entry.dataset.slug())) {
            self.run.pack.set_value(None);
        }
        self.run.settings.model().set(Some(m.entry.name.clone()));
        self.run.settings.dataset().set(Some(m.entry.dataset.slug().to_string()));
        self.models.entry.set(Some(m.entry.clone()));
        self.models.loaded.set_value(Some(m));
        Ok(())
    }

    /// Switches to the model `name` and reruns the gallery with the same settings, keeping model B
    /// if it still fits. If the model cannot be loaded, the current model and gallery stay and the
    /// page says why.
    fn select_model(self, name: String) {
        let b = self.compare.entry.get_untracked().map(|e| e.name);
        self.set_pair(name, b);
    }

    fn select_dataset(self, dataset: DatasetId) {
        let name = self.models.entries.with_untracked(|es| assets::default_of(es, dataset).map(|e| e.name.clone()));
        match name {
            Some(n) => self.select_model(n),
            None => self.notice(format!("No model for {} is shipped.", dataset.title())),
        }
    }

    /// Stops the gallery run in flight (every worker stops at its next step), B's own run
    /// included.
    fn stop_gallery(self) {
        self.run.slot.stop();
        if self.compare.own_status.get_untracked() == OwnStatus::Running {
            self.compare.own_status.set(OwnStatus::Idle);
        }
    }

    /// Cancels any run in flight and starts a new one with `settings`.
    fn run(self, mut settings: Settings) {
        if settings.input == InputChoice::Custom && self.drawing.custom.with_untracked(|c| c.is_none()) {
            self.notice("input=custom needs a drawing or an upload first; starting from black.".into());
            settings.input = InputChoice::Black;
        }
        self.stop_study();
        self.run.knead.playing.set(false);
        let ticket = self.run.slot.begin();
        if self.compare.own_status.get_untracked() == OwnStatus::Running {
            self.compare.own_status.set(OwnStatus::Idle);
        }
        self.run.settings.patch(settings.clone());
        self.run.error.set(None);
        let (Some(crew), Some(model)) = (self.crew(), self.models.loaded.get_value()) else {
            return;
        };
        self.run.status.set(Status::Running);
        self.run.progress.set(JobProgress { max_steps: settings.attack.progress_steps(), samples: 10, ..Default::default() });
        let stale = move || !self.run.slot.is_current(ticket);
        spawn_local(async move {
            if settings.input == InputChoice::Sample && self.run.pack.with_value(|p| p.is_none()) {
                // (use_model drops a pack of another dataset)
                match assets::load_pack(model.entry.dataset).await {
                    Ok(p) => {
                        self.run.pack_counts.set(Some(std::array::from_fn(|c| p.indices_of(c as u8).len())));
                        self.run.pack.set_value(Some(p));
                    }
                    Err(e) => return self.fail(format!("The sample images could not be loaded: {e}")),
                }
            }
            if stale() {
                return;
            }
            let custom = self.drawing.custom.get_untracked();
            let batch = match self.run.pack.with_value(|p| gallery_batch(&settings, p.as_ref(), custom.as_deref())) {
                Ok(b) => b,
                Err(e) => return self.fail(format!("The attack failed: {e}")),
            };
            let progress = self.run.progress;
            let cfg = settings.attack_config();
            // Watch it knead while it runs: the hero shows the inputs as the workers send them.
            let live = self.run.live;
            let streamed: Option<pool::Live> = (batch.record_frames && !platform::reduced_motion()).then(|| {
                live.set(Some(LiveRun::new(&batch.targets, &batch.starts, settings.attack.progress_steps())));
                Rc::new(move |step, inputs| {
                    if self.run.slot.is_current(ticket) {
                        live.update(|l| {
                            if let Some(l) = l {
                                l.step = step;
                                l.inputs = inputs;
                                l.shown += 1;
                            }
                        });
                    }
                }) as pool::Live
            });
            let ask = AttackAsk { starts: &batch.starts, targets: &batch.targets, cfg: &cfg, untrained_seed: None, record_frames: batch.record_frames, model: None, live: streamed };
            let result = pool::attack(&crew, self.run.slot, ticket, ask, move |p| progress.set(p)).await;
            if stale() {
                return;
            }
            match result {
                Ok(AttackEnd::Done(rows, frames)) => {
                    // Compare mode: model B reads A's adversarial examples before the rows show.
                    let readings = self.read_rows(ticket, &rows).await;
                    if stale() {
                        return;
                    }
                    publish_result(&self, &settings, &rows, readings.as_ref());
                    self.compare.readings.set(readings);
                    // Render the rows a few at a time, one slice per frame, so that neither
                    // the script nor the browser's layout and paint of the gallery holds the
                    // page for a frame's length.
                    platform::yield_now().await;
                    if stale() {
                        return;
                    }
                    // The live columns go first, and the finished ones come in a slice per
                    // frame: one task never lays out the whole grid.
                    let seen_live = self.run.live.with_untracked(|l| l.as_ref().map_or(0, |l| l.shown));
                    self.run.live.set(None);
                    self.run.frame.set(None);
                    self.run.frames.set(frames);
                    let mut shown = 0;
                    while shown < rows.len() {
                        shown = (shown + GALLERY_SLICE).min(rows.len());
                        self.run.rows.set(rows[..shown].to_vec());
                        platform::next_frame().await;
                        if stale() {
                            return;
                        }
                    }
                    self.run.status.set(Status::Done);
                    // Watch it knead: a run too quick to be seen live plays once on the columns
                    // (reduced motion: no).
                    if seen_live < LIVE_ENOUGH {
                        self.run.knead.play();
                    }
                    self.run_b_own();
                    if settings.analysis {
                        self.run_study();
                    }
                    self.maybe_start_overview_from_url();
                }
                Ok(AttackEnd::Cancelled) => {}
                // The worker died: `recover` moves to a fresh worker and reruns.
                Err(ClientError::Crashed(_)) => {}
                Err(ClientError::Failed(e)) => self.fail(format!("The attack failed: {e}")),
            }
        });
    }


    /// New abstraction or template settings: recomputed from the stored perturbations.
    fn set_analysis_settings(self, s: Settings) {
        self.run.settings.patch(s);
    }

    /// Cancel: the gallery says so at once; the worker stops at its next step.
    fn cancel_run(self) {
        let running = self.run.status.get_untracked() == Status::Running;
        self.stop_gallery();
        if running {
            self.run.status.set(Status::Cancelled);
            self.notice("Cancelled; the gallery shows the last finished run.".into());
        }
    }
}

/// `window.__dough`: the last finished run, for tests and tools.
fn publish_result(page: &Page, settings: &Settings, rows: &[SampleOutcome], compare: Option<&ModelReadings>) {
    #[derive(serde::Serialize)]
    struct Published<'a> {
        backend: &'a str,
        model: String,
        input: String,
        seed: u64,
        rows: &'a [SampleOutcome],
        compare: Option<&'a ModelReadings>,
    }
    let backend = page.engine.backend.get_untracked().map(|b| b.choice.kind.slug()).unwrap_or("");
    let p = Published {
        backend,
        model: page.models.entry.get_untracked().map(|e| e.name).unwrap_or_default(),
        input: settings.controlled_input().slug(),
        seed: settings.seed,
        rows,
        compare,
    };
    if let Ok(json) = serde_json::to_string(&p) {
        platform::publish(&json);
    }
}

#[component]
pub fn App() -> impl IntoView {
    let (mut settings, notices) = Settings::from_query(&platform::query_pairs());
    tour::apply_on_load(&mut settings);
    let page = Page::new(settings, notices);
    spawn_local(page.start());
    // The URL follows the settings: one effect writes it, whoever changed them.
    Effect::new(move |_| {
        let query = page.run.settings.with(|s| s.to_query());
        platform::replace_query(&query);
    });

    let names = Signal::derive(move || page.models.entry.get().map(|e| e.dataset).unwrap_or(DatasetId::Mnist).class_names());
    let busy = Signal::derive(move || matches!(page.run.status.get(), Status::Loading));
    let on_change = Callback::new(move |s: Settings| page.run(s));
    let on_dataset = Callback::new(move |d: DatasetId| page.select_dataset(d));
    let on_model = Callback::new(move |name: String| page.select_model(name));
    let on_analysis_settings = Callback::new(move |s: Settings| page.set_analysis_settings(s));
    let on_study = Callback::new(move |_| page.run_study());
    let study_busy = Signal::derive(move || page.run.status.get() != Status::Done || page.study.status.get() == StudyStatus::Running);
    let dataset_entries = Signal::derive(move || {
        let d = page.models.entry.with(|e| e.as_ref().map(|e| e.dataset));
        // The overview's networks: the clean zoo (and the session's own) of model A's dataset.
        page.models.entries.get().into_iter().filter(|e| Some(e.dataset) == d && e.plant().is_none()).collect::<Vec<_>>()
    });
    let Synced { result, replicated, overview_result } = page.sync();
    let on_overview_choice = Callback::new(move |(c, k): (Option<dough_core::settings::OverviewModels>, usize)| page.set_overview_choice(c, k));
    let on_overview_run = Callback::new(move |_| page.run_overview());
    let on_overview_cancel = Callback::new(move |_| page.stop_overview());
    let on_cancel = Callback::new(move |_| page.cancel_run());

    let draw_open = RwSignal::new(page.run.settings.with_untracked(|s| s.input == InputChoice::Custom));
    let on_attack_drawing = Callback::new(move |target: Option<u8>| {
        let mut s = page.run.settings.get_untracked();
        s.input = InputChoice::Custom;
        s.target = target;
        page.run(s);
    });
    // The network's live guess on the drawing (and again when the model changes).
    Effect::new(move |_| {
        let px = page.drawing.custom.get();
        let _ = page.models.entry.get();
        let _ = page.engine.backend.get();
        let (Some(px), Some(compute)) = (px, page.engine.compute.get_value()) else { return };
        spawn_local(async move {
            if let Ok(p) = compute.predict(&px).await
                && page.drawing.custom.with_untracked(|c| c.as_deref() == Some(&px[..]))
            {
                page.drawing.prediction.set(Some(p));
            }
        });
    });
    let presenting = RwSignal::new(false);
    // Light or dark colours: `None` follows the system's preference.
    let dark = RwSignal::new(None::<bool>);
    let help = RwSignal::new(false);
    let knead = page.run.knead;
    let story_go = Callback::new(move |n: usize| page.go_story(n));
    let story_leave = Callback::new(move |_| page.leave_story());
    let current_row = RwSignal::new(None::<usize>);
    let chrome = Chrome { presenting, dark, help, current_row, knead };
    let on_compare = Callback::new(move |b: Option<String>| {
        if let Some(a) = page.models.entry.get_untracked() {
            page.set_pair(a.name, b);
        }
    });
    let on_preset = Callback::new(move |_| page.set_pair(dough_core::compare::PRESET.0.into(), Some(dough_core::compare::PRESET.1.into())));
    let on_swap = Callback::new(move |_| page.swap_models());
    let on_upload = Callback::new(move |req| page.load_uploaded(req));
    let train_view = page.train_view(names, busy);
    let pair = page.compare.pair;
    let on_command = Callback::new(move |c: Command| page.command(chrome, c));
    let a_name = Signal::derive(move || page.models.entry.with(|e| e.as_ref().map(|e| e.name.clone()).unwrap_or_default()));
    shortcuts::listen(on_command);

    let dataset = Signal::derive(move || page.models.entry.with(|e| e.as_ref().map_or(DatasetId::Mnist, |e| e.dataset)));
    let story_step = Signal::derive(move || page.run.settings.story().get());
    let story_live = Signal::derive(move || {
        let step = dough_core::story::step(story_step.get()?, dataset.get())?;
        page.run.rows.with(|rows| {
            result.with(|r| {
                pair.with(|p| {
                    page.compare.readings.with(|readings| {
                        tour::live_line(step.live, rows, r.as_ref(), page.study.status.get() == StudyStatus::Running, p.as_ref(), readings.as_ref())
                    })
                })
            })
        })
    });
    let template = Signal::derive(move || page.run.settings.template().get());
    let shown = Shown { rows: page.run.rows, names, current: current_row, frames: page.run.frames, frame: page.run.frame };
    // From the first live frame on (a run quicker than that never swaps the columns out).
    let live = Memo::new(move |_| (page.run.status.get() == Status::Running).then(|| page.run.live.get().filter(|l| l.shown > 0)).flatten());

    view! {
        <main id="app" class:presenting=move || presenting.get() class:dark=move || dark.get() == Some(true) class:light=move || dark.get() == Some(false)
            data-status=move || page.run.status.get().slug()
            data-backend=move || page.engine.backend.get().map(|b| b.choice.kind.slug())
            data-backend-reason=move || page.engine.backend.get().map(|b| b.choice.reason.slug())
            data-recovered=move || page.engine.backend.get().and_then(|b| b.recovered)
            data-workers=move || page.engine.workers.get()
            data-compare=move || page.compare.readings.with(|r| r.as_ref().map(|r| r.model.clone()))
            data-story=move || story_step.get()
            data-plant-flagged=move || page.study.plant.with(|c| c.as_ref().map(flagged_slug))
            data-plant-anomaly=move || page.study.plant.with(|c| c.as_ref().map(|c| format!("{:.4}", c.anomaly_index)))
            data-train-status=move || page.train.status.get().slug()
            data-train-accuracy=move || (page.train.status.get() == TrainStatus::Done).then(|| page.train.snapshots.with(|s| s.last().map(|s| format!("{:.4}", s.test_accuracy)))).flatten()>
            <header class="topbar">
                <h1>"Dough"</h1>
                <p class="tagline">"A targeted attack evolves one starting image into every class, as little as it can: what does the network ask for?"</p>
                <div class="toolbar">
                    <button type="button" id="tour-toggle" class="secondary" aria-pressed=move || story_step.get().is_some().to_string()
                        on:click=move |_| on_command.run(Command::Tour)>
                        {move || if story_step.get().is_some() { "Leave the tour (T)" } else { "Tour (T)" }}
                    </button>
                    <button type="button" id="present-toggle" class="secondary" aria-pressed=move || presenting.get().to_string()
                        on:click=move |_| on_command.run(Command::TogglePresentation)>
                        {move || if presenting.get() { "Leave presentation (P)" } else { "Present (P)" }}
                    </button>
                    <button type="button" id="theme-toggle" class="secondary" aria-pressed=move || dark.get().unwrap_or_else(platform::prefers_dark).to_string()
                        on:click=move |_| on_command.run(Command::ToggleTheme)>"Dark (L)"</button>
                    <button type="button" id="help-toggle" class="secondary" aria-expanded=move || help.get().to_string()
                        on:click=move |_| help.update(|h| *h = !*h)>"Shortcuts (?)"</button>
                </div>
            </header>
            <ShortcutHelp open=help/>
            <div class="layout">
                <div class="stage">
                    <Progress status=page.run.status progress=page.run.progress on_cancel=on_cancel/>
                    <Messages error=page.run.error notices=page.run.notices/>
                    <StoryPanel step=story_step dataset=dataset live=story_live on_go=story_go on_leave=story_leave/>
                    <Hero shown=shown result=result templates=page.study.templates template=template live=live.into()/>
                    <Show when=move || live.with(|l| l.is_none())><KneadBar knead=knead/></Show>
                    <CompareSummary rows=page.run.rows readings=page.compare.readings/>
                    <ExportBar rows=page.run.rows entry=page.models.entry backend=page.engine.backend settings=page.run.settings names=names analysis=result scores=replicated error=page.run.error
                        readings=page.compare.readings/>
                    <details class="numbers" id="numbers">
                        <summary>"The numbers: every column as a table"</summary>
                        <Gallery shown=shown readings=page.compare.readings/>
                    </details>
                    <ComparePatterns pair=pair status=page.compare.own_status names=names a_name=a_name settings=page.run.settings
                        forward=Signal::derive(move || page.compare.readings.get()) reverse=Signal::derive(move || page.compare.own.with(|o| o.as_ref().and_then(|o| o.reverse.clone())))/>
                    <AnalysisView settings=page.run.settings names=names status=page.study.status result=result templates=page.study.templates progress=page.study.progress
                        replicated=replicated
                        on_settings=on_analysis_settings on_run=on_study busy=study_busy/>
                    <PlantCheckView check=page.study.plant plant=Signal::derive(move || page.models.entry.with(|e| e.as_ref().and_then(|e| e.plant().copied())))
                        result=result names=names/>
                    <OverviewView entries=dataset_entries choice=Signal::derive(move || page.run.settings.overview().get())
                        seeds=Signal::derive(move || page.run.settings.seeds().get()) status=page.overview.status progress=page.overview.progress
                        error=page.overview.error result=overview_result on_choice=on_overview_choice on_run=on_overview_run on_cancel=on_overview_cancel busy=busy/>
                </div>
                <aside class="side" aria-label="Settings">
                    <section class="status" aria-label="Model and backend">
                        <BackendLine backend=page.engine.backend workers=page.engine.workers/>
                        <ModelPicker entries=page.models.entries current=page.models.entry on_dataset=on_dataset on_model=on_model busy=busy/>
                        <ModelCard entry=page.models.entry/>
                        <ComparePicker entries=page.models.entries current=page.models.entry compare=page.compare.entry
                            on_compare=on_compare on_preset=on_preset on_swap=on_swap busy=busy/>
                    </section>
                    <Controls settings=page.run.settings names=names on_change=on_change busy=busy pack_counts=page.run.pack_counts.into()/>
                    <DrawPanel names=names custom=page.drawing.custom prediction=page.drawing.prediction on_attack=on_attack_drawing open=draw_open/>
                    <UploadForm dataset=dataset on_load=on_upload busy=busy/>
                    {train_view}
                    <SaveOffline entries=page.models.entries/>
                </aside>
            </div>
        </main>
    }
}
