//! The page's workers: the main one and (on the CPU) the pool's others, started to match
//! `workers=`, each given the current model (its bytes cross to a worker once), and a dead pool
//! worker replaced. Features take their workers from [`Page::crew`].

use leptos::prelude::*;

use dough_core::protocol::{BackendKind, Fault};
use dough_core::settings::{PoolFault, pool_size};

use super::Page;
use crate::assets::LoadedModel;
use crate::platform;
use crate::pool::{self, Crew};
use crate::worker_handle::{ClientError, WorkerHandle};

impl Page {
    /// Makes `m` the current model of every worker of the pool (its bytes cross to a worker
    /// only once).
    pub(super) async fn send_model(self, m: &LoadedModel) -> Result<(), String> {
        let c = self.engine.compute.get_value().ok_or("the compute worker is not running")?;
        let mut all = vec![c];
        all.extend(self.engine.extra.get_value());
        let sent = futures::future::join_all(all.iter().map(|w| w.load_model(&m.entry, &m.bytes, true))).await;
        sent.into_iter().collect::<Result<Vec<()>, ClientError>>().map(|_| ()).map_err(|e| e.to_string())
    }

    /// The workers of a job: the main one and the pool's others.
    pub(super) fn crew(self) -> Option<Crew> {
        let main = self.engine.compute.get_value()?;
        let mut workers = vec![main];
        workers.extend(self.engine.extra.get_value());
        let replace: pool::Replace = std::rc::Rc::new(move |i| Box::pin(self.replace_extra(i)));
        let on_cpu = self.engine.backend.get_untracked().is_none_or(|b| b.choice.kind == BackendKind::Cpu);
        Some(Crew { workers, on_cpu, replace: Some(replace) })
    }

    /// Starts (or stops) the pool's other CPU workers to match `workers=` while the main worker
    /// runs on the CPU; on WebGPU the GPU worker works alone. Each new worker gets the current
    /// model. A worker that does not start is left out, with a notice.
    pub(super) async fn fit_pool(self) {
        let on_cpu = self.engine.backend.get_untracked().is_some_and(|b| b.choice.kind == BackendKind::Cpu);
        self.fit_pool_for(on_cpu).await;
    }

    /// [`Page::fit_pool`] for a main worker on the CPU (`on_cpu`) or not.
    pub(super) async fn fit_pool_for(self, on_cpu: bool) {
        let requested = self.run.settings.with_untracked(|s| s.workers);
        let want = if on_cpu { pool_size(requested, platform::hardware_concurrency()) - 1 } else { 0 };
        let have = self.engine.extra.with_value(|e| e.len());
        if have > want {
            let gone = self.engine.extra.try_update_value(|e| e.split_off(want)).unwrap_or_default();
            for w in gone {
                w.terminate();
            }
        } else if have < want {
            let fault = self.engine.pool_fault.get_value();
            let started = futures::future::join_all((have..want).map(|k| self.spawn_extra(k + 1, k + 1 == want, fault))).await;
            for (k, w) in started.into_iter().enumerate() {
                match w {
                    Ok(w) => self.engine.extra.update_value(|e| e.push(w)),
                    Err(e) => self.notice(format!("Compute worker {} of {} did not start ({e}); the page runs on {} worker(s).", have + k + 2, want + 1, self.engine.extra.with_value(|x| x.len()) + 1)),
                }
            }
        }
        self.engine.workers.set(1 + self.engine.extra.with_value(|e| e.len()));
    }

    /// A CPU worker for pool place `index` (1: the first beside the main worker) with the current
    /// model. `last` takes the test-only pool fault, if any.
    pub(super) async fn spawn_extra(self, index: usize, last: bool, fault: Option<PoolFault>) -> Result<WorkerHandle, ClientError> {
        let fault = fault.filter(|_| last);
        if fault.is_some() {
            self.engine.pool_fault.set_value(None);
        }
        let w = WorkerHandle::spawn_with(BackendKind::Cpu, fault == Some(PoolFault::SilentWorker)).await?;
        let worker_fault = (fault == Some(PoolFault::PanicSlice)).then_some(Fault::Panic);
        if let Err(e) = w.init(BackendKind::Cpu, worker_fault).await {
            w.terminate();
            return Err(e);
        }
        if let Some(m) = self.models.loaded.get_value() {
            if fault == Some(PoolFault::CorruptModel) {
                // Test-only: bytes that do not match their SHA-256. The worker refuses them, and
                // the page sends its verified copy again, as it would after a bad transfer.
                let mut bad = m.bytes.to_vec();
                if let Some(b) = bad.last_mut() {
                    *b ^= 0xff;
                }
                if let Err(e) = w.load_model(&m.entry, &bad, true).await {
                    web_sys::console::warn_1(&format!("Dough: pool worker {index} refused a model: {e}; sending it again").into());
                }
            }
            if let Err(e) = w.load_model(&m.entry, &m.bytes, true).await {
                w.terminate();
                return Err(e);
            }
        }
        Ok(w)
    }

    /// Replaces pool worker `index` (>= 1), which died mid-job, with a fresh one.
    pub(super) async fn replace_extra(self, index: usize) -> Result<WorkerHandle, ClientError> {
        let w = self.spawn_extra(index, false, None).await?;
        let old = self.engine.extra.try_update_value(|e| e.get_mut(index - 1).map(|slot| std::mem::replace(slot, w.clone()))).flatten();
        if let Some(old) = old {
            old.terminate();
        }
        self.notice(format!("Compute worker {} stopped; a fresh one took over its share of the run (same numbers).", index + 1));
        self.engine.backend.update(|b| {
            if let Some(b) = b {
                b.recovered = Some("pool-worker");
            }
        });
        Ok(w)
    }
}
