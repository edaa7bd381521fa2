//! Dough's compute worker (the code of both binaries): a dedicated Web Worker that owns Burn
//! (the device, the cached models, the attacks, the study's statistics, calibration, training
//! and the benchmark), so that the page's main thread only draws. It answers
//! `dough_core::protocol` requests in order; a Cancel stops the run in flight at its next step.
//! The page may run several (a pool of CPU workers); each is independent.

mod device;
mod port;
mod requests;

// Static constructors (cubecl registers its WGSL ops through `inventory`): one explicit call, so
// that wasm-ld does not re-run them at the top of every exported function (see the page's main).
#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

/// Runs the worker: called by both binaries' `main`.
pub fn start() {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: called once, before any other Rust code of this module runs.
    unsafe {
        __wasm_call_ctors();
    }
    port::install_panic_hook();
    requests::listen();
    port::reply(dough_core::protocol::Reply::Ready);
}
