//! `?bench=mlp|cnn`: runs the fixed benchmark workload in the compute worker (what users get)
//! and writes its result on the root element. `backend=` picks the backend as on the main page.
//! On the CPU with a pool of more than one worker (`workers=`, default one per core less one),
//! the same workload then runs on every worker of the pool at once: the pool's throughput in
//! rows (attack samples) per second.

use leptos::prelude::*;
use leptos::task::spawn_local;

use dough_core::backend::{BackendPref, plan};
use dough_core::bench;
use dough_core::protocol::BackendKind;
use dough_core::settings::{Settings, pool_size};

use crate::backend_state;
use crate::worker_handle::{ClientError, WorkerHandle};
use crate::platform;
use crate::state::Status;

#[component]
pub fn BenchPage(arch: String) -> impl IntoView {
    let status = RwSignal::new(Status::Loading);
    let backend_slug = RwSignal::new(None::<&'static str>);
    let backend_text = RwSignal::new(String::new());
    let ms = RwSignal::new(None::<f64>);
    let error = RwSignal::new(None::<String>);
    // (workers, rows per second of all of them together)
    let pool = RwSignal::new(None::<(usize, f64)>);
    let (settings, _) = Settings::from_query(&platform::query_pairs());
    let name = arch.clone();
    spawn_local(async move {
        let adapter = if settings.backend == BackendPref::Cpu { None } else { backend_state::adapter_report().await };
        let p = plan(settings.backend, adapter.as_ref(), None, false);
        let run = async {
            let (c, started) = WorkerHandle::start(p.start, None).await?;
            backend_slug.set(Some(started.backend.slug()));
            let adapter = started.adapter.map(|a| format!(" ({})", a.name)).unwrap_or_default();
            backend_text.set(format!("{}{adapter}, in the compute worker", started.backend.title()));
            status.set(Status::Running);
            let one = c.bench(&name).await?;
            ms.set(Some(one.ms_per_step));
            let n = pool_size(settings.workers, platform::hardware_concurrency());
            if started.backend != BackendKind::Cpu || n < 2 {
                return Ok((one, None));
            }
            // The pool: the main worker and n - 1 more, the same workload on each at once.
            let mut workers = vec![c];
            for _ in 1..n {
                let (w, _) = WorkerHandle::start(BackendKind::Cpu, None).await?;
                workers.push(w);
            }
            let t0 = platform::now_ms();
            let all = futures::future::join_all(workers.iter().map(|w| w.bench(&name))).await;
            let wall_s = (platform::now_ms() - t0) / 1000.0;
            let rows: usize = all.into_iter().map(|r| r.map(|r| r.batch * r.steps)).collect::<Result<Vec<_>, _>>()?.into_iter().sum();
            for w in &workers[1..] {
                w.terminate();
            }
            Ok::<_, ClientError>((one, Some((n, rows as f64 / wall_s))))
        };
        match run.await {
            Ok((r, throughput)) => {
                let mut json = serde_json::to_value(&r).unwrap_or_default();
                if let (Some((n, rps)), Some(obj)) = (throughput, json.as_object_mut()) {
                    obj.insert("pool_workers".into(), n.into());
                    obj.insert("pool_rows_per_s".into(), rps.into());
                }
                platform::publish(&json.to_string());
                pool.set(throughput);
                status.set(Status::Done);
            }
            Err(e) => {
                error.set(Some(e.to_string()));
                status.set(Status::Error);
            }
        }
    });
    view! {
        <main id="app" data-backend=move || backend_slug.get() data-status=move || status.get().slug()
            data-bench-ms-per-step=move || ms.get().map(|v| format!("{v:.3}"))
            data-bench-pool-rows-per-s=move || pool.get().map(|(_, r)| format!("{r:.1}"))>
            <h1>"Dough benchmark: " {arch}</h1>
            <p>"Backend: " {move || backend_text.get()}</p>
            <p>{move || match (ms.get(), error.get()) {
                (Some(v), _) => format!("{v:.2} ms per attack step ({:.1} steps/s), batch {}", 1000.0 / v, bench::BATCH),
                (None, Some(e)) => format!("Benchmark failed: {e}"),
                _ => "Running 3 warm-up and 50 timed steps…".to_string(),
            }}</p>
            <p id="bench-pool">{move || pool.get().map(|(n, r)| format!("Pool of {n} CPU workers, the same workload on each at once: {r:.0} rows per second ({:.0} for one worker)", ms.get().map_or(0.0, |v| bench::BATCH as f64 * 1000.0 / v)))}</p>
        </main>
    }
}
