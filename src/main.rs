//! Dough's web app (Leptos, client-side only). `?bench=mlp|cnn` runs the benchmark instead.

mod app;
mod assets;
mod backend;
mod bench_view;
mod components;
mod job;
mod platform;
mod state;

fn main() {
    console_error_panic_hook::set_once();
    let bench = platform::query_pairs().into_iter().find(|(k, _)| k == "bench").map(|(_, v)| v);
    match bench {
        Some(arch) => leptos::mount::mount_to_body(move || leptos::prelude::view! { <bench_view::BenchPage arch=arch.clone()/> }),
        None => leptos::mount::mount_to_body(app::App),
    }
}
