//! Dough's web page (Leptos, client-side only; the compute runs in the `dough-worker` Web
//! Worker). `?bench=mlp|cnn` runs the benchmark instead.

mod app;
mod assets;
mod backend_state;
mod bench_view;
mod components;
mod batches;
mod held;
mod job_slot;
mod platform;
mod pool;
mod state;
mod worker_handle;

// Static constructors (cubecl registers its WGSL ops through `inventory`). When nothing calls
// `__wasm_call_ctors` explicitly, wasm-ld treats the module as a "command" and runs every
// constructor again at the top of *every* exported function: each JS -> wasm call (each DOM
// callback, each externref handed over) re-ran them, which made rendering a gallery take
// ~200 ms. One explicit call here, first thing, makes wasm-ld drop those wrappers.
#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: called once, before any other Rust code of this module runs.
    unsafe {
        __wasm_call_ctors();
    }
    console_error_panic_hook::set_once();
    let bench = platform::query_pairs().into_iter().find(|(k, _)| k == "bench").map(|(_, v)| v);
    match bench {
        Some(arch) => leptos::mount::mount_to_body(move || leptos::prelude::view! { <bench_view::BenchPage arch=arch.clone()/> }),
        None => leptos::mount::mount_to_body(app::App),
    }
}
