//! The page's handle on its compute worker (`dough-worker`): spawns it, waits for "ready",
//! sends requests and resolves each with its reply. A panic, a lost GPU device or a worker
//! that fails to load ends the worker; every pending request then fails with
//! [`ClientError::Crashed`], and the app starts a fresh worker on the CPU.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use futures::channel::oneshot;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{ErrorEvent, MessageEvent};

use dough_core::attack::{AttackConfig, SampleOutcome};
use dough_core::bench::BenchResult;
use dough_core::manifest::ModelEntry;
use dough_core::protocol::web::{from_js, to_js};
use dough_core::protocol::{AdapterReport, BackendKind, Fault, JobProgress, Packet, Reply, Request, pack_images, unpack_done};

/// Why the worker died.
#[derive(Clone, Debug, PartialEq)]
pub enum Crash {
    /// The GPU device was lost or failed.
    GpuLost(String),
    /// The worker's code panicked.
    Panic(String),
    /// The worker could not load, or threw.
    Error(String),
}

impl Crash {
    /// For `data-recovered`.
    pub fn slug(&self) -> &'static str {
        match self {
            Crash::GpuLost(_) => "device-lost",
            Crash::Panic(_) => "panic",
            Crash::Error(_) => "worker-error",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Crash::GpuLost(m) => format!("the GPU device failed ({m})"),
            Crash::Panic(m) => format!("the compute worker crashed ({m})"),
            Crash::Error(m) => format!("the compute worker stopped ({m})"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClientError {
    /// The request failed; the worker is fine.
    Failed(String),
    /// The worker died; it must be replaced.
    Crashed(Crash),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Failed(m) => f.write_str(m),
            ClientError::Crashed(c) => f.write_str(&c.describe()),
        }
    }
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
    progress: Option<Box<dyn FnMut(JobProgress)>>,
    /// A training run's progress and snapshots, as they come.
    events: Option<Box<dyn FnMut(TrainEvent)>>,
}

/// What a training run reports before its end.
pub enum TrainEvent {
    Progress { epoch: usize, epochs: usize, batch: usize, batches: usize, loss: Option<f32> },
    Snapshot(TrainSnapshot),
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainEnd {
    /// Trained on a pack of `images` images.
    Done { images: usize },
    Cancelled,
}

#[derive(Default)]
struct Inner {
    worker: RefCell<Option<web_sys::Worker>>,
    /// Requests with an id, by id.
    pending: RefCell<HashMap<u32, Pending>>,
    /// Requests without an id (Init, Model), answered in order.
    control: RefCell<VecDeque<Answer>>,
    ready: RefCell<Option<Answer>>,
    crashed: RefCell<Option<Crash>>,
    next_id: Cell<u32>,
    /// Called once when the worker dies.
    on_crash: RefCell<Option<Box<dyn Fn(Crash)>>>,
    _handlers: RefCell<Vec<Closure<dyn FnMut(web_sys::Event)>>>,
}

/// A running compute worker. Cheap to clone (a handle).
#[derive(Clone)]
pub struct Compute {
    inner: Rc<Inner>,
}

impl PartialEq for Compute {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The worker script, versioned by the build (see scripts/build-site.sh) so that a cached old
/// worker never meets a new page.
fn worker_url(backend: BackendKind) -> String {
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
    format!("worker.js?bin={bin}&v={version}")
}

impl Compute {
    /// Starts a worker for `backend` and waits until its code is loaded.
    pub async fn spawn(backend: BackendKind) -> Result<Compute, ClientError> {
        let worker = web_sys::Worker::new(&worker_url(backend)).map_err(|e| ClientError::Failed(format!("the browser refused to start the compute worker: {e:?}")))?;
        let inner = Rc::new(Inner::default());
        let (tx, rx) = oneshot::channel();
        *inner.ready.borrow_mut() = Some(tx);
        let weak = Rc::downgrade(&inner);
        let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            if let (Some(inner), Ok(ev)) = (weak.upgrade(), ev.dyn_into::<MessageEvent>()) {
                Compute { inner }.receive(&ev.data());
            }
        });
        let weak = Rc::downgrade(&inner);
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            ev.prevent_default();
            let message = ev.dyn_ref::<ErrorEvent>().map(|e| e.message()).filter(|m| !m.is_empty()).unwrap_or_else(|| "the worker script failed".into());
            if let Some(inner) = weak.upgrade() {
                Compute { inner }.crash(Crash::Error(message));
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        inner._handlers.borrow_mut().extend([on_message, on_error]);
        *inner.worker.borrow_mut() = Some(worker);
        let c = Compute { inner };
        match rx.await {
            Ok(Ok(_)) => Ok(c),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ClientError::Failed("the compute worker did not start".into())),
        }
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
        let pending: Vec<Pending> = self.inner.pending.borrow_mut().drain().map(|(_, p)| p).collect();
        for p in pending {
            let _ = p.answer.send(Ok(Packet::new(Reply::Cancelled { id: 0 })));
        }
        let control: Vec<Answer> = self.inner.control.borrow_mut().drain(..).collect();
        for a in control {
            let _ = a.send(Err(ClientError::Failed("the compute worker was replaced".into())));
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
        let pending: Vec<Pending> = self.inner.pending.borrow_mut().drain().map(|(_, p)| p).collect();
        for p in pending {
            let _ = p.answer.send(Err(err.clone()));
        }
        let control: Vec<Answer> = self.inner.control.borrow_mut().drain(..).collect();
        for a in control {
            let _ = a.send(Err(err.clone()));
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
        let id = match &packet.msg {
            Reply::Ready => {
                let ready = self.inner.ready.borrow_mut().take();
                if let Some(a) = ready {
                    let _ = a.send(Ok(packet));
                }
                return;
            }
            Reply::Panicked { message } => return self.crash(Crash::Panic(message.clone())),
            Reply::Failed { gpu: true, message, .. } => return self.crash(Crash::GpuLost(message.clone())),
            Reply::Progress { id, progress } => {
                if let Some(p) = self.inner.pending.borrow_mut().get_mut(id).and_then(|p| p.progress.as_mut()) {
                    p(*progress);
                }
                return;
            }
            Reply::TrainProgress { id, epoch, epochs, batch, batches, loss } => {
                let ev = TrainEvent::Progress { epoch: *epoch, epochs: *epochs, batch: *batch, batches: *batches, loss: *loss };
                return self.train_event(*id, ev);
            }
            Reply::TrainSnapshot { id, .. } => {
                let id = *id;
                let Packet { msg: Reply::TrainSnapshot { epoch, test_accuracy, seconds, rows, .. }, f32, u8 } = packet else { return };
                return match unpack_done(rows, &[], &f32) {
                    Ok((rows, _)) => self.train_event(id, TrainEvent::Snapshot(TrainSnapshot { epoch, test_accuracy, seconds, rows, safetensors: u8 })),
                    Err(e) => web_sys::console::warn_1(&format!("Dough: unreadable training snapshot: {e}").into()),
                };
            }
            Reply::Backend { .. } | Reply::ModelLoaded { .. } | Reply::Failed { id: None, .. } => None,
            Reply::Done { id, .. }
            | Reply::Cancelled { id }
            | Reply::Failed { id: Some(id), .. }
            | Reply::Probabilities { id }
            | Reply::Calibrated { id, .. }
            | Reply::BenchDone { id, .. }
            | Reply::TrainDone { id, .. } => Some(*id),
        };
        match id {
            None => {
                let next = self.inner.control.borrow_mut().pop_front();
                if let Some(a) = next {
                    let _ = a.send(Ok(packet));
                }
            }
            Some(id) => {
                let p = self.inner.pending.borrow_mut().remove(&id);
                if let Some(p) = p {
                    let _ = p.answer.send(Ok(packet));
                }
            }
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

    async fn control(&self, p: Packet<Request>) -> Result<Packet<Reply>, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.inner.control.borrow_mut().push_back(tx);
        if let Err(e) = self.send(&p) {
            self.inner.control.borrow_mut().pop_back();
            return Err(e);
        }
        rx.await.unwrap_or_else(|_| Err(ClientError::Failed("the compute worker went away".into())))
    }

    fn new_id(&self) -> u32 {
        let id = self.inner.next_id.get() + 1;
        self.inner.next_id.set(id);
        id
    }

    /// Hands a training event to its run's listener (outside the borrow: it may send requests).
    fn train_event(&self, id: u32, ev: TrainEvent) {
        let listener = self.inner.pending.borrow_mut().get_mut(&id).and_then(|p| p.events.take());
        if let Some(mut f) = listener {
            f(ev);
            if let Some(p) = self.inner.pending.borrow_mut().get_mut(&id) {
                p.events = Some(f);
            }
        }
    }

    async fn request(&self, p: Packet<Request>, id: u32, progress: Option<Box<dyn FnMut(JobProgress)>>) -> Result<Packet<Reply>, ClientError> {
        self.request_with(p, id, progress, None).await
    }

    async fn request_with(&self, p: Packet<Request>, id: u32, progress: Option<Box<dyn FnMut(JobProgress)>>, events: Option<Box<dyn FnMut(TrainEvent)>>) -> Result<Packet<Reply>, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.inner.pending.borrow_mut().insert(id, Pending { answer: tx, progress, events });
        if let Err(e) = self.send(&p) {
            self.inner.pending.borrow_mut().remove(&id);
            return Err(e);
        }
        let answer = rx.await.unwrap_or_else(|_| Err(ClientError::Failed("the compute worker went away".into())))?;
        match answer.msg {
            Reply::Failed { message, .. } => Err(ClientError::Failed(message)),
            _ => Ok(answer),
        }
    }

    pub async fn init(&self, backend: BackendKind, fault: Option<Fault>) -> Result<Started, ClientError> {
        match self.control(Packet::new(Request::Init { backend, fault })).await?.msg {
            Reply::Backend { backend, adapter, note, init_ms } => Ok(Started { backend, adapter, note, init_ms }),
            Reply::Failed { message, .. } => Err(ClientError::Failed(message)),
            other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
        }
    }

    /// Spawns the worker for `backend` and starts its device. The WebGPU worker has no CPU
    /// backend: when WebGPU will not start there (no adapter, a failed device request), it is
    /// replaced by the CPU worker, and the answer keeps the WebGPU worker's adapter and note.
    pub async fn start(backend: BackendKind, fault: Option<Fault>) -> Result<(Compute, Started), ClientError> {
        let c = Compute::spawn(backend).await?;
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
        let cpu = Compute::spawn(BackendKind::Cpu).await?;
        match cpu.init(BackendKind::Cpu, fault).await {
            Ok(s) => Ok((cpu, Started { backend: s.backend, adapter: started.adapter, note: started.note, init_ms: started.init_ms + s.init_ms })),
            Err(e) => {
                cpu.terminate();
                Err(e)
            }
        }
    }

    /// Hands the worker a verified model file.
    pub async fn load_model(&self, entry: &ModelEntry, bytes: &[u8]) -> Result<(), ClientError> {
        let p = Packet { msg: Request::Model { entry: entry.clone() }, f32: Vec::new(), u8: bytes.to_vec() };
        match self.control(p).await?.msg {
            Reply::ModelLoaded { .. } => Ok(()),
            Reply::Failed { message, .. } => Err(ClientError::Failed(message)),
            other => Err(ClientError::Failed(format!("unexpected reply {other:?}"))),
        }
    }

    /// Starts an attack; returns its id (for [`Compute::cancel`]) and the future of its end.
    pub fn attack(
        &self,
        starts: &[Vec<f32>],
        targets: &[usize],
        cfg: &AttackConfig,
        untrained_seed: Option<u64>,
        record_frames: bool,
        with_model: Option<(&ModelEntry, &[u8])>,
        progress: impl FnMut(JobProgress) + 'static,
    ) -> (u32, impl std::future::Future<Output = Result<AttackEnd, ClientError>> + 'static) {
        let id = self.new_id();
        let msg = Request::Attack { id, targets: targets.to_vec(), cfg: cfg.clone(), untrained_seed, record_frames, with_model: with_model.map(|(e, _)| e.clone()) };
        let p = Packet { msg, f32: pack_images(starts), u8: with_model.map(|(_, b)| b.to_vec()).unwrap_or_default() };
        let this = self.clone();
        let fut = async move {
            let answer = this.request(p, id, Some(Box::new(progress))).await?;
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
    /// `study_seed` with `attack`; returns its id (for [`Compute::cancel`] and
    /// [`Compute::pause`]) and the future of its end. `events` sees progress and snapshots.
    pub fn train(
        &self,
        recipe: &dough_core::train_recipe::TrainRecipe,
        train_pack: &[u8],
        test_pack: &[u8],
        study_seed: u64,
        attack: &AttackConfig,
        events: impl FnMut(TrainEvent) + 'static,
    ) -> (u32, impl std::future::Future<Output = Result<TrainEnd, ClientError>> + 'static) {
        let id = self.new_id();
        let msg = Request::Train { id, arch: recipe.arch_kind(), config: recipe.config(), train_bytes: train_pack.len(), study_seed, attack: attack.clone() };
        let p = Packet { msg, f32: Vec::new(), u8: [train_pack, test_pack].concat() };
        let this = self.clone();
        let fut = async move {
            match this.request_with(p, id, None, Some(Box::new(events))).await?.msg {
                Reply::TrainDone { images, .. } => Ok(TrainEnd::Done { images }),
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
        let p = self.inner.pending.borrow_mut().remove(&id);
        if let Some(p) = p {
            let _ = p.answer.send(Ok(Packet::new(Reply::Cancelled { id })));
        }
        let _ = self.send(&Packet::new(Request::Cancel { id }));
    }

    /// Runs still in flight or queued in the worker.
    pub fn busy(&self) -> bool {
        !self.inner.pending.borrow().is_empty()
    }

    pub async fn predict(&self, image: &[f32]) -> Result<Vec<f32>, ClientError> {
        let id = self.new_id();
        let answer = self.request(Packet::with_f32(Request::Predict { id }, image.to_vec()), id, None).await?;
        match answer.msg {
            Reply::Probabilities { .. } if answer.f32.len() == dough_core::model::CLASSES => Ok(answer.f32),
            _ => Err(ClientError::Failed("no prediction (the worker was replaced)".into())),
        }
    }

    /// Compare mode: class probabilities (10 per image, in order) of `images` from the model
    /// `entry` (its verified bytes travel along); the worker's current model stays.
    pub async fn predict_with(&self, entry: &ModelEntry, bytes: &[u8], images: &[Vec<f32>]) -> Result<Vec<f32>, ClientError> {
        let id = self.new_id();
        let msg = Request::PredictWith { id, entry: entry.clone(), count: images.len() };
        let p = Packet { msg, f32: pack_images(images), u8: bytes.to_vec() };
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
}
