//! What kind of failure an error is, for the page's job model: only a device failure makes the
//! page give up a worker. A training run's errors (a bad recipe, a pack that does not decode,
//! a diverging run) are never a device loss: a real loss on WebGPU reaches the page on its own,
//! through the device's lost callback, whatever the worker was doing.

use dough_core::attack::ComputeError;
use dough_core::protocol::FailKind;

/// An attack's (or prediction's, or benchmark's) error: a backend error on the GPU means the
/// device failed (lost, or poisoned after a loss); everything else leaves the worker as it was.
pub fn of_attack(e: &ComputeError, on_gpu: bool) -> FailKind {
    match e {
        ComputeError::Backend(_) if on_gpu => FailKind::DeviceLost,
        ComputeError::Backend(_) => FailKind::Failed,
        ComputeError::Empty | ComputeError::BadInput { .. } | ComputeError::BadTarget(_) | ComputeError::BadConfig(_) | ComputeError::Weights(_) | ComputeError::Drive(_) => {
            FailKind::BadRequest
        }
    }
}

/// A training run's error: a bad request or a failed run, never a device loss.
#[cfg(feature = "train")]
pub fn of_training(e: &crate::train::TrainError) -> FailKind {
    use crate::train::TrainError;
    match e {
        TrainError::Unsupported(_) | TrainError::Weights(_) | TrainError::Request(_) | TrainError::Plant(_) | TrainError::Dough(_) => FailKind::BadRequest,
        TrainError::Attack(_) | TrainError::Backend(_) => FailKind::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_backend_error_on_the_gpu_is_a_device_loss() {
        let backend = ComputeError::Backend("DevicePoisoned".into());
        assert_eq!(of_attack(&backend, true), FailKind::DeviceLost);
        assert_eq!(of_attack(&backend, false), FailKind::Failed);
        for e in [ComputeError::Empty, ComputeError::BadTarget(12), ComputeError::BadConfig("x".into()), ComputeError::BadInput { index: 0, len: 3 }] {
            assert_eq!(of_attack(&e, true), FailKind::BadRequest, "{e}");
        }
    }

    #[cfg(feature = "train")]
    #[test]
    fn training_errors_never_map_to_a_device_loss() {
        use crate::train::TrainError;
        let all = [
            TrainError::Unsupported("optimizer".into()),
            TrainError::Backend("DevicePoisoned".into()),
            TrainError::Attack(ComputeError::Backend("DevicePoisoned".into())),
            TrainError::Weights(dough_core::weights::WeightsError::Format("bad".into())),
            TrainError::Request("no pack".into()),
            TrainError::Plant(dough_core::plant::PlantError::BadClass(12)),
        ];
        for e in &all {
            assert_ne!(of_training(e), FailKind::DeviceLost, "{e}");
        }
    }
}
