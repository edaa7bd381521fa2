//! Inputs that travel to a worker once and stay there under a key (the study's runs, the
//! overview's perturbations): which key the current inputs have, which worker holds them, and
//! a request that sends them only when that worker does not hold them, or again when it says it
//! no longer does.

use std::future::Future;

use leptos::prelude::*;

use crate::job_slot::{JobSlot, Ticket};
use crate::worker_handle::{ClientError, Keyed, WorkerHandle};

#[derive(Clone, Copy)]
pub struct Held {
    /// The key of the current inputs (a new one with every new set).
    key: StoredValue<u64>,
    /// The key a worker holds, and that worker.
    holder: StoredValue<Option<(u64, WorkerHandle)>, LocalStorage>,
}

impl Held {
    pub fn new() -> Self {
        Self { key: StoredValue::new(0), holder: StoredValue::new_local(None) }
    }

    /// New inputs: a new key, which no worker holds yet.
    pub fn renew(&self) {
        self.key.update_value(|k| *k += 1);
    }

    /// Follows, as part of `slot`'s job `ticket`, the request `send(key, with_inputs)` makes to
    /// `w`: without the inputs when `w` holds them, and once more with them when `w` answers
    /// that it no longer does. `None` when the job was stopped or superseded meanwhile.
    pub async fn follow<T, Fut>(self, slot: JobSlot, ticket: Ticket, w: &WorkerHandle, send: impl Fn(u64, bool) -> (u32, Fut)) -> Option<Result<Option<T>, ClientError>>
    where
        Fut: Future<Output = Result<Option<Keyed<T>>, ClientError>>,
    {
        if !slot.is_current(ticket) {
            return None;
        }
        let key = self.key.get_value();
        let held = self.holder.with_value(|h| h.as_ref().is_some_and(|(k, hw)| *k == key && hw == w));
        let (id, done) = send(key, !held);
        let mut r = slot.follow(ticket, w, id, done).await?;
        if held && matches!(r, Ok(Some(Keyed::NotHeld))) {
            let (id, done) = send(key, true);
            r = slot.follow(ticket, w, id, done).await?;
        }
        Some(match r {
            Ok(Some(Keyed::Answer(t))) => {
                self.holder.set_value(Some((key, w.clone())));
                Ok(Some(t))
            }
            Ok(Some(Keyed::NotHeld)) => Err(ClientError::Failed("the statistics worker did not keep the inputs it was sent".into())),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        })
    }
}
