//! Building a set of nothing but dough (D_det or D_rand, `dough_core::dough_data`): every image of
//! a dataset attacked toward its target with minimal evolution, in batches, then the ones that
//! reached it assembled with their control. The CLI's `dough-data` and the page's "train on
//! dough" (in the worker) call the same [`build`], so both give the same set for the same seed.

use std::future::Future;

use dough_core::attack::{AttackConfig, ComputeError};
use dough_core::dough_data::{DoughDataError, DoughSet, TargetRule, assemble, start_images, targets};
use dough_core::idx::Dataset;
use crate::network::Network;
use crate::suite::{Goal, Attack};

pub use dough_core::dough_data::BATCH;

/// Why a dough set could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DoughBuildError {
    #[error("the attack failed: {0}")]
    Attack(#[from] ComputeError),
    #[error(transparent)]
    Set(#[from] DoughDataError),
}

/// Attacks every image of `data` toward its target under `rule` (`seed` draws D_rand's) with
/// `cfg` on the source network `net`, `batch` images at a time, and assembles the set. After every attack step `between` gets
/// (images done, images in all, the current batch's step) and says whether to go on: `None` when
/// it said no.
pub async fn build<F, Fut>(net: &Network, data: &Dataset, rule: TargetRule, seed: u64, cfg: &AttackConfig, batch: usize, mut between: F) -> Result<Option<DoughSet>, DoughBuildError>
where
    F: FnMut(usize, usize, usize) -> Fut,
    Fut: Future<Output = bool>,
{
    let n = data.len();
    let tg = targets(&data.labels, rule, seed);
    let (mut adv, mut reached) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let batch = batch.max(1);
    let all = start_images(data);
    for start in (0..n).step_by(batch) {
        let end = (start + batch).min(n);
        let imgs = &all[start..end];
        let goals: Vec<Goal> = tg[start..end].iter().map(|&t| Goal::Toward(t)).collect();
        let mut job = Attack::on(net, imgs, &goals, cfg)?;
        let mut step = 0;
        while !job.step().await? {
            step += 1;
            if !between(start, n, step).await {
                return Ok(None);
            }
        }
        for o in job.outcome().await? {
            reached.push(o.reached);
            adv.push(o.adversarial);
        }
        if !between(end, n, 0).await {
            return Ok(None);
        }
    }
    Ok(Some(assemble(rule, data, &adv, &tg, &reached)?))
}
