//! What a gallery asks of the workers: its start images and targets (from the settings, the
//! sample pack or the user's drawing). The attack itself runs in the workers; the study's batches
//! are its driver's (`dough_core::drive::study::batch`).

use dough_core::attack::every_target;
use dough_core::inputs::ControlledInput;
use dough_core::pack::SamplePack;
use dough_core::settings::{InputChoice, Settings};

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
