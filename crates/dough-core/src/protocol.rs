//! The messages between the page and its compute worker, and how their images travel.
//!
//! Every message is a small serde value (`msg`) plus two flat buffers: `f32` for images (start
//! images, adversarial examples, animation frames, probabilities) and `u8` for file bytes (a
//! model's weights). The buffers cross the thread boundary as transferable typed arrays, never
//! as JSON text; the functions here pack and unpack them so both sides agree on the layout.
//! The JavaScript glue is in [`web`] (feature `web`).

use serde::{Deserialize, Serialize};

use crate::attack::{AttackConfig, SampleOutcome};
use crate::bench::BenchResult;
use crate::manifest::{ArchKind, ModelConfig, ModelEntry};
use crate::model::PIXELS;
use crate::study::abstraction::Abstraction;
use crate::study::overview::Overview;
use crate::study::pipeline::StudyResult;
use crate::study::replicates::Replicated;
use crate::study::templates::TemplateKind;

/// The compute backends a worker can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Cpu,
    Webgpu,
}

impl BackendKind {
    /// "cpu" or "webgpu", for `data-backend`.
    pub fn slug(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Webgpu => "webgpu",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            BackendKind::Cpu => "CPU",
            BackendKind::Webgpu => "WebGPU",
        }
    }
}

/// Test-only faults the worker injects into its first run (URL key `debug=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Destroys the worker's GPU device a few steps into the run (as a driver reset would).
    LoseDevice,
    /// Panics a few steps into the run (as a bug in Burn or CubeCL would).
    Panic,
}

impl Fault {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "lose-device" => Some(Fault::LoseDevice),
            "panic" => Some(Fault::Panic),
            _ => None,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Fault::LoseDevice => "lose-device",
            Fault::Panic => "panic",
        }
    }
}

/// What the browser says about its WebGPU adapter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterReport {
    /// A readable name: the description, else vendor and architecture.
    pub name: String,
    /// A software rasteriser (SwiftShader, llvmpipe, WARP) or the browser's fallback adapter.
    pub software: bool,
}

impl AdapterReport {
    /// Builds a report from the fields of `GPUAdapterInfo` and `isFallbackAdapter`.
    pub fn from_info(description: &str, vendor: &str, architecture: &str, device: &str, fallback: bool) -> Self {
        let parts: Vec<&str> = [vendor, architecture, device].into_iter().filter(|s| !s.is_empty()).collect();
        let name = if !description.is_empty() {
            description.to_string()
        } else if !parts.is_empty() {
            parts.join(" ")
        } else {
            "unnamed adapter".to_string()
        };
        let all = format!("{description} {vendor} {architecture} {device}").to_lowercase();
        let software = fallback || ["swiftshader", "llvmpipe", "lavapipe", "softpipe", "microsoft basic render", "warp"].iter().any(|s| all.contains(s));
        Self { name, software }
    }
}

/// Progress of a run, for the progress bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    pub step: usize,
    pub max_steps: usize,
    pub finished_samples: usize,
    pub samples: usize,
}

/// Page -> worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Request {
    /// Start `backend` (WebGPU falls back to the CPU when it cannot start; the reply says why).
    Init { id: u32, backend: BackendKind, fault: Option<Fault> },
    /// Keep this model in the worker's cache under its SHA-256 (checked against the bytes, which
    /// travel in `u8`); `current`: use it from now on for requests that name no model.
    Model { id: u32, entry: ModelEntry, current: bool },
    /// Attack `targets[i]` from start image `i` (starts in `f32`, 784 values each), on the
    /// current model, or on the cached model whose SHA-256 is `model`, or on an untrained network
    /// of that model's shape from `untrained_seed`.
    Attack {
        id: u32,
        targets: Vec<usize>,
        cfg: AttackConfig,
        untrained_seed: Option<u64>,
        record_frames: bool,
        #[serde(default)]
        model: Option<String>,
    },
    /// Stop run `id` (and drop it if it is still queued).
    Cancel { id: u32 },
    /// Class probabilities of one image (784 values in `f32`).
    Predict { id: u32 },
    /// Class probabilities of `count` images (784 values each in `f32`) from the cached model
    /// whose SHA-256 is `model` (compare mode's model B, the overview's readings). The worker's
    /// current model stays. Answered by `Probabilities` with `count` blocks of 10 values.
    PredictWith {
        id: u32,
        model: String,
        #[serde(default)]
        count: usize,
    },
    /// Time a few attack steps of the real workload (the current model, a gallery batch).
    Calibrate { id: u32 },
    /// The fixed benchmark workload (`?bench=`).
    Bench { id: u32, name: String },
    /// Train a network of `arch` with the recipe `config` ("Train your own network"). `u8` holds
    /// the training pack's bytes (the first `train_bytes`), then the test sample pack's. Answered
    /// by `TrainProgress` while it runs, a `TrainSnapshot` of the untrained network (epoch 0) and
    /// after every epoch, then `TrainDone` (or `Cancelled`). The snapshots attack the study's
    /// controlled inputs (`pipeline::default_inputs(study_seed)`) toward every class with `attack`.
    /// With `dough`, the network trains on nothing but dough: the D_det of the cached model
    /// `dough.source` built from a seeded subset of the training pack (`DoughProgress` while it is
    /// built, `DoughBuilt` when it is), and after training a control network of the same recipe
    /// trains on the same clean images with the same target labels (`TrainDone.control`).
    Train {
        id: u32,
        arch: ArchKind,
        config: ModelConfig,
        train_bytes: usize,
        study_seed: u64,
        attack: AttackConfig,
        #[serde(default)]
        dough: Option<DoughRequest>,
    },
    /// Pause (or resume) the training run `id` between two batches.
    Pause { id: u32, paused: bool },
    /// The study's statistics (patterns, templates, nulls, permutation p-values) of the runs in
    /// `runs` (their images in `f32`, see [`pack_runs`]) with the dataset's templates (their
    /// [`crate::study::templates::Templates::encode`] bytes in `u8`). Answered by `Analysed`,
    /// with the planted-feature check of the runs (the patch of `plant`, the model's own, or the
    /// default patch for a clean network). The worker keeps the runs and templates under `key`:
    /// a later request with the same key and no runs (a new abstraction) reuses them; one whose
    /// key the worker does not hold fails with [`FailKind::NotHeld`] (the page sends them).
    Analyse {
        id: u32,
        #[serde(default)]
        key: u64,
        runs: Vec<StudyRunRows>,
        abstraction: Abstraction,
        template: TemplateKind,
        #[serde(default)]
        plant: Option<crate::plant::Plant>,
    },
    /// Compare mode's statistics ([`crate::compare::pattern_pair`]): A's gallery, B's own run and
    /// B's untrained twin's run (when there is one), the rows with their images in `f32` (see
    /// [`pack_rows`]: A's, B's, then the twin's). Answered by `Compared`.
    ComparePatterns { id: u32, rows: Vec<Vec<SampleOutcome>>, abstraction: Abstraction, seed: u64 },
    /// The zoo overview's statistics (patterns, persistence, transfer, the Mantel test) from
    /// every model's study perturbations (`f32`: `[model][seed][row]`, 784 values each, rows
    /// start-major as `pipeline::batch` lays them) and the transfer matrices. Answered by
    /// `OverviewStats`. The worker keeps the perturbations under `key`; an empty buffer with a key
    /// it holds reuses them (a new abstraction), one it does not hold fails with
    /// [`FailKind::NotHeld`].
    Overview {
        id: u32,
        #[serde(default)]
        key: u64,
        models: Vec<String>,
        families: Vec<usize>,
        seeds: Vec<u64>,
        rows: usize,
        transfer: Vec<Vec<Vec<f32>>>,
        abstraction: Abstraction,
        seed: u64,
    },
}

/// "Train on dough": which network's D_det, from how many training-pack images, with which
/// subset seed and attack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoughRequest {
    /// The SHA-256 of a cached model.
    pub source: String,
    pub count: usize,
    pub seed: u64,
    pub attack: AttackConfig,
    /// The page's pool attacked the subset already: the worker only assembles the set.
    #[serde(default)]
    pub built: Option<PoolBuilt>,
}

/// A D_det's attacks done by the page's pool (`dough_data::batches` of the seeded subset, each
/// on the next free worker): whether each image reached its target, and the seconds it took; the
/// adversarial images travel in the request's `f32`, in subset order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolBuilt {
    pub reached: Vec<bool>,
    pub seconds: f64,
    pub workers: usize,
}

/// Which part of "train on dough" a `DoughProgress` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DoughPhase {
    /// Images attacked toward their targets.
    Build,
    /// Batches of the control network's training.
    Control,
}

/// One seed of the study for [`Request::Analyse`]: the model's rows and its untrained twin's,
/// their images left empty (they travel in `f32`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyRunRows {
    pub seed: u64,
    pub trained: Vec<SampleOutcome>,
    pub untrained: Vec<SampleOutcome>,
}

/// Why a request failed. Only `DeviceLost` makes the page give up the worker (and, on WebGPU,
/// move to the CPU): a bad request or a failed computation leaves the worker as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailKind {
    /// The GPU device was lost or poisoned: the worker is useless from now on.
    DeviceLost,
    /// The request could not be read or names something the worker does not have (a model not
    /// in its cache, a malformed buffer, settings out of range).
    BadRequest,
    /// The computation failed (a training run that diverged, an attack error).
    Failed,
    /// The request named inputs by their key that this worker does not hold (it was replaced,
    /// or another key came since): send them with the request.
    NotHeld,
}

/// Worker -> page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Reply {
    /// The worker's code is loaded; it takes requests from now on.
    Ready,
    /// The backend that runs (answers `Init` `id`). `note` says why it is not the one asked for.
    Backend { id: u32, backend: BackendKind, adapter: Option<AdapterReport>, note: Option<String>, init_ms: f64 },
    /// The model of `Model` request `id` is in the cache.
    ModelLoaded { id: u32, sha256: String },
    Progress { id: u32, progress: JobProgress },
    /// An attack with `record_frames` as it goes: its inputs after `step` steps (rows x 784 in
    /// `f32`), at most every few hundred milliseconds, for the page to show the kneading live.
    Frame { id: u32, step: usize },
    /// A finished attack: the rows with their images left empty; per row its start and
    /// adversarial images travel in `f32`, then the recorded frames (`frame_steps.len()` blocks
    /// of rows x 784).
    Done { id: u32, rows: Vec<SampleOutcome>, frame_steps: Vec<usize> },
    Cancelled { id: u32 },
    /// A request failed (`id` is `None` when the worker could not even read which one).
    Failed { id: Option<u32>, message: String, kind: FailKind },
    /// The worker's code panicked; it is dead after this message.
    Panicked { message: String },
    /// Class probabilities in `f32` (10 per image, in the order asked).
    Probabilities { id: u32 },
    Calibrated { id: u32, ms_per_step: f64, steps: usize },
    BenchDone { id: u32, result: BenchResult },
    /// Training: batch `batch` of `batches` of epoch `epoch` (0-based) is done; `loss` when it
    /// was read back (every few batches).
    TrainProgress { id: u32, epoch: usize, epochs: usize, batch: usize, batches: usize, loss: Option<f32> },
    /// The network after `epoch` epochs (0: untrained): its accuracy on the test sample pack, the
    /// seconds the epoch took (0 at epoch 0), its safetensors (f32) in `u8`, and the study batch's
    /// outcomes on it (their images in `f32`, laid out as in `Done`).
    TrainSnapshot { id: u32, epoch: usize, test_accuracy: f64, seconds: f64, rows: Vec<SampleOutcome> },
    /// "Train on dough": `done` of `total` in `phase`.
    DoughProgress { id: u32, phase: DoughPhase, done: usize, total: usize },
    /// "Train on dough": the D_det kept `kept` of `attempted` images (the others did not reach
    /// their target), built in `seconds`; the median L2 of its quantised perturbations.
    DoughBuilt { id: u32, kept: usize, attempted: usize, seconds: f64, median_l2: f32 },
    /// The training run finished (its last snapshot holds the trained network) on a training pack
    /// of `images` images; on dough, `control` is the control network's test accuracy.
    TrainDone {
        id: u32,
        #[serde(default)]
        images: usize,
        #[serde(default)]
        control: Option<f64>,
    },
    /// The study's statistics: the first seed's study (the one the page shows; its patterns,
    /// one per class, travel in `f32` and are left empty here) and, with more than one seed, the
    /// scores over the seeds.
    Analysed {
        id: u32,
        result: StudyResult,
        replicated: Option<Replicated>,
        /// Over every seed's controlled inputs (`None`: it could not be computed).
        #[serde(default)]
        plant: Option<crate::study::plant_check::PlantCheck>,
    },
    /// The overview's statistics, or why they could not be computed.
    OverviewStats { id: u32, overview: Result<Overview, String> },
    /// Compare mode's statistics (`None`: the runs are not two whole galleries from one start);
    /// the patterns `a` and `b` travel in `f32` (A's ten, then B's) and are left empty here.
    Compared { id: u32, pair: Option<crate::compare::PatternPair> },
}

impl Request {
    /// The request's id (every request has one).
    pub fn id(&self) -> u32 {
        match self {
            Request::Init { id, .. }
            | Request::Model { id, .. }
            | Request::Attack { id, .. }
            | Request::Cancel { id }
            | Request::Predict { id }
            | Request::PredictWith { id, .. }
            | Request::Calibrate { id }
            | Request::Bench { id, .. }
            | Request::Train { id, .. }
            | Request::Pause { id, .. }
            | Request::Analyse { id, .. }
            | Request::ComparePatterns { id, .. }
            | Request::Overview { id, .. } => *id,
        }
    }
}

impl Reply {
    /// The request this reply answers (`None`: `Ready`, `Panicked`, an unreadable request).
    pub fn id(&self) -> Option<u32> {
        match self {
            Reply::Ready | Reply::Panicked { .. } => None,
            Reply::Failed { id, .. } => *id,
            Reply::Backend { id, .. }
            | Reply::ModelLoaded { id, .. }
            | Reply::Progress { id, .. }
            | Reply::Frame { id, .. }
            | Reply::Done { id, .. }
            | Reply::Cancelled { id }
            | Reply::Probabilities { id }
            | Reply::Calibrated { id, .. }
            | Reply::BenchDone { id, .. }
            | Reply::TrainProgress { id, .. }
            | Reply::TrainSnapshot { id, .. }
            | Reply::TrainDone { id, .. }
            | Reply::DoughProgress { id, .. }
            | Reply::DoughBuilt { id, .. }
            | Reply::Analysed { id, .. }
            | Reply::Compared { id, .. }
            | Reply::OverviewStats { id, .. } => Some(*id),
        }
    }

    /// Progress and training events: the request goes on after them.
    pub fn is_event(&self) -> bool {
        matches!(self, Reply::Progress { .. } | Reply::Frame { .. } | Reply::TrainProgress { .. } | Reply::TrainSnapshot { .. } | Reply::DoughProgress { .. } | Reply::DoughBuilt { .. })
    }
}

/// A message and its buffers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Packet<M> {
    pub msg: M,
    pub f32: Vec<f32>,
    pub u8: Vec<u8>,
}

impl<M> Packet<M> {
    pub fn new(msg: M) -> Self {
        Self { msg, f32: Vec::new(), u8: Vec::new() }
    }

    pub fn with_f32(msg: M, f32: Vec<f32>) -> Self {
        Self { msg, f32, u8: Vec::new() }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WireError {
    #[error("the worker sent {got} image values where {want} were expected")]
    Length { got: usize, want: usize },
    #[error("the message could not be read: {0}")]
    Decode(String),
}

/// Start images, one after the other.
pub fn pack_images(images: &[Vec<f32>]) -> Vec<f32> {
    images.iter().flatten().copied().collect()
}

/// `n` images of 784 values from a flat buffer.
pub fn unpack_images(flat: &[f32], n: usize) -> Result<Vec<Vec<f32>>, WireError> {
    if flat.len() != n * PIXELS {
        return Err(WireError::Length { got: flat.len(), want: n * PIXELS });
    }
    Ok(flat.chunks(PIXELS).map(|c| c.to_vec()).collect())
}

/// A finished attack as a `Done` reply, its images moved into the buffer.
pub fn pack_done(id: u32, mut rows: Vec<SampleOutcome>, frames: &[(usize, Vec<f32>)]) -> Packet<Reply> {
    let mut f = take_images(&mut rows, frames.iter().map(|(_, x)| x.len()).sum::<usize>());
    for (_, x) in frames {
        f.extend_from_slice(x);
    }
    Packet::with_f32(Reply::Done { id, rows, frame_steps: frames.iter().map(|(s, _)| *s).collect() }, f)
}

/// The rows' start and adversarial images, row after row, moved out of them (room for `extra`).
fn take_images(rows: &mut [SampleOutcome], extra: usize) -> Vec<f32> {
    let mut f = Vec::with_capacity(rows.len() * 2 * PIXELS + extra);
    for o in rows {
        f.append(&mut o.start);
        f.append(&mut o.adversarial);
    }
    f
}

/// A training snapshot as a `TrainSnapshot` reply: the rows' images in `f32` (as in `Done`),
/// the weights in `u8`.
pub fn pack_snapshot(id: u32, epoch: usize, test_accuracy: f64, seconds: f64, mut rows: Vec<SampleOutcome>, safetensors: Vec<u8>) -> Packet<Reply> {
    let f32 = take_images(&mut rows, 0);
    Packet { msg: Reply::TrainSnapshot { id, epoch, test_accuracy, seconds, rows }, f32, u8: safetensors }
}

/// The study's runs for [`Request::Analyse`]: the rows' metadata, and their start and
/// adversarial images in one buffer (per seed the model's rows, then the untrained twin's).
pub fn pack_runs(runs: Vec<(u64, Vec<SampleOutcome>, Vec<SampleOutcome>)>) -> (Vec<StudyRunRows>, Vec<f32>) {
    let mut f = Vec::new();
    let mut meta = Vec::with_capacity(runs.len());
    for (seed, mut trained, mut untrained) in runs {
        f.append(&mut take_images(&mut trained, 0));
        f.append(&mut take_images(&mut untrained, 0));
        meta.push(StudyRunRows { seed, trained, untrained });
    }
    (meta, f)
}

/// Sets of rows as metadata and one buffer of their start and adversarial images (set after set,
/// row after row).
pub fn pack_rows(mut sets: Vec<Vec<SampleOutcome>>) -> (Vec<Vec<SampleOutcome>>, Vec<f32>) {
    let mut f = Vec::new();
    for rows in &mut sets {
        f.append(&mut take_images(rows, 0));
    }
    (sets, f)
}

/// The sets of [`pack_rows`] with their images back.
pub fn unpack_rows(mut sets: Vec<Vec<SampleOutcome>>, flat: &[f32]) -> Result<Vec<Vec<SampleOutcome>>, WireError> {
    let want: usize = sets.iter().map(|r| r.len() * 2 * PIXELS).sum();
    if flat.len() != want {
        return Err(WireError::Length { got: flat.len(), want });
    }
    for (o, img) in sets.iter_mut().flatten().zip(flat.chunks(2 * PIXELS)) {
        o.start = img[..PIXELS].to_vec();
        o.adversarial = img[PIXELS..].to_vec();
    }
    Ok(sets)
}

/// The runs of [`pack_runs`] with their images back.
pub fn unpack_runs(runs: Vec<StudyRunRows>, flat: &[f32]) -> Result<Vec<StudyRunRows>, WireError> {
    let want: usize = runs.iter().map(|r| (r.trained.len() + r.untrained.len()) * 2 * PIXELS).sum();
    if flat.len() != want {
        return Err(WireError::Length { got: flat.len(), want });
    }
    let mut at = 0;
    let mut out = Vec::with_capacity(runs.len());
    for mut r in runs {
        for o in r.trained.iter_mut().chain(r.untrained.iter_mut()) {
            o.start = flat[at..at + PIXELS].to_vec();
            o.adversarial = flat[at + PIXELS..at + 2 * PIXELS].to_vec();
            at += 2 * PIXELS;
        }
        out.push(r);
    }
    Ok(out)
}

/// The rows (with their images back) and frames of a `Done` reply (of a `TrainSnapshot` too,
/// with no frames).
pub fn unpack_done(mut rows: Vec<SampleOutcome>, frame_steps: &[usize], flat: &[f32]) -> Result<(Vec<SampleOutcome>, Vec<(usize, Vec<f32>)>), WireError> {
    let n = rows.len();
    let want = n * PIXELS * (2 + frame_steps.len());
    if flat.len() != want {
        return Err(WireError::Length { got: flat.len(), want });
    }
    for (i, o) in rows.iter_mut().enumerate() {
        let at = i * 2 * PIXELS;
        o.start = flat[at..at + PIXELS].to_vec();
        o.adversarial = flat[at + PIXELS..at + 2 * PIXELS].to_vec();
    }
    let base = n * 2 * PIXELS;
    let frames = frame_steps.iter().enumerate().map(|(k, &s)| (s, flat[base + k * n * PIXELS..base + (k + 1) * n * PIXELS].to_vec())).collect();
    Ok((rows, frames))
}

/// The JavaScript side: a packet as `{msg, f32, u8}` with transferable typed arrays.
#[cfg(feature = "web")]
pub mod web {
    use js_sys::{Array, Float32Array, Object, Reflect, Uint8Array};
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use wasm_bindgen::{JsCast, JsValue};

    use super::{AdapterReport, Packet, WireError};

    fn get(v: &JsValue, key: &str) -> Option<JsValue> {
        Reflect::get(v, &JsValue::from_str(key)).ok().filter(|x| !x.is_undefined() && !x.is_null())
    }

    /// `navigator.gpu.requestAdapter()`'s report, when there is an adapter (the page's
    /// `navigator` or a worker's).
    pub async fn adapter_report(navigator: &JsValue) -> Option<AdapterReport> {
        let gpu = get(navigator, "gpu")?;
        let request: js_sys::Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
        let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
        let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
        if adapter.is_null() || adapter.is_undefined() {
            return None;
        }
        let info = get(&adapter, "info").unwrap_or(JsValue::UNDEFINED);
        let field = |name: &str| get(&info, name).and_then(|v| v.as_string()).unwrap_or_default();
        let fallback = get(&adapter, "isFallbackAdapter").or_else(|| get(&info, "isFallbackAdapter")).and_then(|v| v.as_bool()).unwrap_or(false);
        Some(AdapterReport::from_info(&field("description"), &field("vendor"), &field("architecture"), &field("device"), fallback))
    }

    /// The packet as a JS object, and the list of buffers to transfer with it.
    pub fn to_js<M: Serialize>(p: &Packet<M>) -> Result<(JsValue, Array), WireError> {
        let ser = serde_wasm_bindgen::Serializer::json_compatible();
        let msg = p.msg.serialize(&ser).map_err(|e| WireError::Decode(e.to_string()))?;
        let obj = Object::new();
        let transfer = Array::new();
        let _ = Reflect::set(&obj, &"msg".into(), &msg);
        if !p.f32.is_empty() {
            let a = Float32Array::new_with_length(p.f32.len() as u32);
            a.copy_from(&p.f32);
            transfer.push(&a.buffer());
            let _ = Reflect::set(&obj, &"f32".into(), &a);
        }
        if !p.u8.is_empty() {
            let a = Uint8Array::new_with_length(p.u8.len() as u32);
            a.copy_from(&p.u8);
            transfer.push(&a.buffer());
            let _ = Reflect::set(&obj, &"u8".into(), &a);
        }
        Ok((obj.into(), transfer))
    }

    /// Reads a packet sent by [`to_js`].
    pub fn from_js<M: DeserializeOwned>(v: &JsValue) -> Result<Packet<M>, WireError> {
        let msg = Reflect::get(v, &"msg".into()).map_err(|_| WireError::Decode("no msg field".into()))?;
        let msg: M = serde_wasm_bindgen::from_value(msg).map_err(|e| WireError::Decode(e.to_string()))?;
        let f32 = Reflect::get(v, &"f32".into()).ok().and_then(|a| a.dyn_into::<Float32Array>().ok()).map(|a| a.to_vec()).unwrap_or_default();
        let u8 = Reflect::get(v, &"u8".into()).ok().and_then(|a| a.dyn_into::<Uint8Array>().ok()).map(|a| a.to_vec()).unwrap_or_default();
        Ok(Packet { msg, f32, u8 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(target: usize, base: f32) -> SampleOutcome {
        SampleOutcome {
            target,
            start: (0..PIXELS).map(|i| base + i as f32 * 1e-4).collect(),
            adversarial: (0..PIXELS).map(|i| base * 0.5 + i as f32 * 2e-4).collect(),
            predicted: (target + 1) % 10,
            confidence: 0.25 + target as f32 * 0.01,
            steps: 7 + target,
            l2: 1.5,
            linf: 0.25,
            reached: target % 2 == 0,
            l0: 7,
            away: false,
        }
    }

    #[test]
    fn done_round_trips_rows_and_frames() {
        let rows: Vec<SampleOutcome> = (0..3).map(|t| outcome(t, 0.1 * t as f32)).collect();
        let frames: Vec<(usize, Vec<f32>)> = vec![(0, vec![0.5; 3 * PIXELS]), (4, (0..3 * PIXELS).map(|i| i as f32).collect())];
        let p = pack_done(9, rows.clone(), &frames);
        let Reply::Done { id, rows: meta, frame_steps } = p.msg.clone() else { panic!("not a Done") };
        assert_eq!((id, frame_steps.clone()), (9, vec![0, 4]));
        let (back, back_frames) = unpack_done(meta, &frame_steps, &p.f32).unwrap();
        assert_eq!(back, rows);
        assert_eq!(back_frames, frames);
    }

    #[test]
    fn snapshot_round_trips_rows_and_weights() {
        let rows: Vec<SampleOutcome> = (0..2).map(|t| outcome(t, 0.2)).collect();
        let p = pack_snapshot(4, 1, 0.9, 2.5, rows.clone(), vec![1, 2, 3]);
        let Reply::TrainSnapshot { id, epoch, rows: meta, .. } = p.msg.clone() else { panic!("not a TrainSnapshot") };
        assert_eq!((id, epoch, p.u8.clone()), (4, 1, vec![1, 2, 3]));
        assert_eq!(unpack_done(meta, &[], &p.f32).unwrap().0, rows);
    }

    #[test]
    fn a_short_buffer_is_an_error_not_a_panic() {
        let rows = vec![outcome(1, 0.0)];
        let p = pack_done(1, rows, &[]);
        let Reply::Done { rows: meta, .. } = p.msg else { panic!() };
        let err = unpack_done(meta, &[], &p.f32[..100]).unwrap_err();
        assert_eq!(err, WireError::Length { got: 100, want: 2 * PIXELS });
        assert!(unpack_images(&[0.0; 10], 1).is_err());
        assert_eq!(unpack_images(&pack_images(&[vec![1.0; PIXELS], vec![2.0; PIXELS]]), 2).unwrap()[1][0], 2.0);
    }

    #[test]
    fn sets_of_rows_round_trip_and_a_short_buffer_is_an_error() {
        let sets = vec![(0..3).map(|t| outcome(t, 0.1)).collect::<Vec<_>>(), vec![], (0..2).map(|t| outcome(t, 0.7)).collect()];
        let (meta, flat) = pack_rows(sets.clone());
        assert_eq!(flat.len(), 5 * 2 * PIXELS);
        assert!(meta.iter().flatten().all(|o| o.start.is_empty() && o.adversarial.is_empty()));
        assert_eq!(unpack_rows(meta.clone(), &flat).unwrap(), sets);
        assert_eq!(unpack_rows(meta, &flat[1..]).unwrap_err(), WireError::Length { got: 5 * 2 * PIXELS - 1, want: 5 * 2 * PIXELS });
    }

    /// A request from a page that knows nothing of plants still reads, as nothing planted.
    #[test]
    fn an_analyse_request_without_a_plant_reads() {
        let r = Request::Analyse { id: 2, key: 0, runs: vec![], abstraction: Abstraction::default(), template: TemplateKind::Contrast, plant: None };
        let mut v = serde_json::to_value(&r).unwrap();
        v.as_object_mut().unwrap().remove("plant");
        let back: Request = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        let plant = Some(crate::plant::Plant { kind: crate::plant::PlantKind::Backdoor, ..Default::default() });
        let planted = Request::Analyse { id: 2, key: 0, runs: vec![], abstraction: Abstraction::default(), template: TemplateKind::Contrast, plant };
        assert_eq!(serde_json::from_str::<Request>(&serde_json::to_string(&planted).unwrap()).unwrap(), planted);
    }

    #[test]
    fn messages_have_stable_tags() {
        let r = Request::Cancel { id: 3 };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"type":"cancel","id":3}"#);
        let back: Reply = serde_json::from_str(r#"{"type":"panicked","message":"boom"}"#).unwrap();
        assert_eq!(back, Reply::Panicked { message: "boom".into() });
    }

    #[test]
    fn software_adapters_are_recognised() {
        assert!(AdapterReport::from_info("", "google", "swiftshader", "", false).software);
        assert!(AdapterReport::from_info("llvmpipe (LLVM 15.0.6, 256 bits)", "", "", "", false).software);
        assert!(AdapterReport::from_info("", "", "", "", true).software);
        let nv = AdapterReport::from_info("NVIDIA GeForce RTX 4090", "nvidia", "lovelace", "", false);
        assert!(!nv.software);
        assert_eq!(nv.name, "NVIDIA GeForce RTX 4090");
        assert_eq!(AdapterReport::from_info("", "google", "swiftshader", "", false).name, "google swiftshader");
    }
}
