//! The worker's request loop: requests are queued and run one at a time; a Cancel marks a run,
//! which stops at its next step (or is dropped from the queue). Attacks report progress as
//! they go and send their rows (and frames, for the step playback) as one transferable buffer.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};

use js_sys::{Function, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::MessageEvent;

use dough_compute::attack::AttackJob;
use dough_compute::suite::{Goal, Job};
use dough_compute::train::Trainer;
use dough_compute::{bench, eval};
use dough_core::attack::{AttackConfig, AttackError, SampleOutcome, StepNorm, every_target};
use dough_core::manifest::{ArchKind, ModelConfig, ModelEntry};
use dough_core::model::{ArchSpec, PIXELS};
use dough_core::pack::SamplePack;
use dough_core::protocol::web::from_js;
use dough_core::protocol::{BackendKind, Fault, JobProgress, Packet, Reply, Request, pack_done, pack_snapshot, unpack_images};
use dough_core::study::pipeline;
use dough_core::weights::Weights;

use crate::backend::{self, Compute};
use crate::port::{self, now_ms, post, reply, yield_now};

/// At most this many frames are kept per run (every k-th step beyond that).
const MAX_FRAMES: usize = 200;
/// The longest the worker computes before it looks at its messages again.
const YIELD_EVERY_MS: f64 = 10.0;
/// Progress messages are sent at most this often (and always at the end).
const PROGRESS_EVERY_MS: f64 = 16.0;
/// How often a paused run looks at its messages again.
const PAUSE_POLL_MS: i32 = 30;
/// The step at which a test-only fault strikes.
const FAULT_AT_STEP: usize = 3;

#[derive(Default)]
struct State {
    compute: Option<Compute>,
    fault: Option<Fault>,
    model: Option<(ArchSpec, Weights)>,
    queue: VecDeque<Packet<Request>>,
    cancelled: HashSet<u32>,
    paused: HashSet<u32>,
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
            Err(e) => return reply(Reply::Failed { id: None, message: e.to_string(), gpu: false }),
        };
        if let Request::Cancel { id } = packet.msg {
            let queued = with(|s| {
                let before = s.queue.len();
                s.queue.retain(|p| request_id(&p.msg) != Some(id));
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

fn request_id(r: &Request) -> Option<u32> {
    match r {
        Request::Attack { id, .. }
        | Request::Predict { id }
        | Request::PredictWith { id, .. }
        | Request::Calibrate { id }
        | Request::Bench { id, .. }
        | Request::Train { id, .. } => Some(*id),
        _ => None,
    }
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

fn failed(id: Option<u32>, e: AttackError) {
    // On WebGPU a backend error means the device failed (lost or poisoned): the page moves the
    // run to a fresh worker on the CPU.
    let on_gpu = with(|s| s.compute.as_ref().is_some_and(|c| c.kind == BackendKind::Webgpu));
    let gpu = on_gpu && matches!(e, AttackError::Backend(_));
    reply(Reply::Failed { id, message: e.to_string(), gpu });
}

async fn handle(p: Packet<Request>) {
    match p.msg {
        Request::Init { backend: want, fault } => {
            let (compute, answer) = backend::start(want).await;
            with(|s| {
                s.compute = compute;
                s.fault = fault;
            });
            reply(answer);
        }
        Request::Model { entry } => {
            let loaded = entry
                .arch_spec()
                .map_err(|e| e.to_string())
                .and_then(|spec| Weights::from_safetensors(&p.u8).map(|w| (spec, w)).map_err(|e| format!("model {}: {e}", entry.name)));
            match loaded {
                Ok(m) => {
                    with(|s| s.model = Some(m));
                    reply(Reply::ModelLoaded { name: entry.name });
                }
                Err(e) => reply(Reply::Failed { id: None, message: e, gpu: false }),
            }
        }
        Request::Attack { id, targets, cfg, untrained_seed, record_frames, with_model } => {
            if is_cancelled(id) {
                return reply(Reply::Cancelled { id });
            }
            let other = match with_model.as_ref().map(|e| other_model(e, &p.u8)).transpose() {
                Ok(m) => m,
                Err(e) => return failed(Some(id), e),
            };
            match attack(id, &p.f32, &targets, cfg, untrained_seed, record_frames, other).await {
                Ok(Some(packet)) => post(packet),
                Ok(None) => reply(Reply::Cancelled { id }),
                Err(e) => failed(Some(id), e),
            }
        }
        Request::Predict { id } => match predict(&p.f32).await {
            Ok(probs) => post(Packet::with_f32(Reply::Probabilities { id }, probs)),
            Err(e) => failed(Some(id), e),
        },
        Request::PredictWith { id, entry, count } => match predict_with(&entry, count, &p.f32, &p.u8).await {
            Ok(probs) => post(Packet::with_f32(Reply::Probabilities { id }, probs)),
            Err(e) => failed(Some(id), e),
        },
        Request::Calibrate { id } => match calibrate().await {
            Ok((ms_per_step, steps)) => reply(Reply::Calibrated { id, ms_per_step, steps }),
            Err(e) => failed(Some(id), e),
        },
        Request::Bench { id, name } => {
            let Some(device) = with(|s| s.compute.as_ref().map(|c| c.device.clone())) else {
                return failed(Some(id), AttackError::BadConfig("the worker has no backend yet".into()));
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
                Err(e) => failed(Some(id), e),
            }
        }
        Request::Train { id, arch, config, train_bytes, study_seed, attack } => {
            if is_cancelled(id) {
                return reply(Reply::Cancelled { id });
            }
            match train(id, arch, &config, &p.u8, train_bytes, study_seed, &attack).await {
                Ok(Some(images)) => reply(Reply::TrainDone { id, images }),
                Ok(None) => reply(Reply::Cancelled { id }),
                Err(e) => failed(Some(id), e),
            }
        }
        Request::Cancel { .. } | Request::Pause { .. } => {}
    }
}

fn current() -> Result<(dough_compute::Device, ArchSpec, Weights), AttackError> {
    with(|s| {
        let device = s.compute.as_ref().map(|c| c.device.clone()).ok_or_else(|| AttackError::Backend("the worker has no backend yet".into()))?;
        let (spec, w) = s.model.clone().ok_or_else(|| AttackError::BadConfig("no model is loaded in the worker".into()))?;
        Ok((device, spec, w))
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
            if let Some(c) = &s.compute {
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
    other: Option<(ArchSpec, Weights)>,
) -> Result<Option<Packet<Reply>>, AttackError> {
    let (device, spec, trained) = match other {
        Some((spec, w)) => (current_device()?, spec, w),
        None => current()?,
    };
    let starts = unpack_images(flat, targets.len()).map_err(|e| AttackError::BadConfig(e.to_string()))?;
    let weights = match untrained_seed {
        Some(seed) => spec.init_weights(seed),
        None => trained,
    };
    let goals: Vec<Goal> = targets.iter().map(|&t| Goal::Toward(t)).collect();
    let mut job = Job::new(&spec, &weights, &device, &starts, &goals, &cfg)?;
    let stride = job.max_steps().div_ceil(MAX_FRAMES).max(1);
    let mut frames: Vec<(usize, Vec<f32>)> = Vec::new();
    if record_frames {
        frames.push((0, flat.to_vec()));
    }
    let (mut last_yield, mut last_progress) = (now_ms(), f64::NEG_INFINITY);
    loop {
        if is_cancelled(id) {
            return Ok(None);
        }
        let finished = job.step().await?;
        maybe_fault(job.steps_done());
        if record_frames && !finished && job.steps_done() % stride == 0 {
            frames.push((job.steps_done(), job.current_inputs().await?));
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

async fn predict(image: &[f32]) -> Result<Vec<f32>, AttackError> {
    let (device, spec, w) = current()?;
    eval::probabilities(&spec, &w, &device, image).await
}

fn current_device() -> Result<dough_compute::Device, AttackError> {
    with(|s| s.compute.as_ref().map(|c| c.device.clone())).ok_or_else(|| AttackError::Backend("the worker has no backend yet".into()))
}

/// Compare mode's model B, sent with a request (the worker's current model stays).
fn other_model(entry: &ModelEntry, bytes: &[u8]) -> Result<(ArchSpec, Weights), AttackError> {
    let spec = entry.arch_spec().map_err(|e| AttackError::BadConfig(e.to_string()))?;
    let w = Weights::from_safetensors(bytes).map_err(|e| AttackError::BadConfig(format!("model {}: {e}", entry.name)))?;
    Ok((spec, w))
}

/// Compare mode: `count` images through another model than the current one (sent with its bytes).
async fn predict_with(entry: &ModelEntry, count: usize, images: &[f32], bytes: &[u8]) -> Result<Vec<f32>, AttackError> {
    let device = current_device()?;
    if images.len() != count * PIXELS {
        return Err(AttackError::BadConfig(format!("{} image values for {count} images", images.len())));
    }
    let (spec, w) = other_model(entry, bytes)?;
    eval::probabilities_batch(&spec, &w, &device, images).await
}

/// Warm-up steps before the calibration's clock starts (shader compilation, first uploads).
const CALIBRATION_WARMUP: usize = 2;
/// Timed steps of the calibration.
const CALIBRATION_STEPS: usize = 8;

/// Times the real workload: the current model, a gallery batch (mid-gray toward every class),
/// L2 steps without early stopping, with a read at the end as a gallery has.
async fn calibrate() -> Result<(f64, usize), AttackError> {
    let (device, spec, w) = current()?;
    let (starts, targets) = every_target(&[0.5; PIXELS]);
    let cfg = AttackConfig { norm: StepNorm::L2, step_size: 0.01, max_steps: CALIBRATION_WARMUP + CALIBRATION_STEPS + 1, kappa: 1.0, early_stop: false, ..AttackConfig::default() };
    let mut job = AttackJob::new(&spec, &w, &device, &starts, &targets, cfg)?;
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
async fn attack_batch(id: u32, spec: &ArchSpec, weights: &Weights, device: &dough_compute::Device, starts: &[Vec<f32>], targets: &[usize], cfg: &AttackConfig) -> Result<Option<Vec<SampleOutcome>>, AttackError> {
    let goals: Vec<Goal> = targets.iter().map(|&t| Goal::Toward(t)).collect();
    let mut job = Job::new(spec, weights, device, starts, &goals, cfg)?;
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

/// Trains a network for "Train your own network": progress while it runs, a snapshot of the
/// untrained network and one after every epoch (test accuracy, seconds, weights, the study
/// batch's outcomes). The training pack's size when done, `None` when cancelled.
async fn train(id: u32, arch: ArchKind, config: &ModelConfig, bytes: &[u8], train_bytes: usize, study_seed: u64, attack: &AttackConfig) -> Result<Option<usize>, AttackError> {
    let bad = |e: String| AttackError::BadConfig(e);
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
    let images = train_pack.len();
    let data = train_pack.to_dataset();
    let starts: Vec<Vec<f32>> = pipeline::default_inputs(study_seed).iter().map(|i| i.pixels(None)).collect::<Result<_, _>>().map_err(|e| bad(e.to_string()))?;
    let (starts, targets) = pipeline::batch(&starts);
    let mut trainer = Trainer::new(&spec, config, &data, &device).map_err(|e| bad(e.to_string()))?;
    let mut seconds = 0.0;
    loop {
        // The snapshot after `epochs_done` epochs.
        let weights = trainer.weights().await.map_err(|e| AttackError::Backend(e.to_string()))?;
        let test_accuracy = eval::accuracy(&spec, &weights, &device, &test.pixels, &test.labels).await?;
        let Some(rows) = attack_batch(id, &spec, &weights, &device, &starts, &targets, attack).await? else {
            return Ok(None);
        };
        post(pack_snapshot(id, trainer.epochs_done(), test_accuracy, seconds, rows, weights.to_safetensors()));
        if trainer.finished() {
            return Ok(Some(images));
        }
        let t0 = now_ms();
        let (mut last_yield, mut last_progress) = (t0, f64::NEG_INFINITY);
        loop {
            if !go_on(id).await {
                return Ok(None);
            }
            let p = trainer.step().await.map_err(|e| AttackError::Backend(e.to_string()))?;
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
