//! The page's handle on one compute worker (`dough-worker`, or `dough-worker-cpu`): spawns it,
//! waits for "ready" (at most [`READY_TIMEOUT_MS`]), sends requests and resolves each with the
//! reply that names its id (`dough_core::routing`). A panic, a lost GPU device or a worker that
//! fails to load ends the worker; every pending request then fails with
//! [`ClientError::Crashed`]. The handle remembers which models the worker has in its cache, so
//! that a model's bytes cross to a worker once.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use futures::channel::oneshot;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{ErrorEvent, MessageEvent};

use dough_core::attack::{AttackConfig, SampleOutcome};
use dough_core::bench::BenchResult;
use dough_core::manifest::ModelEntry;
use dough_core::protocol::web::{from_js, to_js};
use dough_core::compare::PatternPair;
use dough_core::drive::DriveError;
use dough_core::drive::study::StudyStats;
use dough_core::protocol::{AdapterReport, BackendKind, DoughPhase, DoughRequest, FailKind, Fault, JobProgress, Packet, Reply, Request, StudyRunRows, pack_images, pack_rows, unpack_done};
pub use dough_core::routing::Crash;
use dough_core::routing::{Routed, Router};
use dough_core::study::abstraction::Abstraction;
use dough_core::study::overview::Overview;
use dough_core::study::templates::TemplateKind;

/// How long a new worker may take to say "ready" before it is given up.
pub const READY_TIMEOUT_MS: i32 = 20_000;

#[derive(Clone, Debug, PartialEq)]
pub enum ClientError {
    /// The request failed (a bad request or a failed computation); the worker is fine.
    Failed(String),
    /// The worker died; it must be replaced.
    Crashed(Crash),
}

impl From<DriveError> for ClientError {
    fn from(e: DriveError) -> Self {
        ClientError::Failed(e.to_string())
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Failed(m) => f.write_str(m),
            ClientError::Crashed(c) => f.write_str(&c.describe()),
        }
    }
}

/// The answer to a request that names its inputs by a key (`Request::Analyse`,
/// `Request::Overview`): the answer, or word that the worker no longer holds the inputs.
pub enum Keyed<T> {
    Answer(T),
    NotHeld,
}

/// How an attack ended.
pub enum AttackEnd {
    Done(Vec<SampleOutcome>, Vec<(usize, Vec<f32>)>),
    Cancelled,
}

/// What the worker said about its backend.
#[derive(Clone, Debug, PartialEq)]
pub struct Started {
    pub backend: BackendKind,
    pub adapter: Option<AdapterReport>,
    pub note: Option<String>,
    pub init_ms: f64,
}

type Answer = oneshot::Sender<Result<Packet<Reply>, ClientError>>;

struct Pending {
    answer: Answer,
    listen: Listeners,
}

/// A live attack's inputs after `step` steps (rows x 784), as the worker sends them.
pub type LiveFrames = Box<dyn FnMut(usize, Vec<f32>)>;

/// Who hears a request's events before its end.
#[derive(Default)]
struct Listeners {
    progress: Option<Box<dyn FnMut(JobProgress)>>,
    /// An attack's live frames (`record_frames`).
    frames: Option<LiveFrames>,
    /// A training run's progress and snapshots, as they come.
    events: Option<Box<dyn FnMut(TrainEvent)>>,
}

/// What a training run reports before its end.
pub enum TrainEvent {
    Progress { epoch: usize, epochs: usize, batch: usize, batches: usize, loss: Option<f32> },
    Snapshot(TrainSnapshot),
    /// "Train on dough": `done` of `total` images attacked, or control batches trained.
    Dough { phase: DoughPhase, done: usize, total: usize },
    /// "Train on dough": the D_det is built.
    DoughBuilt { kept: usize, attempted: usize, seconds: f64, median_l2: f32 },
}

/// The network after `epoch` epochs (0: untrained).
pub struct TrainSnapshot {
    pub epoch: usize,
    pub test_accuracy: f64,
    pub seconds: f64,
    /// The study batch's outcomes (`pipeline::batch` of the controlled inputs).
    pub rows: Vec<SampleOutcome>,
    /// Its weights as f32 safetensors.
    pub safetensors: Vec<u8>,
}

/// How a training run ended (its last snapshot holds the trained network).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrainEnd {
    /// Trained on a set of `images` images; on dough, the control network's test accuracy.
    Done { images: usize, control: Option<f64> },
    Cancelled,
}

#[derive(Default)]
struct Inner {
    worker: RefCell<Option<web_sys::Worker>>,
    /// Every request waiting for its reply, by id.
    router: RefCell<Router<Pending>>,
    ready: RefCell<Option<Answer>>,
    crashed: RefCell<Option<Crash>>,
    /// The SHA-256 of every model this worker holds in its cache.
    models: RefCell<HashSet<String>>,
    /// Called once when the worker dies.
    on_crash: RefCell<Option<Box<dyn Fn(Crash)>>>,
    _handlers: RefCell<Vec<Closure<dyn FnMut(web_sys::Event)>>>,
}

/// A running compute worker. Cheap to clone (a handle).
#[derive(Clone)]
pub struct WorkerHandle {
    inner: Rc<Inner>,
}

impl PartialEq for WorkerHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The worker script, versioned by the build (see scripts/build-site.sh) so that a cached old
/// worker never meets a new page.
fn worker_url(backend: BackendKind, silent: bool) -> String {
    let version = crate::platform::window()
        .document()
        .and_then(|d| d.query_selector("meta[name=dough-worker-version]").ok().flatten())
        .and_then(|m| m.get_attribute("content"))
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    // One build per backend: the CPU one is much smaller.
    let bin = match backend {
        BackendKind::Cpu => "dough-worker-cpu",
        BackendKind::Webgpu => "dough-worker",
    };
    // Test-only (`debug=silent-worker`): a worker script that never loads its code.
    let silent = if silent { "&silent=1" } else { "" };
    format!("worker.js?bin={bin}&v={version}{silent}")
}

impl WorkerHandle {
    /// Starts a worker for `backend` and waits until its code is loaded.
    pub async fn spawn(backend: BackendKind) -> Result<WorkerHandle, ClientError> {
        Self::spawn_with(backend, false).await
    }

    /// [`WorkerHandle::spawn`]; `silent` (test-only) starts a worker that never says "ready".
    pub async fn spawn_with(backend: BackendKind, silent: bool) -> Result<WorkerHandle, ClientError> {
        let worker = web_sys::Worker::new(&worker_url(backend, silent)).map_err(|e| ClientError::Failed(format!("the browser refused to start the compute worker: {e:?}")))?;
        let inner = Rc::new(Inner::default());
        let (tx, rx) = oneshot::channel();
        *inner.ready.borrow_mut() = Some(tx);
        let weak = Rc::downgrade(&inner);
        let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            if let (Some(inner), Ok(ev)) = (weak.upgrade(), ev.dyn_into::<MessageEvent>()) {
                WorkerHandle { inner }.receive(&ev.data());
            }
        });
        let weak = Rc::downgrade(&inner);
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            ev.prevent_default();
            let message = ev.dyn_ref::<ErrorEvent>().map(|e| e.message()).filter(|m| !m.is_empty()).unwrap_or_else(|| "the worker script failed".into());
            if let Some(inner) = weak.upgrade() {
                WorkerHandle { inner }.crash(Crash::Error(message));
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        inner._handlers.borrow_mut().extend([on_message, on_error]);
        *inner.worker.borrow_mut() = Some(worker);
        let c = WorkerHandle { inner };
        let timeout = crate::platform::sleep_ms(READY_TIMEOUT_MS);
        futures::pin_mut!(timeout);
        match futures::future::select(rx, timeout).await {
            futures::future::Either::Left((Ok(Ok(_)), _)) => Ok(c),
            futures::future::Either::Left((Ok(Err(e)), _)) => Err(e),
            futures::future::Either::Left((Err(_), _)) => Err(ClientError::Failed("the compute worker did not start".into())),
            futures::future::Either::Right(_) => {
                let why = Crash::Error(format!("it did not say it was ready within {} s", READY_TIMEOUT_MS / 1000));
                c.crash(why.clone());
                Err(ClientError::Crashed(why))
            }
        }
    }

    /// Whether the worker has the model `sha256` in its cache.
    pub fn has_model(&self, sha256: &str) -> bool {
        self.inner.models.borrow().contains(sha256)
    }

    /// Called once if the worker dies (not when it is terminated on purpose).
    pub fn on_crash(&self, f: impl Fn(Crash) + 'static) {
        *self.inner.on_crash.borrow_mut() = Some(Box::new(f));
    }

    /// Ends the worker at once (its runs are abandoned; their callers see `Cancelled`).
    pub fn terminate(&self) {
        if let Some(w) = self.inner.worker.borrow_mut().take() {
            w.terminate();
        }
        let pending = self.inner.router.borrow_mut().drain();
        for (id, p) in pending {
            let _ = p.answer.send(Ok(Packet::new(Reply::Cancelled { id })));
        }
    }

    fn crash(&self, why: Crash) {
        if self.inner.crashed.borrow().is_some() {
            return;
        }
        web_sys::console::warn_1(&format!("Dough: {}", why.describe()).into());
        *self.inner.crashed.borrow_mut() = Some(why.clone());
        if let Some(w) = self.inner.worker.borrow_mut().take() {
            w.terminate();
        }
        let err = ClientError::Crashed(why.clone());
        let ready = self.inner.ready.borrow_mut().take();
        if let Some(a) = ready {
            let _ = a.send(Err(err.clone()));
        }
        let pending = self.inner.router.borrow_mut().drain();
        for (_, p) in pending {
            let _ = p.answer.send(Err(err.clone()));
        }
        let hook = self.inner.on_crash.borrow_mut().take();
        if let Some(f) = hook {
            f(why);
        }
    }

    fn receive(&self, data: &wasm_bindgen::JsValue) {
        let packet = match from_js::<Reply>(data) {
            Ok(p) => p,
            Err(e) => return web_sys::console::warn_1(&format!("Dough: unreadable message from the worker: {e}").into()),
        };
        let routed = self.inner.router.borrow_mut().route(&packet.msg);
        match routed {
            Routed::Ready => {
                let ready = self.inner.ready.borrow_mut().take();
                if let Some(a) = ready {
                    let _ = a.send(Ok(packet));
                }
            }
            Routed::Crash(why) => self.crash(why),
            Routed::Event(id) => self.event(id, packet),
            Routed::Final(_, p) => {
                let _ = p.answer.send(Ok(packet));
            }
            Routed::Stale(_) => {
                // For tests and tools: how many cancelled requests the workers confirmed stopping.
                if matches!(packet.msg, Reply::Cancelled { .. }) {
                    let global = js_sys::global();
                    let before = js_sys::Reflect::get(&global, &"__doughStops".into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
                    let _ = js_sys::Reflect::set(&global, &"__doughStops".into(), &(before + 1.0).into());
                }
            }
            Routed::Unsolicited => web_sys::console::warn_1(&format!("Dough: a reply for no waiting request: {:?}", packet.msg).into()),
        }
    }

    /// Progress and training events of waiting request `id`.
    fn event(&self, id: u32, packet: Packet<Reply>) {
        match packet.msg {
            Reply::Progress { progress, .. } => {
                if let Some(p) = self.inner.router.borrow_mut().get_mut(id).and_then(|p| p.listen.progress.as_mut()) {
                    p(progress);
                }
            }
            Reply::Frame { step, .. } => {
                // (outside the borrow, as the listener writes signals)
                let listener = self.inner.router.borrow_mut().get_mut(id).and_then(|p| p.listen.frames.take());
                if let Some(mut f) = listener {
                    f(step, packet.f32);
                    if let Some(p) = self.inner.router.borrow_mut().get_mut(id) {
                        p.listen.frames = Some(f);
                    }
                }
            }
            Reply::TrainProgress { epoch, epochs, batch, batches, loss, .. } => self.train_event(id, TrainEvent::Progress { epoch, epochs, batch, batches, loss }),
            Reply::TrainSnapshot { epoch, test_accuracy, seconds, rows, .. } => match unpack_done(rows, &[], &packet.f32) {
                Ok((rows, _)) => self.train_event(id, TrainEvent::Snapshot(TrainSnapshot { epoch, test_accuracy, seconds, rows, safetensors: packet.u8 })),
                Err(e) => web_sys::console::warn_1(&format!("Dough: unreadable training snapshot: {e}").into()),
            },
            Reply::DoughProgress { phase, done, total, .. } => self.train_event(id, TrainEvent::Dough { phase, done, total }),
            Reply::DoughBuilt { kept, attempted, seconds, median_l2, .. } => self.train_event(id, TrainEvent::DoughBuilt { kept, attempted, seconds, median_l2 }),
            _ => {}
        }
    }

    fn send(&self, p: &Packet<Request>) -> Result<(), ClientError> {
        if let Some(why) = self.inner.crashed.borrow().clone() {
            return Err(ClientError::Crashed(why));
        }
        let (v, transfer) = to_js(p).map_err(|e| ClientError::Failed(e.to_string()))?;
        let worker = self.inner.worker.borrow();
        let w = worker.as_ref().ok_or_else(|| ClientError::Failed("the compute worker was replaced".into()))?;
        w.post_message_with_transfer(&v, &transfer).map_err(|e| ClientError::Failed(format!("could not reach the compute worker: {e:?}")))
    }

    fn new_id(&self) -> u32 {
        self.inner.router.borrow_mut().next_id()
    }

    /// Hands a training event to its run's listener (outside the borrow: it may send requests).
    fn train_event(&self, id: u32, ev: TrainEvent) {
        let listener = self.inner.router.borrow_mut().get_mut(id).and_then(|p| p.listen.events.take());
        if let Some(mut f) = listener {
            f(ev);
            if let Some(p) = self.inner.router.borrow_mut().get_mut(id) {
                p.listen.events = Some(f);
            }
        }
    }

    async fn request(&self, p: Packet<Request>, id: u32, progress: Option<Box<dyn FnMut(JobProgress)>>) -> Result<Packet<Reply>, ClientError> {
        self.request_with(p, id, Listeners { progress, ..Default::default() }).await
    }

    async fn request_with(&self, p: Packet<Request>, id: u32, listen: Listeners) -> Result<Packet<Reply>, ClientError> {
        let answer = self.request_raw(p, id, listen).await?;
        match answer.msg {
            Reply::Failed { message, .. } => Err(ClientError::Failed(message)),
            _ => Ok(answer),
        }
    }

    /// The answer to a request whose inputs stay in the worker under a key: `NotHeld` when the
    /// worker no longer holds them.
    async fn request_keyed(&self, p: Packet<Request>, id: u32) -> Result<Keyed<Packet<Reply>>, ClientError> {
        let answer = self.request_raw(p, id, Listeners::default()).await?;
        match answer.msg {
            Reply::Failed { kind: FailKind::NotHeld, .. } => Ok(Keyed::NotHeld),
            Reply::Failed { message, .. } => Err(ClientError::Failed(message)),
            _ => Ok(Keyed::Answer(answer)),
        }
    }

    /// The worker's answer to request `id`, a failure included.
    async fn request_raw(&self, p: Packet<Request>, id: u32, listen: Listeners) -> Result<Packet<Reply>, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.inner.router.borrow_mut().open(id, Pending { answer: tx, listen });
        if let Err(e) = self.send(&p) {
            self.inner.router.borrow_mut().forget(id);
            return Err(e);
        }
        rx.await.unwrap_or_else(|_| Err(ClientError::Failed("the compute worker went away".into())))
    }

    pub async fn init(&self, backend: BackendKind, fault: Option<Fault>) -> Result<Started, ClientError> {
        let id = self.new_id();
        match self.request(Packet::new(Request::Init { id, backend, fault }), id, None).await?.msg {
            Reply::Backend { backend, adapter, note, init_ms, .. } => Ok(Started { backend, adapter, note, init_ms }),
            other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
        }
    }

    /// Spawns the worker for `backend` and starts its device. The WebGPU worker has no CPU
    /// backend: when WebGPU will not start there (no adapter, a failed device request), it is
    /// replaced by the CPU worker, and the answer keeps the WebGPU worker's adapter and note.
    pub async fn start(backend: BackendKind, fault: Option<Fault>) -> Result<(WorkerHandle, Started), ClientError> {
        let c = WorkerHandle::spawn(backend).await?;
        let started = match c.init(backend, fault).await {
            Ok(s) => s,
            Err(e) => {
                c.terminate();
                return Err(e);
            }
        };
        if backend == BackendKind::Cpu || started.backend == backend {
            return Ok((c, started));
        }
        c.terminate();
        let cpu = WorkerHandle::spawn(BackendKind::Cpu).await?;
        match cpu.init(BackendKind::Cpu, fault).await {
            Ok(s) => Ok((cpu, Started { backend: s.backend, adapter: started.adapter, note: started.note, init_ms: started.init_ms + s.init_ms })),
            Err(e) => {
                cpu.terminate();
                Err(e)
            }
        }
    }

    /// Hands the worker a verified model file for its cache (`current`: and makes it the model
    /// of requests that name none). The bytes cross only when the worker lacks the model.
    pub async fn load_model(&self, entry: &ModelEntry, bytes: &[u8], current: bool) -> Result<(), ClientError> {
        let cached = self.has_model(&entry.sha256);
        if !current && cached {
            return Ok(());
        }
        let id = self.new_id();
        // A cached model is made current without its bytes.
        let bytes = if cached { Vec::new() } else { bytes.to_vec() };
        let p = Packet { msg: Request::Model { id, entry: entry.clone(), current }, f32: Vec::new(), u8: bytes };
        match self.request(p, id, None).await?.msg {
            Reply::ModelLoaded { sha256, .. } => {
                self.inner.models.borrow_mut().insert(sha256);
                Ok(())
            }
            other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
        }
    }

    /// Starts an attack; returns its id (for [`WorkerHandle::cancel`]) and the future of its end.
    /// With `record_frames`, `live` sees the inputs as they evolve.
    #[allow(clippy::too_many_arguments)]
    pub fn attack(
        &self,
        starts: &[Vec<f32>],
        targets: &[usize],
        cfg: &AttackConfig,
        untrained_seed: Option<u64>,
        record_frames: bool,
        model: Option<&str>,
        progress: impl FnMut(JobProgress) + 'static,
        live: Option<LiveFrames>,
    ) -> (u32, impl std::future::Future<Output = Result<AttackEnd, ClientError>> + 'static) {
        let id = self.new_id();
        let msg = Request::Attack { id, targets: targets.to_vec(), cfg: cfg.clone(), untrained_seed, record_frames, model: model.map(str::to_string) };
        let p = Packet::with_f32(msg, pack_images(starts));
        let this = self.clone();
        let fut = async move {
            let answer = this.request_with(p, id, Listeners { progress: Some(Box::new(progress)), frames: live, events: None }).await?;
            match answer.msg {
                Reply::Done { rows, frame_steps, .. } => {
                    let (rows, frames) = unpack_done(rows, &frame_steps, &answer.f32).map_err(|e| ClientError::Failed(e.to_string()))?;
                    Ok(AttackEnd::Done(rows, frames))
                }
                Reply::Cancelled { .. } => Ok(AttackEnd::Cancelled),
                other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
            }
        };
        (id, fut)
    }

    /// Starts training `recipe` on the training pack `train_pack` (its bytes), measured on the
    /// test pack `test_pack`, with snapshots that attack the study's controlled inputs from
    /// `study_seed` with `attack`; returns its id (for [`WorkerHandle::cancel`] and
    /// [`WorkerHandle::pause`]) and the future of its end. `events` sees progress and snapshots.
    /// With `dough`, it trains on the D_det of that cached model instead of the pack (built by
    /// the worker, or by the page's pool: then `dough_images` holds its adversarial images).
    #[allow(clippy::too_many_arguments)]
    pub fn train(
        &self,
        recipe: &dough_core::train_recipe::TrainRecipe,
        train_pack: &[u8],
        test_pack: &[u8],
        study_seed: u64,
        attack: &AttackConfig,
        dough: Option<DoughRequest>,
        dough_images: Vec<f32>,
        events: impl FnMut(TrainEvent) + 'static,
    ) -> (u32, impl std::future::Future<Output = Result<TrainEnd, ClientError>> + 'static) {
        let id = self.new_id();
        let msg = Request::Train { id, arch: recipe.arch_kind(), config: recipe.config(), train_bytes: train_pack.len(), study_seed, attack: attack.clone(), dough };
        let p = Packet { msg, f32: dough_images, u8: [train_pack, test_pack].concat() };
        let this = self.clone();
        let fut = async move {
            match this.request_with(p, id, Listeners { events: Some(Box::new(events)), ..Default::default() }).await?.msg {
                Reply::TrainDone { images, control, .. } => Ok(TrainEnd::Done { images, control }),
                Reply::Cancelled { .. } => Ok(TrainEnd::Cancelled),
                other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
            }
        };
        (id, fut)
    }

    /// Pauses (or resumes) training run `id` between two batches.
    pub fn pause(&self, id: u32, paused: bool) {
        let _ = self.send(&Packet::new(Request::Pause { id, paused }));
    }

    /// Stops attack `id`: its caller sees `Cancelled` at once; the worker stops at its next step.
    pub fn cancel(&self, id: u32) {
        let p = self.inner.router.borrow_mut().cancel(id);
        if let Some(p) = p {
            let _ = p.answer.send(Ok(Packet::new(Reply::Cancelled { id })));
        }
        let _ = self.send(&Packet::new(Request::Cancel { id }));
    }

    /// Runs still in flight or queued in the worker.
    pub fn busy(&self) -> bool {
        !self.inner.router.borrow().is_empty()
    }

    pub async fn predict(&self, image: &[f32]) -> Result<Vec<f32>, ClientError> {
        let id = self.new_id();
        let answer = self.request(Packet::with_f32(Request::Predict { id }, image.to_vec()), id, None).await?;
        match answer.msg {
            Reply::Probabilities { .. } if answer.f32.len() == dough_core::model::CLASSES => Ok(answer.f32),
            _ => Err(ClientError::Failed("no prediction (the worker was replaced)".into())),
        }
    }

    /// Class probabilities (10 per image, in order) of `images` from the model `entry`, sent to
    /// the worker's cache first if it lacks it; the worker's current model stays.
    pub async fn predict_with(&self, entry: &ModelEntry, bytes: &[u8], images: &[Vec<f32>]) -> Result<Vec<f32>, ClientError> {
        self.load_model(entry, bytes, false).await?;
        let id = self.new_id();
        let msg = Request::PredictWith { id, model: entry.sha256.clone(), count: images.len() };
        let p = Packet::with_f32(msg, pack_images(images));
        let answer = self.request(p, id, None).await?;
        match answer.msg {
            Reply::Probabilities { .. } => Ok(answer.f32),
            Reply::Cancelled { .. } => Err(ClientError::Failed("the compute worker was replaced".into())),
            other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
        }
    }

    /// Milliseconds per attack step of the current model (gallery batch) on this worker.
    pub async fn calibrate(&self) -> Result<f64, ClientError> {
        let id = self.new_id();
        match self.request(Packet::new(Request::Calibrate { id }), id, None).await?.msg {
            Reply::Calibrated { ms_per_step, .. } => Ok(ms_per_step),
            other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
        }
    }

    pub async fn bench(&self, name: &str) -> Result<BenchResult, ClientError> {
        let id = self.new_id();
        match self.request(Packet::new(Request::Bench { id, name: name.to_string() }), id, None).await?.msg {
            Reply::BenchDone { result, .. } => Ok(result),
            other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
        }
    }

    /// The study's statistics of `runs` (images in `f32`, see `protocol::pack_runs`) against the
    /// dataset's templates (their encoded bytes); returns the id (to cancel) and the future.
    pub fn analyse(
        &self,
        key: u64,
        runs: Vec<StudyRunRows>,
        images: Vec<f32>,
        templates: &[u8],
        abstraction: Abstraction,
        template: TemplateKind,
        plant: Option<dough_core::plant::Plant>,
    ) -> (u32, impl std::future::Future<Output = Result<Option<Keyed<StudyStats>>, ClientError>> + 'static + use<>) {
        let id = self.new_id();
        let p = Packet { msg: Request::Analyse { id, key, runs, abstraction, template, plant }, f32: images, u8: templates.to_vec() };
        let this = self.clone();
        let fut = async move {
            let Keyed::Answer(answer) = this.request_keyed(p, id).await? else { return Ok(Some(Keyed::NotHeld)) };
            match answer.msg {
                Reply::Analysed { mut result, replicated, plant, .. } => {
                    result.patterns = answer.f32.chunks(dough_core::model::PIXELS).map(|c| c.to_vec()).collect();
                    Ok(Some(Keyed::Answer(StudyStats { result, replicated, plant })))
                }
                Reply::Cancelled { .. } => Ok(None),
                other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
            }
        };
        (id, fut)
    }

    /// Compare mode's statistics of A's gallery, B's own run and B's untrained twin's run (when
    /// there is one); `Some(None)` when they are not whole galleries from one start, `None` when
    /// cancelled.
    pub fn compare_patterns(&self, sets: Vec<Vec<SampleOutcome>>, abstraction: Abstraction, seed: u64) -> (u32, impl std::future::Future<Output = Result<Option<Option<PatternPair>>, ClientError>> + 'static) {
        let id = self.new_id();
        let (rows, images) = pack_rows(sets);
        let p = Packet::with_f32(Request::ComparePatterns { id, rows, abstraction, seed }, images);
        let this = self.clone();
        let fut = async move {
            let answer = this.request(p, id, None).await?;
            match answer.msg {
                Reply::Compared { mut pair, .. } => {
                    if let Some(pair) = &mut pair {
                        let mut patterns = answer.f32.chunks(dough_core::model::PIXELS).map(|c| c.to_vec());
                        pair.a = patterns.by_ref().take(dough_core::model::CLASSES).collect();
                        pair.b = patterns.collect();
                    }
                    Ok(Some(pair))
                }
                Reply::Cancelled { .. } => Ok(None),
                other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
            }
        };
        (id, fut)
    }

    /// The overview's statistics (see `Request::Overview`); `None` when cancelled.
    pub fn overview_stats<M: FnOnce(u32) -> Request>(&self, msg: M, perturbations: Vec<f32>) -> (u32, impl std::future::Future<Output = Result<Option<Keyed<Result<Overview, String>>>, ClientError>> + 'static + use<M>) {
        let id = self.new_id();
        let p = Packet::with_f32(msg(id), perturbations);
        let this = self.clone();
        let fut = async move {
            let Keyed::Answer(answer) = this.request_keyed(p, id).await? else { return Ok(Some(Keyed::NotHeld)) };
            match answer.msg {
                Reply::OverviewStats { overview, .. } => Ok(Some(Keyed::Answer(overview))),
                Reply::Cancelled { .. } => Ok(None),
                other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
            }
        };
        (id, fut)
    }
}
