//! The page's compute workers as one pool: the main worker (CPU or WebGPU) and, when the CPU
//! runs, more CPU workers (`workers=`, default one per core less one). A gallery's attack is cut
//! into slices of rows (`dough_core::slicing`), one per worker, sent at once and put back
//! together in row order. The study, the overview and compare mode run their drivers
//! (`dough_core::drive`, the same as the CLI's) on [`PoolCompute`], whose lanes are the workers;
//! a list of independent jobs (the dough set's batches) is handed out to whichever worker is
//! free. A worker other than the main one that dies mid-task is replaced (a fresh CPU worker
//! with the current model) and its task runs again there; the main worker's crash is the app's
//! to recover (it may be the GPU's).

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures::future::join_all;

use dough_core::attack::{AttackConfig, SampleOutcome};
use dough_core::drive::Compute;
use dough_core::model::{CLASSES, PIXELS};
use dough_core::protocol::JobProgress;
use dough_core::slicing::{combine_progress, merge_frames, slices};

use crate::assets::LoadedModel;
use crate::job_slot::{JobSlot, Ticket};
use crate::worker_handle::{AttackEnd, ClientError, LiveFrames, WorkerHandle};

/// Hears a whole attack live: the furthest step any slice reached and every row's latest inputs
/// (rows x 784, in row order).
pub type Live = Rc<dyn Fn(usize, Vec<f32>)>;

/// The live view is redrawn at most this often, however many workers report.
const LIVE_EVERY_MS: f64 = 100.0;

/// The slices' latest inputs, put together for the live view.
struct Board {
    inputs: Vec<f32>,
    steps: Vec<usize>,
    shown_ms: f64,
}

impl Board {
    /// The listener of slice `i` (rows `rows`): its frames go on the board, and the board goes
    /// to `live` when it was last shown long enough ago.
    fn listener(board: Rc<RefCell<Board>>, i: usize, rows: std::ops::Range<usize>, live: Live) -> LiveFrames {
        Box::new(move |step, inputs: Vec<f32>| {
            let shown = board.borrow_mut().put(i, rows.start * PIXELS..rows.end * PIXELS, step, &inputs);
            if let Some((step, all)) = shown {
                live(step, all);
            }
        })
    }

    /// Slice `i`'s inputs after `step` steps at `at`; the furthest step and every row's inputs
    /// when it is time to redraw.
    fn put(&mut self, i: usize, at: std::ops::Range<usize>, step: usize, inputs: &[f32]) -> Option<(usize, Vec<f32>)> {
        if inputs.len() != at.len() || at.end > self.inputs.len() {
            return None;
        }
        self.inputs[at].copy_from_slice(inputs);
        self.steps[i] = step;
        let now = crate::platform::now_ms();
        if now - self.shown_ms < LIVE_EVERY_MS {
            return None;
        }
        self.shown_ms = now;
        Some((self.steps.iter().copied().max().unwrap_or(step), self.inputs.clone()))
    }
}

/// Starts a replacement for pool worker `index` (with the current model in it).
pub type Replace = Rc<dyn Fn(usize) -> std::pin::Pin<Box<dyn Future<Output = Result<WorkerHandle, ClientError>>>>>;

/// The workers of one job, as they were when it started.
#[derive(Clone)]
pub struct Crew {
    pub workers: Vec<WorkerHandle>,
    /// They run on the CPU (else the one GPU worker).
    pub on_cpu: bool,
    /// Replaces a dead worker (index >= 1); `None`: no replacement, the error stands.
    pub replace: Option<Replace>,
}

/// What one attack asks.
pub struct AttackAsk<'a> {
    pub starts: &'a [Vec<f32>],
    pub targets: &'a [usize],
    pub cfg: &'a AttackConfig,
    pub untrained_seed: Option<u64>,
    pub record_frames: bool,
    /// A model other than the workers' current one (sent to each worker's cache first).
    pub model: Option<&'a LoadedModel>,
    /// With `record_frames`: sees the inputs as they evolve.
    pub live: Option<Live>,
}

/// Runs `ask` on the crew, one slice of rows per worker; the rows come back in order. Every
/// request is tracked by `slot` under `ticket` (so Cancel stops every slice).
pub async fn attack(crew: &Crew, slot: JobSlot, ticket: Ticket, ask: AttackAsk<'_>, progress: impl Fn(JobProgress) + Clone + 'static) -> Result<AttackEnd, ClientError> {
    let parts = slices(ask.starts.len(), crew.workers.len());
    let reports = Rc::new(RefCell::new(vec![JobProgress::default(); parts.len()]));
    let board = Rc::new(RefCell::new(Board { inputs: ask.starts.concat(), steps: vec![0; parts.len()], shown_ms: f64::NEG_INFINITY }));
    let runs = parts.iter().enumerate().map(|(i, range)| {
        let live = ask.live.clone().filter(|_| ask.record_frames);
        let reports = reports.clone();
        let progress = progress.clone();
        let report = move |p: JobProgress| {
            let all = {
                let mut r = reports.borrow_mut();
                r[i] = p;
                combine_progress(&r)
            };
            progress(all);
        };
        let starts = &ask.starts[range.clone()];
        let targets = &ask.targets[range.clone()];
        let ask = &ask;
        let board = board.clone();
        async move {
            let mut worker = crew.workers[i].clone();
            let mut retried = false;
            loop {
                let listener = live.clone().map(|live| Board::listener(board.clone(), i, range.clone(), live));
                let result = slice(&worker, slot, ticket, starts, targets, ask, report.clone(), listener).await;
                match result {
                    Err(ClientError::Crashed(why)) if i > 0 && !retried && slot.is_current(ticket) => {
                        let Some(replace) = &crew.replace else { return Err(ClientError::Crashed(why)) };
                        web_sys::console::warn_1(&format!("Dough: pool worker {} stopped ({}); replacing it and running its slice again", i + 1, why.describe()).into());
                        worker = replace(i).await?;
                        retried = true;
                    }
                    other => return other,
                }
            }
        }
    });
    let ends = join_all(runs).await;
    let mut rows: Vec<SampleOutcome> = Vec::with_capacity(ask.starts.len());
    let mut frames: Vec<Vec<(usize, Vec<f32>)>> = Vec::new();
    for end in ends {
        match end? {
            AttackEnd::Done(r, f) => {
                rows.extend(r);
                frames.push(f);
            }
            AttackEnd::Cancelled => return Ok(AttackEnd::Cancelled),
        }
    }
    let frames = if ask.record_frames { merge_frames(&frames) } else { Vec::new() };
    Ok(AttackEnd::Done(rows, frames))
}

#[allow(clippy::too_many_arguments)]
async fn slice(
    worker: &WorkerHandle,
    slot: JobSlot,
    ticket: Ticket,
    starts: &[Vec<f32>],
    targets: &[usize],
    ask: &AttackAsk<'_>,
    progress: impl FnMut(JobProgress) + 'static,
    live: Option<LiveFrames>,
) -> Result<AttackEnd, ClientError> {
    if let Some(m) = ask.model {
        worker.load_model(&m.entry, &m.bytes, false).await?;
    }
    if !slot.is_current(ticket) {
        return Ok(AttackEnd::Cancelled);
    }
    let sha = ask.model.map(|m| m.entry.sha256.as_str());
    let (id, done) = worker.attack(starts, targets, ask.cfg, ask.untrained_seed, ask.record_frames, sha, progress, live);
    slot.follow(ticket, worker, id, done).await.unwrap_or(Ok(AttackEnd::Cancelled))
}

/// Runs `jobs` on the crew, each on the next free worker, and returns their results in the
/// jobs' order. `run(worker, job)` does one job; a crashed non-main worker is replaced and the
/// job runs again on the replacement.
pub async fn each<J, T, F, Fut>(crew: &Crew, jobs: Vec<J>, run: F) -> Result<Vec<T>, ClientError>
where
    J: Clone,
    F: Fn(WorkerHandle, J) -> Fut + Clone,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let queue = Rc::new(RefCell::new(jobs.into_iter().enumerate().collect::<std::collections::VecDeque<_>>()));
    let results: Rc<RefCell<Vec<Option<T>>>> = Rc::new(RefCell::new(Vec::new()));
    {
        let n = queue.borrow().len();
        results.borrow_mut().resize_with(n, || None);
    }
    let lanes = crew.workers.iter().enumerate().map(|(i, w)| {
        let (queue, results, run) = (queue.clone(), results.clone(), run.clone());
        let mut worker = w.clone();
        async move {
            loop {
                let Some((k, job)) = queue.borrow_mut().pop_front() else { return Ok::<(), ClientError>(()) };
                let mut retried = false;
                let value = loop {
                    match run(worker.clone(), job.clone()).await {
                        Err(ClientError::Crashed(why)) if i > 0 && !retried => {
                            let Some(replace) = &crew.replace else { return Err(ClientError::Crashed(why)) };
                            web_sys::console::warn_1(&format!("Dough: pool worker {} stopped ({}); replacing it and running its job again", i + 1, why.describe()).into());
                            worker = replace(i).await?;
                            retried = true;
                        }
                        other => break other?,
                    }
                };
                results.borrow_mut()[k] = Some(value);
            }
        }
    });
    for lane in join_all(lanes).await {
        lane?;
    }
    let out = std::mem::take(&mut *results.borrow_mut());
    out.into_iter().map(|v| v.ok_or_else(|| ClientError::Failed("a job of the pool gave no result".into()))).collect()
}

/// The drivers' compute in the page: lane `i` is the crew's worker `i`. A model's bytes go to a
/// worker once (its cache keeps the built network); every attack is tracked by `slot` under
/// `ticket`, so Cancel stops it in its worker; a dead worker other than the main one is replaced
/// and its task runs again there.
pub struct PoolCompute {
    workers: RefCell<Vec<WorkerHandle>>,
    replace: Option<Replace>,
    on_cpu: bool,
    slot: JobSlot,
    ticket: Ticket,
    step: Option<Rc<dyn Fn(JobProgress)>>,
}

impl PoolCompute {
    pub fn new(crew: &Crew, slot: JobSlot, ticket: Ticket) -> Self {
        Self { workers: RefCell::new(crew.workers.clone()), replace: crew.replace.clone(), on_cpu: crew.on_cpu, slot, ticket, step: None }
    }

    /// Hears the step progress of every attack as its worker reports it.
    pub fn on_step(mut self, f: impl Fn(JobProgress) + 'static) -> Self {
        self.step = Some(Rc::new(f));
        self
    }

    fn live(&self) -> bool {
        self.slot.is_current(self.ticket)
    }

    /// Runs `task` on lane `lane`'s worker; a crashed worker other than the main one is replaced
    /// once and the task runs again on the replacement.
    async fn on_lane<T, F, Fut>(&self, lane: usize, task: F) -> Result<T, ClientError>
    where
        F: Fn(WorkerHandle) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut retried = false;
        loop {
            let worker = self.workers.borrow()[lane].clone();
            match task(worker).await {
                Err(ClientError::Crashed(why)) if lane > 0 && !retried && self.live() => {
                    let Some(replace) = &self.replace else { return Err(ClientError::Crashed(why)) };
                    web_sys::console::warn_1(&format!("Dough: pool worker {} stopped ({}); replacing it and running its task again", lane + 1, why.describe()).into());
                    let fresh = replace(lane).await?;
                    self.workers.borrow_mut()[lane] = fresh;
                    retried = true;
                }
                other => return other,
            }
        }
    }
}

impl Compute for PoolCompute {
    type Model = LoadedModel;
    type Error = ClientError;

    fn lanes(&self) -> usize {
        self.workers.borrow().len()
    }

    /// One controlled input (ten rows) a piece on the CPU; whole on WebGPU.
    fn piece_rows(&self) -> Option<usize> {
        self.on_cpu.then_some(CLASSES)
    }

    async fn attack(&self, lane: usize, m: &LoadedModel, untrained_seed: Option<u64>, starts: &[Vec<f32>], targets: &[usize], cfg: &AttackConfig) -> Result<Option<Vec<SampleOutcome>>, ClientError> {
        self.on_lane(lane, |w| async move {
            w.load_model(&m.entry, &m.bytes, false).await?;
            if !self.live() {
                return Ok(None);
            }
            let step = self.step.clone();
            let report = move |p: JobProgress| {
                if let Some(s) = &step {
                    s(p);
                }
            };
            let (id, done) = w.attack(starts, targets, cfg, untrained_seed, false, Some(m.entry.sha256.as_str()), report, None);
            match self.slot.follow(self.ticket, &w, id, done).await {
                Some(Ok(AttackEnd::Done(rows, _))) => Ok(Some(rows)),
                Some(Ok(AttackEnd::Cancelled)) | None => Ok(None),
                Some(Err(e)) => Err(e),
            }
        })
        .await
    }

    async fn probabilities(&self, lane: usize, m: &LoadedModel, images: &[f32]) -> Result<Option<Vec<f32>>, ClientError> {
        let images: Vec<Vec<f32>> = images.chunks(PIXELS).map(|c| c.to_vec()).collect();
        let images = &images;
        self.on_lane(lane, |w| async move {
            if !self.live() {
                return Ok(None);
            }
            let p = w.predict_with(&m.entry, &m.bytes, images).await?;
            Ok(self.live().then_some(p))
        })
        .await
    }

    fn can_leave_out(&self, e: &ClientError) -> bool {
        matches!(e, ClientError::Failed(_))
    }
}
