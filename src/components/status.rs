//! The status strip: backend line, progress bar with Cancel, notices and errors.

use leptos::prelude::*;

use dough_core::protocol::JobProgress;

use crate::backend_state::BackendState;
use crate::state::Status;

#[component]
pub fn BackendLine(backend: RwSignal<Option<BackendState>>, workers: RwSignal<usize>) -> impl IntoView {
    view! {
        <p class="backend" id="backend-line">
            "Backend: "
            <strong>{move || backend.get().map(|b| b.choice.describe()).unwrap_or_else(|| "starting…".into())}</strong>
            <span id="backend-workers">{move || {
                let n = workers.get();
                if n == 1 { " · 1 worker".to_string() } else { format!(" · {n} workers") }
            }}</span>
        </p>
    }
}

#[component]
pub fn Progress(status: RwSignal<Status>, progress: RwSignal<JobProgress>, on_cancel: Callback<()>) -> impl IntoView {
    let running = move || status.get() == Status::Running;
    view! {
        <div class="progress" class:hidden=move || !running()>
            <progress
                id="attack-progress"
                max=move || progress.get().samples.max(1)
                value=move || progress.get().finished_samples
                aria-label="Attack progress: samples finished"
            ></progress>
            <span class="progress-text">
                {move || {
                    let p = progress.get();
                    format!("step {} of at most {} · {} of {} targets reached or stopped", p.step, p.max_steps, p.finished_samples, p.samples)
                }}
            </span>
            <button id="cancel" on:click=move |_| on_cancel.run(())>"Cancel"</button>
        </div>
        <Show when=move || status.get() == Status::Cancelled>
            <p class="cancelled" id="run-cancelled" role="status">"Cancelled: the gallery shows the last finished run."</p>
        </Show>
    }
}

#[component]
pub fn Messages(error: RwSignal<Option<String>>, notices: RwSignal<Vec<String>>) -> impl IntoView {
    view! {
        <Show when=move || error.get().is_some()>
            <div class="error" role="alert" id="error">{move || error.get().unwrap_or_default()}</div>
        </Show>
        <ul class="notices" aria-live="polite">
            {move || notices.get().into_iter().map(|n| view! { <li class="notice">{n}</li> }).collect_view()}
        </ul>
    }
}
