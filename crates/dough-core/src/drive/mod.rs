//! The study's drivers: what to attack and what to read, in which order, and how the answers
//! are put together, for the study (a model and its untrained twin over seeds of the controlled
//! inputs), the zoo overview (every model's study attack, then every model reading every other
//! model's examples) and compare mode (model B's readings of A's gallery, B's own run, the
//! reverse reading and B's untrained twin).
//!
//! A driver runs its tasks on a [`Compute`]: `dough_compute::local::Local` natively (the CLI,
//! the tests), the page's pool of workers in the browser. Both call the same driver, so the page
//! and the CLI give the same numbers for the same inputs and seed by construction. Every driver
//! takes a progress callback and a cancel check, and answers `Ok(None)` when it was cancelled.

pub mod compare;
pub mod overview;
pub mod study;

use std::cell::RefCell;
use std::ops::Range;
use std::task::{Poll, Waker};

use crate::attack::{AttackConfig, SampleOutcome};
use crate::model::{CLASSES, PIXELS};
use crate::slicing::slices;

/// A driver's own error: its inputs could not be made, or an answer had the wrong shape.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DriveError {
    #[error("the controlled inputs could not be made: {0}")]
    Inputs(String),
    #[error("{0}")]
    Answer(String),
}

/// Where a driver's attacks and forward passes run.
#[allow(async_fn_in_trait)]
pub trait Compute {
    /// A network this compute can run (natively a built network, in the page a verified model
    /// file that each worker receives once).
    type Model;
    type Error: From<DriveError> + std::fmt::Display;

    /// How many tasks can run at once (the page: its workers). A driver runs at most this many
    /// at a time and hands each the index of its lane, `0..lanes()`.
    fn lanes(&self) -> usize {
        1
    }

    /// How the drivers cut an attack: `None` keeps it whole (a GPU, whose step costs about as
    /// much for ten rows as for fifty); `Some(n)` cuts it into pieces of `n` rows (a CPU, whose
    /// step costs every row of the batch until the last one stops, so small pieces waste less on
    /// rows that have already stopped, and the lanes share them). Every row moves on its own, so
    /// the pieces give the rows of the whole.
    fn piece_rows(&self) -> Option<usize> {
        None
    }

    /// On lane `lane`: the attack `cfg` from `starts[i]` toward `targets[i]` on `model`, or on
    /// an untrained network of its shape with weights from `untrained_seed`; `None` when
    /// cancelled.
    async fn attack(&self, lane: usize, model: &Self::Model, untrained_seed: Option<u64>, starts: &[Vec<f32>], targets: &[usize], cfg: &AttackConfig) -> Result<Option<Vec<SampleOutcome>>, Self::Error>;

    /// On lane `lane`: class probabilities of `images` (784 values each, one after the other)
    /// on `model`, ten per image; `None` when cancelled.
    async fn probabilities(&self, lane: usize, model: &Self::Model, images: &[f32]) -> Result<Option<Vec<f32>>, Self::Error>;

    /// Whether a failed optional part of a driver (compare mode's reverse reading or untrained
    /// twin) may be left out with a note. An error that ends the compute itself (a worker that
    /// died) must end the driver: the caller recovers and runs it again.
    fn can_leave_out(&self, _e: &Self::Error) -> bool {
        true
    }
}

/// Where a driver stands: tasks done of all, and what it is doing now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub attacks_done: usize,
    pub attacks: usize,
    pub readings_done: usize,
    pub readings: usize,
    pub label: String,
}

/// One driver run: its progress (shared by its concurrent tasks), its lanes and its cancel
/// check.
pub(crate) struct Run<'a> {
    now: RefCell<Progress>,
    tell: &'a dyn Fn(&Progress),
    cancelled: &'a dyn Fn() -> bool,
    free: RefCell<Vec<usize>>,
    waiting: RefCell<Vec<Waker>>,
}

/// A lane held by a task; it goes back to the run when dropped.
pub(crate) struct Lane<'r, 'a> {
    pub index: usize,
    run: &'r Run<'a>,
}

impl Drop for Lane<'_, '_> {
    fn drop(&mut self) {
        self.run.free.borrow_mut().push(self.index);
        for w in self.run.waiting.borrow_mut().drain(..) {
            w.wake();
        }
    }
}

impl<'a> Run<'a> {
    pub(crate) fn new(lanes: usize, attacks: usize, readings: usize, tell: &'a dyn Fn(&Progress), cancelled: &'a dyn Fn() -> bool) -> Self {
        let r = Self {
            now: RefCell::new(Progress { attacks, readings, ..Progress::default() }),
            tell,
            cancelled,
            free: RefCell::new((0..lanes.max(1)).rev().collect()),
            waiting: RefCell::new(Vec::new()),
        };
        r.tell();
        r
    }

    fn tell(&self) {
        let p = self.now.borrow().clone();
        (self.tell)(&p);
    }

    pub(crate) fn cancelled(&self) -> bool {
        (self.cancelled)()
    }

    /// Waits for a free lane; `None` once the run is cancelled (no new task starts then).
    pub(crate) async fn lane(&self, label: &str) -> Option<Lane<'_, 'a>> {
        let index = std::future::poll_fn(|cx| match self.free.borrow_mut().pop() {
            Some(i) => Poll::Ready(i),
            None => {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        let lane = Lane { index, run: self };
        if self.cancelled() {
            return None;
        }
        self.now.borrow_mut().label = label.to_string();
        self.tell();
        Some(lane)
    }

    pub(crate) fn attack_done(&self) {
        self.now.borrow_mut().attacks_done += 1;
        self.tell();
    }

    pub(crate) fn reading_done(&self) {
        self.now.borrow_mut().readings_done += 1;
        self.tell();
    }
}

/// The pieces an attack of `rows` rows is cut into (see [`Compute::piece_rows`]): the whole, or
/// pieces of about `n` rows (as even as they come), never an empty one.
pub fn pieces(rows: usize, piece_rows: Option<usize>) -> Vec<Range<usize>> {
    match piece_rows {
        Some(n) if n > 0 && rows > n => slices(rows, rows.div_ceil(n)),
        _ => slices(rows, 1),
    }
}

/// An attack cut into [`pieces`] (each one task on a lane of the compute), its rows put back in
/// order; every piece counts as one attack. `None` when it was cancelled.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn attack_in_pieces<C: Compute>(
    c: &C,
    run: &Run<'_>,
    model: &C::Model,
    untrained_seed: Option<u64>,
    starts: &[Vec<f32>],
    targets: &[usize],
    cfg: &AttackConfig,
    label: &str,
) -> Result<Option<Vec<SampleOutcome>>, C::Error> {
    let parts = pieces(starts.len(), c.piece_rows());
    let tasks = parts.iter().map(|r| async move {
        let Some(lane) = run.lane(label).await else { return Ok(None) };
        let out = c.attack(lane.index, model, untrained_seed, &starts[r.clone()], &targets[r.clone()], cfg).await?;
        drop(lane);
        if let Some(rows) = &out {
            if rows.len() != r.len() {
                return Err(DriveError::Answer(format!("an attack of {} rows answered {}", r.len(), rows.len())).into());
            }
            run.attack_done();
        }
        Ok::<_, C::Error>(out)
    });
    let mut rows = Vec::with_capacity(starts.len());
    for part in futures::future::join_all(tasks).await {
        match part? {
            Some(r) => rows.extend(r),
            None => return Ok(None),
        }
    }
    Ok(Some(rows))
}

/// Probabilities of `images` on `model` on a lane, checked to hold ten per image; every call
/// counts as one reading. `None` when cancelled.
pub(crate) async fn read<C: Compute>(c: &C, run: &Run<'_>, model: &C::Model, images: &[f32], label: &str) -> Result<Option<Vec<f32>>, C::Error> {
    let Some(lane) = run.lane(label).await else { return Ok(None) };
    let Some(p) = c.probabilities(lane.index, model, images).await? else { return Ok(None) };
    drop(lane);
    let n = images.len() / PIXELS;
    if p.len() != n * CLASSES {
        return Err(DriveError::Answer(format!("a reading of {n} images answered {} values", p.len())).into());
    }
    run.reading_done();
    Ok(Some(p))
}

/// How many attack pieces a run of `rows` rows makes on `c`.
pub(crate) fn piece_count<C: Compute>(c: &C, rows: usize) -> usize {
    pieces(rows, c.piece_rows()).len()
}

#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attack_is_kept_whole_or_cut_into_even_pieces() {
        assert_eq!(pieces(50, None), vec![0..50]);
        assert_eq!(pieces(50, Some(10)), vec![0..10, 10..20, 20..30, 30..40, 40..50]);
        assert_eq!(pieces(10, Some(10)), vec![0..10]);
        assert_eq!(pieces(25, Some(10)), vec![0..9, 9..17, 17..25]);
        assert_eq!(pieces(0, Some(10)), Vec::<Range<usize>>::new());
        assert_eq!(pieces(7, Some(0)), vec![0..7]);
    }
}
