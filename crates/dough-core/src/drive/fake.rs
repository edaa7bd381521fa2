//! A compute for the drivers' tests: every row's outcome is a function of the model, the
//! twin's seed, the start and the target (so any cutting into pieces gives the same rows), its
//! answers come back after a varying number of polls (out of order), and it can be made to
//! cancel, fail or answer short at a given call.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::attack::{AttackConfig, SampleOutcome, norms};
use crate::model::{CLASSES, PIXELS};

use super::{Compute, DriveError};

pub use futures::executor::block_on;

impl From<DriveError> for String {
    fn from(e: DriveError) -> Self {
        e.to_string()
    }
}

#[derive(Default)]
pub struct Fake {
    lanes: usize,
    attacks: Cell<usize>,
    readings: Cell<usize>,
    in_flight: Cell<usize>,
    max_in_flight: Cell<usize>,
    lanes_seen: Cell<u64>,
    cancel_at: Option<usize>,
    fail_at: Option<usize>,
    fail_readings: bool,
    short: bool,
    whole: bool,
}

/// Returns `Pending` `n` times (waking itself), then `Ready`.
struct Yield(usize);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn mix(mut h: u64, v: u64) -> u64 {
    h ^= v.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(h << 6).wrapping_add(h >> 2);
    h
}

fn image_hash(img: &[f32]) -> u64 {
    img.iter().fold(17, |h, v| mix(h, v.to_bits() as u64))
}

impl Fake {
    pub fn new(lanes: usize) -> Self {
        Self { lanes, ..Self::default() }
    }
    pub fn cancel_at(mut self, n: usize) -> Self {
        self.cancel_at = Some(n);
        self
    }
    pub fn fail_at(mut self, n: usize) -> Self {
        self.fail_at = Some(n);
        self
    }
    pub fn fail_readings(mut self) -> Self {
        self.fail_readings = true;
        self
    }
    /// Keeps attacks whole (as a GPU would).
    pub fn whole(mut self) -> Self {
        self.whole = true;
        self
    }
    pub fn short_answers(mut self) -> Self {
        self.short = true;
        self
    }
    pub fn attacks(&self) -> usize {
        self.attacks.get()
    }
    pub fn readings(&self) -> usize {
        self.readings.get()
    }
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.get()
    }
    /// Which lanes were used (a bit per lane).
    pub fn lanes_seen(&self) -> u64 {
        self.lanes_seen.get()
    }

    async fn busy(&self, lane: usize, call: usize) {
        assert!(lane < self.lanes.max(1), "lane {lane} of {}", self.lanes);
        self.lanes_seen.set(self.lanes_seen.get() | 1 << lane);
        self.in_flight.set(self.in_flight.get() + 1);
        assert!(self.in_flight.get() <= self.lanes.max(1), "more tasks at once than lanes");
        self.max_in_flight.set(self.max_in_flight.get().max(self.in_flight.get()));
        Yield(call * 7 % 5).await;
        self.in_flight.set(self.in_flight.get() - 1);
    }

    /// The outcome of one row: moved by a pattern of (model or twin, target), reached unless
    /// the target is 9 on a twin.
    pub fn outcome(model: u64, twin: Option<u64>, start: &[f32], target: usize) -> SampleOutcome {
        let key = mix(mix(model, twin.map_or(0, |s| s + 1)), target as u64);
        let h = mix(key, image_hash(start));
        let adversarial: Vec<f32> = start.iter().enumerate().map(|(i, s)| (s + ((mix(key, i as u64) % 97) as f32 / 970.0) + (h % 7) as f32 / 1000.0).clamp(0.0, 1.0)).collect();
        let (l0, l2, linf) = norms(start, &adversarial);
        let reached = !(twin.is_some() && target == 9);
        SampleOutcome { target, start: start.to_vec(), adversarial, predicted: if reached { target } else { 0 }, confidence: 0.6, steps: (h % 50) as usize, l0, l2, linf, reached, away: false }
    }

    /// Probabilities of one image on `model`: the image's mean brightness, with the model, picks
    /// the class.
    pub fn probs(model: u64, img: &[f32]) -> Vec<f32> {
        let mean = img.iter().sum::<f32>() / img.len() as f32;
        let top = ((mean * 1000.0) as u64 + model) as usize % CLASSES;
        (0..CLASSES).map(|c| if c == top { 0.91 } else { 0.01 }).collect()
    }
}

impl Compute for Fake {
    type Model = u64;
    type Error = String;

    fn lanes(&self) -> usize {
        self.lanes.max(1)
    }

    fn piece_rows(&self) -> Option<usize> {
        (!self.whole).then_some(CLASSES)
    }

    async fn attack(&self, lane: usize, model: &u64, twin: Option<u64>, starts: &[Vec<f32>], targets: &[usize], _cfg: &AttackConfig) -> Result<Option<Vec<SampleOutcome>>, String> {
        let call = self.attacks.get() + 1;
        self.attacks.set(call);
        self.busy(lane, call).await;
        if self.cancel_at == Some(call) {
            return Ok(None);
        }
        if self.fail_at == Some(call) {
            return Err(format!("attack {call} failed"));
        }
        let mut rows: Vec<SampleOutcome> = starts.iter().zip(targets).map(|(s, &t)| Self::outcome(*model, twin, s, t)).collect();
        if self.short {
            rows.pop();
        }
        Ok(Some(rows))
    }

    async fn probabilities(&self, lane: usize, model: &u64, images: &[f32]) -> Result<Option<Vec<f32>>, String> {
        let call = self.readings.get() + 1;
        self.readings.set(call);
        self.busy(lane, call).await;
        if self.fail_readings {
            return Err(format!("reading {call} failed"));
        }
        Ok(Some(images.chunks(PIXELS).flat_map(|img| Self::probs(*model, img)).collect()))
    }
}
