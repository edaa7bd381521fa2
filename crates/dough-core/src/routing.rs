//! The page's side of the job model: which waiting request a worker's reply belongs to.
//!
//! Every request carries an id and every reply names it (`Init` and `Model` included), so a
//! reply resolves exactly the request it answers, in whatever order replies come. A reply for a
//! request the page has cancelled is *stale*: it resolves nothing (and tells the page that the
//! worker did stop). A reply that names no known request is *unsolicited* and resolves nothing
//! either. Only a panic or a device loss ends the worker. The page's `WorkerHandle` keeps one
//! [`Router`] per worker; the tests below drive it with a fake port.

use std::collections::{HashMap, HashSet};

use crate::protocol::{FailKind, Reply};

/// Why a worker is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Crash {
    /// The GPU device was lost or failed.
    GpuLost(String),
    /// The worker's code panicked.
    Panic(String),
    /// The worker could not load, threw, or never said it was ready.
    Error(String),
}

impl Crash {
    /// For `data-recovered`.
    pub fn slug(&self) -> &'static str {
        match self {
            Crash::GpuLost(_) => "device-lost",
            Crash::Panic(_) => "panic",
            Crash::Error(_) => "worker-error",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Crash::GpuLost(m) => format!("the GPU device failed ({m})"),
            Crash::Panic(m) => format!("the compute worker crashed ({m})"),
            Crash::Error(m) => format!("the compute worker stopped ({m})"),
        }
    }
}

/// Where a reply goes.
#[derive(Debug, PartialEq)]
pub enum Routed<P> {
    /// The worker's code is loaded.
    Ready,
    /// The worker is gone: every waiting request fails with it.
    Crash(Crash),
    /// Progress (or a training snapshot) of the waiting request `id`, which goes on.
    Event(u32),
    /// The final reply of a waiting request: its entry, taken out of the router.
    Final(u32, P),
    /// A reply for a request the page cancelled (the worker-side stop, observed).
    Stale(u32),
    /// A reply that belongs to no request the page made (or an unreadable one's failure).
    Unsolicited,
}

/// The requests waiting for their replies, by id.
#[derive(Debug)]
pub struct Router<P> {
    pending: HashMap<u32, P>,
    cancelled: HashSet<u32>,
    next_id: u32,
    /// Replies that came for cancelled requests.
    stale: usize,
}

impl<P> Default for Router<P> {
    fn default() -> Self {
        Self { pending: HashMap::new(), cancelled: HashSet::new(), next_id: 0, stale: 0 }
    }
}

impl<P> Router<P> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh id (ids are never reused by one router).
    pub fn next_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// Waits for the replies of request `id`.
    pub fn open(&mut self, id: u32, entry: P) {
        self.pending.insert(id, entry);
    }

    /// The entry of a waiting request (to hand it an event).
    pub fn get_mut(&mut self, id: u32) -> Option<&mut P> {
        self.pending.get_mut(&id)
    }

    /// Stops waiting for `id` (the page's side of Cancel); its later replies are stale.
    pub fn cancel(&mut self, id: u32) -> Option<P> {
        self.cancelled.insert(id);
        self.pending.remove(&id)
    }

    /// Forgets `id` without marking it cancelled (its request could not be sent).
    pub fn forget(&mut self, id: u32) -> Option<P> {
        self.pending.remove(&id)
    }

    /// Every waiting request, taken out (the worker is gone).
    pub fn drain(&mut self) -> Vec<(u32, P)> {
        let mut all: Vec<(u32, P)> = self.pending.drain().collect();
        all.sort_by_key(|(id, _)| *id);
        all
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// How many replies came for cancelled requests.
    pub fn stale_count(&self) -> usize {
        self.stale
    }

    /// Where `reply` goes; a final reply takes its request out.
    pub fn route(&mut self, reply: &Reply) -> Routed<P> {
        match reply {
            Reply::Ready => return Routed::Ready,
            Reply::Panicked { message } => return Routed::Crash(Crash::Panic(message.clone())),
            Reply::Failed { kind: FailKind::DeviceLost, message, .. } => return Routed::Crash(Crash::GpuLost(message.clone())),
            _ => {}
        }
        let Some(id) = reply.id() else { return Routed::Unsolicited };
        if !self.pending.contains_key(&id) {
            if self.cancelled.contains(&id) {
                if !reply.is_event() {
                    self.stale += 1;
                    self.cancelled.remove(&id);
                }
                return Routed::Stale(id);
            }
            return Routed::Unsolicited;
        }
        if reply.is_event() {
            return Routed::Event(id);
        }
        match self.pending.remove(&id) {
            Some(p) => Routed::Final(id, p),
            None => Routed::Unsolicited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{BackendKind, JobProgress, Request};

    /// A fake port: the page's router on one side, a scripted worker on the other.
    struct FakePort {
        router: Router<&'static str>,
        sent: Vec<Request>,
    }

    impl FakePort {
        fn new() -> Self {
            Self { router: Router::new(), sent: Vec::new() }
        }

        fn send(&mut self, make: impl FnOnce(u32) -> Request, name: &'static str) -> u32 {
            let id = self.router.next_id();
            let r = make(id);
            assert_eq!(r.id(), id, "the request carries the id it was opened with");
            self.router.open(id, name);
            self.sent.push(r);
            id
        }
    }

    fn progress(id: u32) -> Reply {
        Reply::Progress { id, progress: JobProgress::default() }
    }

    #[test]
    fn replies_resolve_their_own_requests_in_any_order() {
        let mut port = FakePort::new();
        let init = port.send(|id| Request::Init { id, backend: BackendKind::Cpu, fault: None }, "init");
        let a = port.send(|id| Request::Predict { id }, "predict");
        let b = port.send(|id| Request::Calibrate { id }, "calibrate");
        assert_eq!(port.sent.len(), 3);
        // Replies come back out of order.
        assert_eq!(port.router.route(&Reply::Calibrated { id: b, ms_per_step: 1.0, steps: 8 }), Routed::Final(b, "calibrate"));
        assert_eq!(port.router.route(&progress(a)), Routed::Event(a));
        assert_eq!(port.router.route(&Reply::Probabilities { id: a }), Routed::Final(a, "predict"));
        let backend = Reply::Backend { id: init, backend: BackendKind::Cpu, adapter: None, note: None, init_ms: 1.0 };
        assert_eq!(port.router.route(&backend), Routed::Final(init, "init"));
        assert!(port.router.is_empty());
        // A second copy of a final reply resolves nothing.
        assert_eq!(port.router.route(&Reply::Probabilities { id: a }), Routed::Unsolicited);
    }

    #[test]
    fn an_unsolicited_failure_resolves_nothing() {
        let mut port = FakePort::new();
        let init = port.send(|id| Request::Init { id, backend: BackendKind::Cpu, fault: None }, "init");
        let model = port.send(|id| Request::Model { id, entry: crate::manifest::tests::entry(), current: true }, "model");
        // The worker could not read some message: a failure without an id.
        let unread = Reply::Failed { id: None, message: "unreadable".into(), kind: FailKind::BadRequest };
        assert_eq!(port.router.route(&unread), Routed::Unsolicited);
        // ... nor with an id nobody waits for.
        let other = Reply::Failed { id: Some(999), message: "?".into(), kind: FailKind::Failed };
        assert_eq!(port.router.route(&other), Routed::Unsolicited);
        // Both requests still wait, and each gets its own answer.
        assert_eq!(port.router.route(&Reply::ModelLoaded { id: model, sha256: "x".into() }), Routed::Final(model, "model"));
        let failed = Reply::Failed { id: Some(init), message: "no".into(), kind: FailKind::BadRequest };
        assert_eq!(port.router.route(&failed), Routed::Final(init, "init"));
    }

    #[test]
    fn replies_after_cancel_are_stale_and_counted() {
        let mut port = FakePort::new();
        let a = port.send(|id| Request::Predict { id }, "a");
        let b = port.send(|id| Request::Predict { id }, "b");
        assert_eq!(port.router.cancel(a), Some("a"));
        // The worker had not seen the cancel yet: progress, then its stop.
        assert_eq!(port.router.route(&progress(a)), Routed::Stale(a));
        assert_eq!(port.router.stale_count(), 0, "progress is not the stop");
        assert_eq!(port.router.route(&Reply::Cancelled { id: a }), Routed::Stale(a));
        assert_eq!(port.router.stale_count(), 1);
        // Whatever comes after that for `a` is not stale any more, just unsolicited.
        assert_eq!(port.router.route(&Reply::Probabilities { id: a }), Routed::Unsolicited);
        assert_eq!(port.router.route(&Reply::Probabilities { id: b }), Routed::Final(b, "b"));
    }

    #[test]
    fn only_a_device_loss_or_a_panic_is_a_crash() {
        let mut port = FakePort::new();
        let a = port.send(|id| Request::Predict { id }, "a");
        for kind in [FailKind::BadRequest, FailKind::Failed, FailKind::NotHeld] {
            let mut r: Router<()> = Router::new();
            let id = r.next_id();
            r.open(id, ());
            assert_eq!(r.route(&Reply::Failed { id: Some(id), message: "x".into(), kind }), Routed::Final(id, ()));
        }
        let lost = Reply::Failed { id: Some(a), message: "lost".into(), kind: FailKind::DeviceLost };
        assert_eq!(port.router.route(&lost), Routed::Crash(Crash::GpuLost("lost".into())));
        assert_eq!(port.router.route(&Reply::Panicked { message: "boom".into() }), Routed::Crash(Crash::Panic("boom".into())));
        assert_eq!(port.router.drain(), vec![(a, "a")]);
    }
}
