//! One job of a feature (the gallery, the study, its statistics, the overview): starting a new
//! one supersedes the last, Cancel stops every request it has in flight on every worker, and a
//! task holding an old ticket drops its result. Written once; every feature's store has one.

use leptos::prelude::*;

use crate::worker_handle::WorkerHandle;

/// Which run of a slot a task belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

#[derive(Clone, Copy)]
pub struct JobSlot {
    token: StoredValue<u64>,
    in_flight: StoredValue<Vec<(WorkerHandle, u32)>, LocalStorage>,
}

impl JobSlot {
    pub fn new() -> Self {
        Self { token: StoredValue::new(0), in_flight: StoredValue::new_local(Vec::new()) }
    }

    /// Stops the slot's job (every request in flight, on every worker) and returns the ticket of
    /// the next one.
    pub fn begin(&self) -> Ticket {
        self.stop();
        Ticket(self.token.get_value())
    }

    /// Stops the slot's job: its requests are cancelled and its tasks' tickets go stale.
    pub fn stop(&self) {
        self.token.update_value(|t| *t += 1);
        let all = self.in_flight.try_update_value(std::mem::take).unwrap_or_default();
        for (w, id) in all {
            w.cancel(id);
        }
    }

    /// The ticket of the job running now (for a task that continues it).
    pub fn current(&self) -> Ticket {
        Ticket(self.token.get_value())
    }

    /// Whether `t` is still the slot's job.
    pub fn is_current(&self, t: Ticket) -> bool {
        self.token.get_value() == t.0
    }

    /// Request `id` on `w` belongs to the job with ticket `t` (ignored if that job is over: the
    /// request is cancelled at once).
    fn track(&self, t: Ticket, w: &WorkerHandle, id: u32) {
        if self.is_current(t) {
            self.in_flight.update_value(|v| v.push((w.clone(), id)));
        } else {
            w.cancel(id);
        }
    }

    /// Follows request `id` on `w` (whose end is `done`) as part of the job with ticket `t`:
    /// tracked while it runs; `None` when that job was stopped or superseded meanwhile.
    pub async fn follow<T>(&self, t: Ticket, w: &WorkerHandle, id: u32, done: impl std::future::Future<Output = T>) -> Option<T> {
        self.track(t, w, id);
        let out = done.await;
        self.untrack(id);
        self.is_current(t).then_some(out)
    }

    /// Request `id` has ended.
    fn untrack(&self, id: u32) {
        self.in_flight.update_value(|v| v.retain(|(_, i)| *i != id));
    }
}
