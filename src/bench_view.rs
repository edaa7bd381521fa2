//! `?bench=mlp|cnn`: runs the fixed benchmark workload in the compute worker (what users get)
//! and writes its result on the root element. `backend=` picks the backend as on the main page.

use leptos::prelude::*;
use leptos::task::spawn_local;

use dough_core::backend::{BackendPref, plan};
use dough_core::bench;
use dough_core::settings::Settings;

use crate::backend;
use crate::compute::Compute;
use crate::platform;
use crate::state::Status;

#[component]
pub fn BenchPage(arch: String) -> impl IntoView {
    let status = RwSignal::new(Status::Loading);
    let backend_slug = RwSignal::new(None::<&'static str>);
    let backend_text = RwSignal::new(String::new());
    let ms = RwSignal::new(None::<f64>);
    let error = RwSignal::new(None::<String>);
    let (settings, _) = Settings::from_query(&platform::query_pairs());
    let name = arch.clone();
    spawn_local(async move {
        let adapter = if settings.backend == BackendPref::Cpu { None } else { backend::adapter_report().await };
        let p = plan(settings.backend, adapter.as_ref(), None, false);
        let run = async {
            let (c, started) = Compute::start(p.start, None).await?;
            backend_slug.set(Some(started.backend.slug()));
            let adapter = started.adapter.map(|a| format!(" ({})", a.name)).unwrap_or_default();
            backend_text.set(format!("{}{adapter}, in the compute worker", started.backend.title()));
            status.set(Status::Running);
            c.bench(&name).await
        };
        match run.await {
            Ok(r) => {
                if let Ok(json) = serde_json::to_string(&r) {
                    platform::publish(&json);
                }
                ms.set(Some(r.ms_per_step));
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
            data-bench-ms-per-step=move || ms.get().map(|v| format!("{v:.3}"))>
            <h1>"Dough benchmark: " {arch}</h1>
            <p>"Backend: " {move || backend_text.get()}</p>
            <p>{move || match (ms.get(), error.get()) {
                (Some(v), _) => format!("{v:.2} ms per attack step ({:.1} steps/s), batch {}", 1000.0 / v, bench::BATCH),
                (None, Some(e)) => format!("Benchmark failed: {e}"),
                _ => "Running 3 warm-up and 50 timed steps…".to_string(),
            }}</p>
        </main>
    }
}
