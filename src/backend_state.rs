//! The page's side of the backend choice: the adapter's report (read on the main thread, which
//! is cheap), the measurement cache in localStorage (per adapter and app version), and the
//! state the backend line and `data-backend*` show. The decision itself is `dough_core::backend`.

use dough_core::backend::{Choice, Measurement};
use dough_core::protocol::AdapterReport;

use crate::platform::window;

/// `navigator.gpu.requestAdapter()`'s report, when there is an adapter.
pub async fn adapter_report() -> Option<AdapterReport> {
    dough_core::protocol::web::adapter_report(&window().navigator()).await
}

fn cache_key(adapter: &AdapterReport) -> String {
    format!("dough-backend|{}|{}", env!("CARGO_PKG_VERSION"), adapter.name)
}

/// An earlier measurement on this adapter and app version.
pub fn cached(adapter: &AdapterReport) -> Option<Measurement> {
    let storage = window().local_storage().ok()??;
    let text = storage.get_item(&cache_key(adapter)).ok()??;
    serde_json::from_str(&text).ok()
}

pub fn store(adapter: &AdapterReport, m: &Measurement) {
    if let (Ok(Some(storage)), Ok(text)) = (window().local_storage(), serde_json::to_string(m)) {
        let _ = storage.set_item(&cache_key(adapter), &text);
    }
}

/// What runs now, for the backend line and `data-backend`, `data-backend-reason`, `data-recovered`.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendState {
    pub choice: Choice,
    /// What the page recovered from (`device-lost`, `panic`, `worker-error`).
    pub recovered: Option<&'static str>,
}
