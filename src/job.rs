//! One gallery run: settings -> attack job -> results, stepping cooperatively so the page
//! stays responsive, reporting progress and honouring Cancel.

use std::cell::Cell;
use std::rc::Rc;

use dough_core::Device;
use dough_core::attack::{AttackJob, SampleOutcome, every_target};
use dough_core::pack::SamplePack;
use dough_core::settings::Settings;

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

#[derive(Debug)]
pub enum JobEnd {
    Done(Vec<SampleOutcome>),
    Cancelled,
}

/// The longest the main thread is held between yields on the CPU path.
const YIELD_BUDGET_MS: f64 = 30.0;

pub async fn run_gallery(
    model: &LoadedModel,
    device: &Device,
    settings: &Settings,
    pack: Option<&SamplePack>,
    cancel: Rc<Cell<bool>>,
    mut on_progress: impl FnMut(JobProgress),
) -> Result<JobEnd, String> {
    let start = settings.controlled_input().pixels(pack).map_err(|e| e.to_string())?;
    let (starts, targets) = every_target(&start);
    let mut job = AttackJob::new(&model.spec, &model.weights, device, &starts, &targets, settings.attack.clone())
        .map_err(|e| e.to_string())?;
    let mut yielder = Yielder::new(YIELD_BUDGET_MS);
    loop {
        if cancel.get() {
            return Ok(JobEnd::Cancelled);
        }
        let finished = job.step().await.map_err(|e| e.to_string())?;
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
    Ok(JobEnd::Done(job.outcome().await.map_err(|e| e.to_string())?))
}
