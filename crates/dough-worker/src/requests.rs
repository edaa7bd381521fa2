//! The worker's request loop: requests are queued and run one at a time; a Cancel marks a run,
//! which stops at its next step (or is dropped from the queue). Attacks report progress as
//! they go and send their rows (and frames, for the step playback) as one transferable buffer.
//! Models arrive once (`Model`) and stay built on the device in a cache keyed by their SHA-256;
//! the study's, the overview's and compare mode's statistics are computed here too, so the
//! page's thread only renders. Every reply names its request; a failure says its kind
//! (`dough_compute::failure`).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};

use js_sys::{Function, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::MessageEvent;

use dough_compute::attack::Evolution;
use dough_compute::dough_set::{self, DoughBuildError};
use dough_compute::network::Network;
use dough_compute::suite::{Goal, Attack};
use dough_compute::train::{TrainError, Trainer};
use dough_compute::{bench, eval, failure};
use dough_core::attack::{AttackConfig, ComputeError, SampleOutcome, StepNorm, every_target};
use dough_core::compare::pattern_pair;
use dough_core::dough_data::{DoughSet, TargetRule, assemble, subset, targets};
use dough_core::drive::study::{StudyRun, StudyStats, statistics};
use dough_core::idx::Dataset;
use dough_core::manifest::{ArchKind, ModelConfig};
use dough_core::model::{ArchSpec, PIXELS};
use dough_core::pack::SamplePack;
use dough_core::plant::Plant;
use dough_core::protocol::web::from_js;
use dough_core::protocol::{BackendKind, DoughPhase, DoughRequest, FailKind, Fault, JobProgress, Packet, Reply, Request, StudyRunRows, pack_done, pack_snapshot, unpack_images, unpack_rows, unpack_runs};
use dough_core::study::abstraction::Abstraction;
use dough_core::study::overview::Overview;
use dough_core::study::pipeline;
use dough_core::study::plant_check;
use dough_core::study::replicates::PERMUTATIONS;
use dough_core::study::templates::{TemplateKind, Templates};
use dough_core::weights::Weights;

use crate::device::{self, Engine};
use crate::port::{self, now_ms, post, reply, yield_now};

/// At most this many frames are kept per run (every k-th step beyond that).
const MAX_FRAMES: usize = 200;
/// The longest the worker computes before it looks at its messages again.
const YIELD_EVERY_MS: f64 = 10.0;
/// Progress messages are sent at most this often (and always at the end).
const PROGRESS_EVERY_MS: f64 = 16.0;
/// A run that records its frames also sends its latest inputs this often, for the live view.
const LIVE_EVERY_MS: f64 = 150.0;
/// How often a paused run looks at its messages again.
const PAUSE_POLL_MS: i32 = 30;
/// The step at which a test-only fault strikes.
const FAULT_AT_STEP: usize = 3;

#[derive(Default)]
struct State {
    engine: Option<Engine>,
    fault: Option<Fault>,
    /// Every model the page sent, built on the device, by SHA-256 (a model's bytes cross to a
    /// worker once; the network is built once).
    models: HashMap<String, Network>,
    /// The SHA-256 of the model used by requests that name none.
    current: Option<String>,
    queue: VecDeque<Packet<Request>>,
    cancelled: HashSet<u32>,
    paused: HashSet<u32>,
    /// The study's runs and templates of the last `Analyse` that sent them, by its key.
    analysed: Option<(u64, Vec<StudyRun>, Templates)>,
    /// The overview's perturbations of the last `Overview` that sent them, by its key.
    overviewed: Option<(u64, Vec<f32>)>,
    wake: Option<Function>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// Installs the message handler and starts the loop that runs requests in order.
pub fn listen() {
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|ev: MessageEvent| {
        let packet = match from_js::<Request>(&ev.data()) {
            Ok(p) => p,
            Err(e) => return reply(Reply::Failed { id: None, message: e.to_string(), kind: FailKind::BadRequest }),
        };
        if let Request::Cancel { id } = packet.msg {
            let queued = with(|s| {
                let before = s.queue.len();
                s.queue.retain(|p| p.msg.id() != id);
                s.cancelled.insert(id);
                before != s.queue.len()
            });
            if queued {
                reply(Reply::Cancelled { id });
            }
            return;
        }
        if let Request::Pause { id, paused } = packet.msg {
            return with(|s| {
                if paused {
                    s.paused.insert(id);
                } else {
                    s.paused.remove(&id);
                }
            });
        }
        if let Some(wake) = with(|s| {
            s.queue.push_back(packet);
            s.wake.take()
        }) {
            let _ = wake.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    port::scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    spawn_local(async {
        loop {
            let next = next_request().await;
            handle(next).await;
        }
    });
}

async fn next_request() -> Packet<Request> {
    loop {
        if let Some(p) = with(|s| s.queue.pop_front()) {
            return p;
        }
        let promise = Promise::new(&mut |resolve, _| with(|s| s.wake = Some(resolve)));
        let _ = JsFuture::from(promise).await;
    }
}

fn is_cancelled(id: u32) -> bool {
    with(|s| s.cancelled.contains(&id))
}

fn failed(id: u32, e: ComputeError) {
    // On WebGPU a backend error means the device failed (lost or poisoned): the page moves the
    // run to a fresh worker on the CPU.
    let on_gpu = with(|s| s.engine.as_ref().is_some_and(|c| c.kind == BackendKind::Webgpu));
    reply(Reply::Failed { id: Some(id), message: e.to_string(), kind: failure::of_attack(&e, on_gpu) });
}

fn bad_request(id: u32, message: String) {
    reply(Reply::Failed { id: Some(id), message, kind: FailKind::BadRequest });
}

/// Request `id` named inputs by a key this worker does not hold: the page sends them again.
fn not_held(id: u32, what: &str, key: u64) {
    reply(Reply::Failed { id: Some(id), message: format!("{what} {key} are not in this worker"), kind: FailKind::NotHeld });
}

async fn handle(p: Packet<Request>) {
    match p.msg {
        Request::Init { id, backend: want, fault } => {
            let (engine, answer) = device::start(id, want).await;
            with(|s| {
                s.engine = engine;
                s.fault = fault;
            });
            reply(answer);
        }
        Request::Model { id, entry, current } => {
            if p.u8.is_empty() && with(|s| s.models.contains_key(&entry.sha256)) {
                with(|s| s.current = Some(entry.sha256.clone()));
                return reply(Reply::ModelLoaded { id, sha256: entry.sha256 });
            }
            let device = current_device().map_err(|e| e.to_string());
            let loaded = entry
                .verify(&p.u8)
                .map_err(|e| format!("model {} was not received intact ({e}); it is sent again", entry.name))
                .and_then(|()| entry.arch_spec().map_err(|e| e.to_string()))
                .and_then(|spec| Weights::from_safetensors(&p.u8).map(|w| (spec, w)).map_err(|e| format!("model {}: {e}", entry.name)))
                .and_then(|(spec, w)| Network::new(&spec, &w, &device?).map_err(|e| format!("model {}: {e}", entry.name)));
            match loaded {
                Ok(m) => {
                    with(|s| {
                        s.models.insert(entry.sha256.clone(), m);
                        if current {
                            s.current = Some(entry.sha256.clone());
                        }
                    });
                    reply(Reply::ModelLoaded { id, sha256: entry.sha256 });
                }
                Err(e) => bad_request(id, e),
            }
        }
        Request::Attack { id, targets, cfg, untrained_seed, record_frames, model } => {
            if is_cancelled(id) {
                return reply(Reply::Cancelled { id });
            }
            match attack(id, &p.f32, &targets, cfg, untrained_seed, record_frames, model.as_deref()).await {
                Ok(Some(packet)) => post(packet),
                Ok(None) => reply(Reply::Cancelled { id }),
                Err(e) => failed(id, e),
            }
        }
        Request::Predict { id } => match predict(&p.f32).await {
            Ok(probs) => post(Packet::with_f32(Reply::Probabilities { id }, probs)),
            Err(e) => failed(id, e),
        },
        Request::PredictWith { id, model, count } => match predict_with(&model, count, &p.f32).await {
            Ok(probs) => post(Packet::with_f32(Reply::Probabilities { id }, probs)),
            Err(e) => failed(id, e),
        },
        Request::Calibrate { id } => match calibrate().await {
            Ok((ms_per_step, steps)) => reply(Reply::Calibrated { id, ms_per_step, steps }),
            Err(e) => failed(id, e),
        },
        Request::Analyse { id, key, runs, abstraction, template, plant } => match analyse(key, runs, &p.f32, &p.u8, &abstraction, template, plant) {
            // The patterns (10 x 784 values) travel as a transferable buffer, not as JSON.
            Ok(Some(StudyStats { mut result, replicated, plant })) => {
                let patterns: Vec<f32> = std::mem::take(&mut result.patterns).into_iter().flatten().collect();
                post(Packet::with_f32(Reply::Analysed { id, result, replicated, plant }, patterns));
            }
            Ok(None) => not_held(id, "the study's runs", key),
            Err(e) => bad_request(id, e),
        },
        Request::ComparePatterns { id, rows, abstraction, seed } => match unpack_rows(rows, &p.f32) {
            Ok(sets) if sets.len() == 2 || sets.len() == 3 => {
                let mut pair = pattern_pair(&sets[0], &sets[1], sets.get(2).map(|u| &u[..]), &abstraction, seed);
                // The patterns (2 x 10 x 784 values) travel as a transferable buffer.
                let patterns: Vec<f32> = pair.as_mut().map(|p| std::mem::take(&mut p.a).into_iter().chain(std::mem::take(&mut p.b)).flatten().collect()).unwrap_or_default();
                post(Packet::with_f32(Reply::Compared { id, pair }, patterns));
            }
            Ok(sets) => bad_request(id, format!("compare mode's statistics take two or three sets of rows, not {}", sets.len())),
            Err(e) => bad_request(id, e.to_string()),
        },
        Request::Overview { id, key, models, families, seeds, rows, transfer, abstraction, seed } => {
            if !p.f32.is_empty() {
                with(|s| s.overviewed = Some((key, p.f32)));
            }
            let overview = with(|s| match &s.overviewed {
                Some((k, perturbations)) if *k == key => Some(Overview::from_perturbations(models, families, seeds, perturbations, rows, &transfer, &abstraction, PERMUTATIONS, seed)),
                _ => None,
            });
            match overview {
                Some(overview) => reply(Reply::OverviewStats { id, overview }),
                None => not_held(id, "the overview's runs", key),
            }
        }
        Request::Bench { id, name } => {
            let Some(device) = with(|s| s.engine.as_ref().map(|c| c.device.clone())) else {
                return failed(id, ComputeError::BadConfig("the worker has no backend yet".into()));
            };
            // Yield only when a step took long, to keep the timing honest.
            let last = std::rc::Rc::new(std::cell::Cell::new(now_ms()));
            let pause = move || {
                let last = last.clone();
                async move {
                    if now_ms() - last.get() >= 50.0 {
                        yield_now().await;
                        last.set(now_ms());
                    }
                }
            };
            match bench::run(&name, &device, &now_ms, pause).await {
                Ok(result) => reply(Reply::BenchDone { id, result }),
                Err(e) => failed(id, e),
            }
        }
        Request::Train { id, arch, config, train_bytes, study_seed, attack, dough } => {
            if is_cancelled(id) {
                return reply(Reply::Cancelled { id });
            }
            match train(id, arch, &config, &p.u8, train_bytes, study_seed, &attack, dough.as_ref(), &p.f32).await {
                Ok(Some((images, control))) => reply(Reply::TrainDone { id, images, control }),
                Ok(None) => reply(Reply::Cancelled { id }),
                Err(e) => reply(Reply::Failed { id: Some(id), message: e.to_string(), kind: failure::of_training(&e) }),
            }
        }
        Request::Cancel { .. } | Request::Pause { .. } => {}
    }
}

/// The built network `sha256` (the current model when `None`) from the cache.
fn model(sha256: Option<&str>) -> Result<Network, ComputeError> {
    with(|s| {
        let key = sha256.map(str::to_string).or_else(|| s.current.clone()).ok_or_else(|| ComputeError::BadConfig("no model is loaded in the worker".into()))?;
        s.models.get(&key).cloned().ok_or_else(|| ComputeError::BadConfig(format!("the model {} is not in the worker's cache", &key[..key.len().min(12)])))
    })
}

fn current() -> Result<Network, ComputeError> {
    model(None)
}

/// The study's statistics of the page's runs (`Request::Analyse`), and the planted-feature check
/// over every seed's controlled inputs with `plant`'s patch (the default patch when none): the
/// study driver's [`statistics`], as the CLI computes them.
/// The runs and templates travel once per `key` and stay in the worker.
/// `None` when the worker does not hold the runs of `key` and none came with the request.
fn analyse(key: u64, runs: Vec<StudyRunRows>, flat: &[f32], templates: &[u8], abs: &Abstraction, kind: TemplateKind, plant: Option<Plant>) -> Result<Option<StudyStats>, String> {
    if !runs.is_empty() {
        let runs: Vec<StudyRun> = unpack_runs(runs, flat).map_err(|e| e.to_string())?.into_iter().map(|r| StudyRun { seed: r.seed, trained: r.trained, untrained: r.untrained }).collect();
        let templates = Templates::decode(templates).map_err(|e| format!("the templates: {e}"))?;
        with(|s| s.analysed = Some((key, runs, templates)));
    }
    with(|s| match &s.analysed {
        Some((k, runs, templates)) if *k == key => statistics(runs, abs, templates.get(kind), plant).map(Some).ok_or_else(|| "the study has no runs".to_string()),
        _ => Ok(None),
    })
}

/// Strikes the test-only fault once, on the first run that reaches its step.
fn maybe_fault(step: usize) {
    if step != FAULT_AT_STEP {
        return;
    }
    match with(|s| s.fault.take()) {
        Some(Fault::Panic) => panic!("test-only fault: the worker panics mid-run (debug=panic)"),
        Some(Fault::LoseDevice) => with(|s| {
            if let Some(c) = &s.engine {
                c.lose_device();
            }
        }),
        None => {}
    }
}

/// Runs one attack to its end; `None` when cancelled.
async fn attack(
    id: u32,
    flat: &[f32],
    targets: &[usize],
    cfg: AttackConfig,
    untrained_seed: Option<u64>,
    record_frames: bool,
    sha256: Option<&str>,
) -> Result<Option<Packet<Reply>>, ComputeError> {
    let trained = model(sha256)?;
    let starts = unpack_images(flat, targets.len()).map_err(|e| ComputeError::BadConfig(e.to_string()))?;
    let net = match untrained_seed {
        Some(seed) => trained.untrained(seed)?,
        None => trained,
    };
    let goals: Vec<Goal> = targets.iter().map(|&t| Goal::Toward(t)).collect();
    let mut job = Attack::on(&net, &starts, &goals, &cfg)?;
    let stride = job.max_steps().div_ceil(MAX_FRAMES).max(1);
    let mut frames: Vec<(usize, Vec<f32>)> = Vec::new();
    if record_frames {
        frames.push((0, flat.to_vec()));
    }
    let (mut last_yield, mut last_progress, mut last_live) = (now_ms(), f64::NEG_INFINITY, now_ms());
    loop {
        if is_cancelled(id) {
            return Ok(None);
        }
        let finished = job.step().await?;
        maybe_fault(job.steps_done());
        let step = job.steps_done();
        if record_frames && !finished && step % stride == 0 {
            frames.push((step, job.current_inputs().await?));
        }
        if record_frames && !finished && now_ms() - last_live >= LIVE_EVERY_MS {
            last_live = now_ms();
            let inputs = match frames.last() {
                Some((s, f)) if *s == step => f.clone(),
                _ => job.current_inputs().await?,
            };
            post(Packet::with_f32(Reply::Frame { id, step }, inputs));
        }
        if finished || now_ms() - last_progress >= PROGRESS_EVERY_MS {
            last_progress = now_ms();
            let progress = JobProgress {
                step: job.steps_done(),
                max_steps: job.max_steps(),
                finished_samples: if finished { job.batch() } else { job.batch() - job.active_count() },
                samples: job.batch(),
            };
            reply(Reply::Progress { id, progress });
        }
        if finished {
            break;
        }
        if now_ms() - last_yield >= YIELD_EVERY_MS {
            yield_now().await;
            last_yield = now_ms();
        }
    }
    let rows = job.outcome().await?;
    if record_frames && frames.last().map(|(s, _)| *s) != Some(job.steps_done()) {
        frames.push((job.steps_done(), rows.iter().flat_map(|o| o.adversarial.iter().copied()).collect()));
    }
    Ok(Some(pack_done(id, rows, &frames)))
}

async fn predict(image: &[f32]) -> Result<Vec<f32>, ComputeError> {
    if image.len() != PIXELS {
        return Err(ComputeError::BadInput { index: 0, len: image.len() });
    }
    eval::probabilities_on(&current()?, image).await
}

fn current_device() -> Result<dough_compute::Device, ComputeError> {
    with(|s| s.engine.as_ref().map(|c| c.device.clone())).ok_or_else(|| ComputeError::BadConfig("the worker has no backend yet".into()))
}

/// `count` images through a cached model other than the current one (compare mode, overview).
async fn predict_with(sha256: &str, count: usize, images: &[f32]) -> Result<Vec<f32>, ComputeError> {
    if images.len() != count * PIXELS {
        return Err(ComputeError::BadConfig(format!("{} image values for {count} images", images.len())));
    }
    eval::probabilities_on(&model(Some(sha256))?, images).await
}

/// Warm-up steps before the calibration's clock starts (shader compilation, first uploads).
const CALIBRATION_WARMUP: usize = 2;
/// Timed steps of the calibration.
const CALIBRATION_STEPS: usize = 8;

/// Times the real workload: the current model, a gallery batch (mid-gray toward every class),
/// L2 steps without early stopping, with a read at the end as a gallery has.
async fn calibrate() -> Result<(f64, usize), ComputeError> {
    let net = current()?;
    let (starts, targets) = every_target(&[0.5; PIXELS]);
    let cfg = AttackConfig { norm: StepNorm::L2, step_size: 0.01, max_steps: CALIBRATION_WARMUP + CALIBRATION_STEPS + 1, kappa: 1.0, early_stop: false, ..AttackConfig::default() };
    let mut job = Evolution::on(&net, &starts, &targets, cfg)?;
    for _ in 0..CALIBRATION_WARMUP {
        job.step().await?;
    }
    job.current_inputs().await?;
    let t0 = now_ms();
    for _ in 0..CALIBRATION_STEPS {
        job.step().await?;
    }
    job.current_inputs().await?;
    Ok(((now_ms() - t0) / CALIBRATION_STEPS as f64, CALIBRATION_STEPS))
}

/// Waits while run `id` is paused (asleep, not spinning: the page's other worker keeps the CPU);
/// false when it is cancelled.
async fn go_on(id: u32) -> bool {
    while with(|s| s.paused.contains(&id)) && !is_cancelled(id) {
        port::sleep_ms(PAUSE_POLL_MS).await;
    }
    !is_cancelled(id)
}

/// Runs an attack batch to its end, yielding now and then; `None` when cancelled.
async fn attack_batch(id: u32, spec: &ArchSpec, weights: &Weights, device: &dough_compute::Device, starts: &[Vec<f32>], targets: &[usize], cfg: &AttackConfig) -> Result<Option<Vec<SampleOutcome>>, ComputeError> {
    let goals: Vec<Goal> = targets.iter().map(|&t| Goal::Toward(t)).collect();
    let mut job = Attack::new(spec, weights, device, starts, &goals, cfg)?;
    let mut last_yield = now_ms();
    while !job.step().await? {
        if now_ms() - last_yield >= YIELD_EVERY_MS {
            yield_now().await;
            last_yield = now_ms();
            if !go_on(id).await {
                return Ok(None);
            }
        }
    }
    Ok(Some(job.outcome().await?))
}

/// "Train on dough": the D_det of the cached model `d.source` from `d.count` images of `data`
/// (seeded subset), with progress while it is built and `DoughBuilt` at the end; `None` when
/// cancelled.
async fn build_dough(id: u32, d: &DoughRequest, data: &Dataset, adversarial: &[f32]) -> Result<Option<DoughSet>, TrainError> {
    let sub = subset(data, d.count, d.seed);
    if let Some(b) = &d.built {
        // The page's pool attacked the subset: assemble it as `dough_set::build` would.
        let adv = unpack_images(adversarial, sub.len()).map_err(|e| TrainError::Request(format!("the pool's dough images: {e}")))?;
        let set = assemble(TargetRule::Det, &sub, &adv, &targets(&sub.labels, TargetRule::Det, d.seed), &b.reached).map_err(TrainError::Dough)?;
        reply(Reply::DoughBuilt { id, kept: set.kept.len(), attempted: set.attempted, seconds: b.seconds, median_l2: plant_check::median(&set.perturbation_l2()) });
        return Ok(Some(set));
    }
    let source = with(|s| s.models.get(&d.source).cloned())
        .ok_or_else(|| TrainError::Request(format!("the source network {} is not in the training worker's cache", &d.source[..d.source.len().min(12)])))?;
    let t0 = now_ms();
    let (mut last_yield, mut last_progress) = (t0, f64::NEG_INFINITY);
    let built = dough_set::build(&source, &sub, TargetRule::Det, d.seed, &d.attack, dough_set::BATCH, |done, total, _| {
        let now = now_ms();
        let report = now - last_progress >= PROGRESS_EVERY_MS;
        let pause = now - last_yield >= YIELD_EVERY_MS;
        if report {
            last_progress = now;
            reply(Reply::DoughProgress { id, phase: DoughPhase::Build, done, total });
        }
        if pause {
            last_yield = now;
        }
        async move {
            if pause {
                yield_now().await;
            }
            go_on(id).await
        }
    })
    .await;
    let set = match built {
        Ok(Some(set)) => set,
        Ok(None) => return Ok(None),
        Err(DoughBuildError::Attack(e)) => return Err(TrainError::Attack(e)),
        Err(DoughBuildError::Set(e)) => return Err(TrainError::Dough(e)),
    };
    let l2 = set.perturbation_l2();
    reply(Reply::DoughBuilt { id, kept: set.kept.len(), attempted: set.attempted, seconds: (now_ms() - t0) / 1000.0, median_l2: plant_check::median(&l2) });
    Ok(Some(set))
}

/// The control of "train on dough": a network of the same recipe trained on the same clean
/// images with the same target labels; its test accuracy, `None` when cancelled.
async fn train_control(id: u32, spec: &ArchSpec, config: &ModelConfig, control: &Dataset, test: &SamplePack, device: &dough_compute::Device) -> Result<Option<f64>, TrainError> {
    let mut trainer = Trainer::new(spec, config, control, device)?;
    let (mut last_yield, mut last_progress) = (now_ms(), f64::NEG_INFINITY);
    while !trainer.finished() {
        if !go_on(id).await {
            return Ok(None);
        }
        let p = trainer.step().await?;
        if now_ms() - last_progress >= PROGRESS_EVERY_MS || trainer.finished() {
            last_progress = now_ms();
            reply(Reply::DoughProgress { id, phase: DoughPhase::Control, done: p.epoch * p.batches + p.batch, total: p.epochs * p.batches });
        }
        if now_ms() - last_yield >= YIELD_EVERY_MS {
            yield_now().await;
            last_yield = now_ms();
        }
    }
    let weights = trainer.weights().await?;
    Ok(Some(eval::accuracy(spec, &weights, device, &test.pixels, &test.labels).await?))
}

/// Trains a network for "Train your own network": progress while it runs, a snapshot of the
/// untrained network and one after every epoch (test accuracy, seconds, weights, the study
/// batch's outcomes). With `dough`, the training data is the D_det of that request's model
/// (built first) and a control network trains after it on the same clean images. The training
/// set's size (and the control's test accuracy) when done, `None` when cancelled.
#[allow(clippy::too_many_arguments)]
async fn train(id: u32, arch: ArchKind, config: &ModelConfig, bytes: &[u8], train_bytes: usize, study_seed: u64, attack: &AttackConfig, dough: Option<&DoughRequest>, built: &[f32]) -> Result<Option<(usize, Option<f64>)>, TrainError> {
    let bad = TrainError::Request;
    let device = current_device()?;
    let spec = match arch {
        ArchKind::Mlp => ArchSpec::Mlp { hidden: config.hidden.clone() },
        ArchKind::Cnn if !config.conv.is_empty() => ArchSpec::Cnn { conv: config.conv.clone(), dense: config.dense.clone() },
        ArchKind::Cnn => return Err(bad("a convolutional network needs at least one conv layer".into())),
    };
    if train_bytes > bytes.len() {
        return Err(bad(format!("{train_bytes} bytes of training pack in a buffer of {}", bytes.len())));
    }
    let train_pack = SamplePack::decode(&bytes[..train_bytes]).map_err(|e| bad(format!("the training pack: {e}")))?;
    let test = SamplePack::decode(&bytes[train_bytes..]).map_err(|e| bad(format!("the test pack: {e}")))?;
    let mut data = train_pack.to_dataset();
    let mut control_set = None;
    if let Some(d) = dough {
        let Some(set) = build_dough(id, d, &data, built).await? else {
            return Ok(None);
        };
        data = set.dough;
        control_set = Some(set.control);
    }
    let images = data.len();
    let starts: Vec<Vec<f32>> = pipeline::default_inputs(study_seed).iter().map(|i| i.pixels(None)).collect::<Result<_, _>>().map_err(|e| bad(e.to_string()))?;
    let (starts, targets) = pipeline::batch(&starts);
    let mut trainer = Trainer::new(&spec, config, &data, &device)?;
    let mut seconds = 0.0;
    loop {
        // The snapshot after `epochs_done` epochs.
        let weights = trainer.weights().await?;
        let test_accuracy = eval::accuracy(&spec, &weights, &device, &test.pixels, &test.labels).await?;
        let Some(rows) = attack_batch(id, &spec, &weights, &device, &starts, &targets, attack).await? else {
            return Ok(None);
        };
        post(pack_snapshot(id, trainer.epochs_done(), test_accuracy, seconds, rows, weights.to_safetensors()));
        if trainer.finished() {
            let control = match &control_set {
                None => None,
                Some(c) => match train_control(id, &spec, config, c, &test, &device).await? {
                    Some(acc) => Some(acc),
                    None => return Ok(None),
                },
            };
            return Ok(Some((images, control)));
        }
        let t0 = now_ms();
        let (mut last_yield, mut last_progress) = (t0, f64::NEG_INFINITY);
        loop {
            if !go_on(id).await {
                return Ok(None);
            }
            let p = trainer.step().await?;
            let end = p.batch == p.batches;
            if end || !p.loss.is_nan() || now_ms() - last_progress >= PROGRESS_EVERY_MS {
                last_progress = now_ms();
                let loss = (!p.loss.is_nan()).then_some(p.loss);
                reply(Reply::TrainProgress { id, epoch: p.epoch, epochs: p.epochs, batch: p.batch, batches: p.batches, loss });
            }
            if end {
                break;
            }
            if now_ms() - last_yield >= YIELD_EVERY_MS {
                yield_now().await;
                last_yield = now_ms();
            }
        }
        seconds = (now_ms() - t0) / 1000.0;
    }
}
