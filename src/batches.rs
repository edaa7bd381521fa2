//! What a run asks of the worker: the start images and targets of a gallery (from the settings,
//! the sample pack or the user's drawing) and of the study. The attack itself runs in the worker.

use dough_core::attack::every_target;
use dough_core::inputs::ControlledInput;
use dough_core::pack::SamplePack;
use dough_core::settings::{InputChoice, Settings};
use dough_core::study::pipeline;

/// A batch of start images and their targets.
pub struct Batch {
    pub starts: Vec<Vec<f32>>,
    pub targets: Vec<usize>,
    /// Record frames for the step playback (the kneading; each frame costs a read, at most 200).
    pub record_frames: bool,
}

/// The gallery's batch: one start toward the chosen class, or toward every class.
pub fn gallery_batch(settings: &Settings, pack: Option<&SamplePack>, custom: Option<&[f32]>) -> Result<Batch, String> {
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
    Ok(Batch { starts, targets, record_frames: true })
}

/// The study's batch for one seed: every controlled input of the study toward every class (run
/// on the model and, from `pipeline::untrained_seed`, on its untrained twin).
pub fn study_batch(seed: u64) -> Result<Batch, String> {
    let starts: Vec<Vec<f32>> =
        pipeline::default_inputs(seed).iter().map(|i| i.pixels(None)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let (starts, targets) = pipeline::batch(&starts);
    Ok(Batch { starts, targets, record_frames: false })
}
