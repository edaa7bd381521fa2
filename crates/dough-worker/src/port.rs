//! The worker's side of the message port: posting replies, the clock, yielding to the event
//! loop, sleeping, and the panic hook that tells the page before the module dies.

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::DedicatedWorkerGlobalScope;

use dough_core::protocol::web::to_js;
use dough_core::protocol::{Packet, Reply};

pub fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Sends a reply to the page, transferring its buffers.
pub fn post(p: Packet<Reply>) {
    match to_js(&p) {
        Ok((v, transfer)) => {
            if let Err(e) = scope().post_message_with_transfer(&v, &transfer) {
                web_sys::console::error_2(&"dough worker: could not post a reply".into(), &e);
            }
        }
        Err(e) => web_sys::console::error_1(&format!("dough worker: could not encode a reply: {e}").into()),
    }
}

pub fn reply(r: Reply) {
    post(Packet::new(r));
}

/// Milliseconds from the worker's time origin.
pub fn now_ms() -> f64 {
    scope().performance().map(|p| p.now()).unwrap_or_else(js_sys::Date::now)
}

/// Lets the worker's event loop run (incoming Cancel and new requests) before continuing.
pub async fn yield_now() {
    let Ok(channel) = web_sys::MessageChannel::new() else { return };
    let promise = Promise::new(&mut |resolve, _| channel.port1().set_onmessage(Some(&resolve)));
    let _ = channel.port2().post_message(&JsValue::NULL);
    let _ = JsFuture::from(promise).await;
    channel.port1().set_onmessage(None);
}

/// Waits `ms` milliseconds (setTimeout), letting the event loop run meanwhile without using the CPU.
pub async fn sleep_ms(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// A panic (a bug, or CubeCL on an uncaptured WebGPU error) aborts the module: say so first, so
/// that the page can start a fresh worker on the CPU and finish the run there.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(&format!("dough worker panicked: {message}").into());
        reply(Reply::Panicked { message });
    }));
}
