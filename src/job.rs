//! One gallery run: settings -> attack job -> results, stepping cooperatively so the page
//! stays responsive, reporting progress and honouring Cancel.

use std::cell::Cell;
use std::rc::Rc;

use dough_core::Device;
use dough_core::attack::{AttackConfig, AttackJob, SampleOutcome, every_target};
use dough_core::model::ArchSpec;
use dough_core::study::pipeline::{self, Evolved};
use dough_core::weights::Weights;
use dough_core::pack::SamplePack;
use dough_core::inputs::ControlledInput;
use dough_core::settings::{InputChoice, Settings};

use crate::assets::LoadedModel;
use crate::platform::Yielder;

/// Progress of a run, for the progress bar.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JobProgress {
    pub step: usize,
    pub max_steps: usize,
    pub finished_samples: usize,
    pub samples: usize,
}

/// The inputs of every row at some steps of a run, for the step-by-step animation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frames {
    /// (step, rows x 784 pixels).
    pub frames: Vec<(usize, Vec<f32>)>,
}

/// At most this many frames are kept per run (every k-th step beyond that).
const MAX_FRAMES: usize = 200;

#[derive(Debug)]
pub enum JobEnd {
    Done(Vec<SampleOutcome>, Frames),
    Cancelled,
}

/// The longest the main thread is held between yields on the CPU path.
const YIELD_BUDGET_MS: f64 = 30.0;

/// Steps an attack to its end, yielding to the page between steps; reports progress.
#[allow(clippy::too_many_arguments)]
async fn run_attack(
    spec: &ArchSpec,
    weights: &Weights,
    device: &Device,
    starts: &[Vec<f32>],
    targets: &[usize],
    cfg: &AttackConfig,
    cancel: &Rc<Cell<bool>>,
    on_progress: &mut impl FnMut(JobProgress),
    mut frames: Option<&mut Frames>,
) -> Result<Option<Vec<SampleOutcome>>, String> {
    let mut job = AttackJob::new(spec, weights, device, starts, targets, cfg.clone()).map_err(|e| e.to_string())?;
    let mut yielder = Yielder::new(YIELD_BUDGET_MS);
    let stride = cfg.max_steps.div_ceil(MAX_FRAMES).max(1);
    if let Some(f) = frames.as_deref_mut() {
        f.frames.push((0, starts.iter().flatten().copied().collect()));
    }
    loop {
        if cancel.get() {
            return Ok(None);
        }
        let finished = job.step().await.map_err(|e| e.to_string())?;
        if let Some(f) = frames.as_deref_mut()
            && !finished
            && job.steps_done() % stride == 0
        {
            f.frames.push((job.steps_done(), job.current_inputs().await.map_err(|e| e.to_string())?));
        }
        on_progress(JobProgress {
            step: job.steps_done(),
            max_steps: job.max_steps(),
            finished_samples: if finished { job.batch() } else { job.batch() - job.active_count() },
            samples: job.batch(),
        });
        if finished {
            break;
        }
        yielder.maybe_yield().await;
    }
    let out = job.outcome().await.map_err(|e| e.to_string())?;
    if let Some(f) = frames {
        let last: Vec<f32> = out.iter().flat_map(|o| o.adversarial.clone()).collect();
        if f.frames.last().map(|(s, _)| *s) != Some(job.steps_done()) {
            f.frames.push((job.steps_done(), last));
        }
    }
    Ok(Some(out))
}

pub async fn run_gallery(
    model: &LoadedModel,
    device: &Device,
    settings: &Settings,
    pack: Option<&SamplePack>,
    custom: Option<&[f32]>,
    cancel: Rc<Cell<bool>>,
    mut on_progress: impl FnMut(JobProgress),
) -> Result<JobEnd, String> {
    let input = match (settings.input, custom) {
        (InputChoice::Custom, Some(px)) => ControlledInput::Custom { pixels: px.to_vec() },
        (InputChoice::Custom, None) => return Err("draw or upload an image first".into()),
        _ => settings.controlled_input(),
    };
    let start = input.pixels(pack).map_err(|e| e.to_string())?;
    let (starts, targets) = match settings.target {
        Some(t) => (vec![start], vec![t as usize]),
        None => every_target(&start),
    };
    // The step-by-step animation is for the user's own image (reading every few steps costs a
    // GPU round trip, which the other inputs need not pay).
    let mut frames = Frames::default();
    let record = (settings.input == InputChoice::Custom).then_some(&mut frames);
    let out = run_attack(&model.spec, &model.weights, device, &starts, &targets, &settings.attack, &cancel, &mut on_progress, record)
        .await?;
    Ok(match out {
        Some(rows) => JobEnd::Done(rows, frames),
        None => JobEnd::Cancelled,
    })
}

/// The study's attacks: every controlled input of the study toward every class, on the model
/// and on its untrained twin (the null baseline). `None` when cancelled.
pub async fn run_study(
    model: &LoadedModel,
    device: &Device,
    settings: &Settings,
    cancel: Rc<Cell<bool>>,
    mut on_progress: impl FnMut(JobProgress),
) -> Result<Option<(Evolved, Evolved)>, String> {
    let starts: Vec<Vec<f32>> = pipeline::default_inputs(settings.seed).iter().map(|i| i.pixels(None)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let (s, t) = pipeline::batch(&starts);
    let Some(trained) = run_attack(&model.spec, &model.weights, device, &s, &t, &settings.attack, &cancel, &mut on_progress, None).await? else {
        return Ok(None);
    };
    let untrained_w = model.spec.init_weights(pipeline::untrained_seed(settings.seed));
    let Some(untrained) = run_attack(&model.spec, &untrained_w, device, &s, &t, &settings.attack, &cancel, &mut on_progress, None).await? else {
        return Ok(None);
    };
    Ok(Some((Evolved::from_outcomes(trained), Evolved::from_outcomes(untrained))))
}
