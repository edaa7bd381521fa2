//! Browser plumbing: fetching files, the clock, yielding to the event loop, test hooks.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub fn window() -> web_sys::Window {
    web_sys::window().expect("a browser window")
}

fn js_message(v: &JsValue) -> String {
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| format!("{v:?}"))
}

/// Fetches `url` (relative to the page) and returns its bytes.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let resp = JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|e| format!("could not download {url}: {}", js_message(&e)))?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| format!("{url}: not a response"))?;
    if !resp.ok() {
        return Err(format!("could not download {url}: HTTP {} {}", resp.status(), resp.status_text()));
    }
    let buf = JsFuture::from(resp.array_buffer().map_err(|e| js_message(&e))?)
        .await
        .map_err(|e| format!("could not read {url}: {}", js_message(&e)))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

pub async fn fetch_text(url: &str) -> Result<String, String> {
    let bytes = fetch_bytes(url).await?;
    String::from_utf8(bytes).map_err(|_| format!("{url} is not UTF-8 text"))
}

/// Milliseconds from the page's time origin.
/// Whether the system prefers dark colours (`prefers-color-scheme: dark`).
pub fn prefers_dark() -> bool {
    window().match_media("(prefers-color-scheme: dark)").ok().flatten().is_some_and(|m| m.matches())
}

/// Whether the user asked for reduced motion (`prefers-reduced-motion: reduce`).
pub fn reduced_motion() -> bool {
    window().match_media("(prefers-reduced-motion: reduce)").ok().flatten().is_some_and(|m| m.matches())
}

pub fn now_ms() -> f64 {
    window().performance().map(|p| p.now()).unwrap_or_else(js_sys::Date::now)
}

/// Lets the browser run other tasks (input, painting) before continuing. A message-channel
/// round trip, not `setTimeout(0)`, which browsers clamp to 4 ms when nested.
pub async fn yield_now() {
    let Ok(channel) = web_sys::MessageChannel::new() else {
        return;
    };
    let promise = Promise::new(&mut |resolve, _| {
        channel.port1().set_onmessage(Some(&resolve));
    });
    let _ = channel.port2().post_message(&JsValue::NULL);
    let _ = JsFuture::from(promise).await;
    channel.port1().set_onmessage(None);
}

/// Resolves after the browser has painted a frame: a `requestAnimationFrame` callback, then a
/// task after it, so that DOM work done next lands in the following frame, not this one. A
/// hidden tab runs no animation frames: there a timer of `FRAME_TIMEOUT_MS` resolves it.
pub async fn next_frame() {
    const FRAME_TIMEOUT_MS: i32 = 100;
    let promise = Promise::new(&mut |resolve, _| {
        let w = window();
        let timer = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, FRAME_TIMEOUT_MS);
        if w.request_animation_frame(&resolve).is_err() && timer.is_err() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
    yield_now().await;
}

/// The page's query string as key/value pairs.
pub fn query_pairs() -> Vec<(String, String)> {
    let search = window().location().search().unwrap_or_default();
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let entries = js_sys::try_iter(&params.entries()).ok().flatten();
    if let Some(it) = entries {
        for pair in it.flatten() {
            let pair: js_sys::Array = pair.unchecked_into();
            if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                out.push((k, v));
            }
        }
    }
    out
}

/// Replaces the page's query string (no reload, no history entry) so that the URL always
/// reproduces what the page shows.
pub fn replace_query(pairs: &[(String, String)]) {
    let Ok(params) = web_sys::UrlSearchParams::new() else { return };
    for (k, v) in pairs {
        params.append(k, v);
    }
    let query: String = params.to_string().into();
    let loc = window().location();
    let path = loc.pathname().unwrap_or_default();
    let url = if query.is_empty() { path } else { format!("{path}?{query}") };
    // `replaceState` costs milliseconds; skip it when the URL would not change.
    let now = format!("{}{}", loc.pathname().unwrap_or_default(), loc.search().unwrap_or_default());
    if now == url {
        return;
    }
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
    }
}

/// Asks Dough's service worker (public/offline.js) to fetch and keep `urls`; returns how many
/// it stored.
pub async fn save_for_offline(urls: &[String]) -> Result<usize, String> {
    let f = js_sys::Reflect::get(&window(), &JsValue::from_str("doughSaveForOffline"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or("this browser has no service worker, so Dough cannot be saved for offline use")?;
    let list = js_sys::Array::new();
    for u in urls {
        list.push(&JsValue::from_str(u));
    }
    let promise: Promise = f.call1(&JsValue::NULL, &list).map_err(|e| format!("{e:?}"))?.dyn_into().map_err(|_| "no promise")?;
    let answer = JsFuture::from(promise).await.map_err(|e| format!("{e:?}"))?;
    let cached = js_sys::Reflect::get(&answer, &JsValue::from_str("cached")).ok().and_then(|v| v.as_f64()).unwrap_or(0.0) as usize;
    let failed = js_sys::Reflect::get(&answer, &JsValue::from_str("failed")).ok().map(|v| js_sys::Array::from(&v).length()).unwrap_or(0);
    if failed > 0 {
        return Err(format!("{failed} of {} files could not be saved (is the connection down?)", urls.len()));
    }
    Ok(cached)
}

/// Waits `ms` milliseconds (setTimeout).
pub async fn sleep_ms(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// Offers `href` (a data URL) to the user as a file download named `name`.
fn download(name: &str, href: &str) -> Result<(), String> {
    let doc = window().document().ok_or("no document")?;
    let a = doc.create_element("a").map_err(|e| format!("{e:?}"))?;
    a.set_attribute("href", href).map_err(|e| format!("{e:?}"))?;
    a.set_attribute("download", name).map_err(|e| format!("{e:?}"))?;
    let a: web_sys::HtmlElement = a.dyn_into().map_err(|_| "not an element")?;
    a.click();
    Ok(())
}

/// Downloads bytes (a safetensors file) as a file.
pub fn download_bytes(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    // btoa reads every UTF-16 unit below 256 as one byte.
    let latin1: String = bytes.iter().map(|&b| b as char).collect();
    let encoded = window().btoa(&latin1).map_err(|e| format!("{e:?}"))?;
    download(name, &format!("data:{mime};base64,{encoded}"))
}

/// Downloads text (JSON, CSV) as a file.
pub fn download_text(name: &str, mime: &str, text: &str) -> Result<(), String> {
    let encoded: String = js_sys::encode_uri_component(text).into();
    download(name, &format!("data:{mime};charset=utf-8,{encoded}"))
}

/// Downloads an RGBA image as a PNG file (encoded by the browser's canvas).
pub fn download_png(name: &str, width: usize, height: usize, rgba: &[u8]) -> Result<(), String> {
    let doc = window().document().ok_or("no document")?;
    let canvas: web_sys::HtmlCanvasElement =
        doc.create_element("canvas").map_err(|e| format!("{e:?}"))?.dyn_into().map_err(|_| "not a canvas")?;
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let ctx: web_sys::CanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(|e| format!("{e:?}"))?
        .ok_or("no 2d context")?
        .dyn_into()
        .map_err(|_| "not a 2d context")?;
    let img = web_sys::ImageData::new_with_u8_clamped_array_and_sh(wasm_bindgen::Clamped(rgba), width as u32, height as u32)
        .map_err(|e| format!("{e:?}"))?;
    ctx.put_image_data(&img, 0.0, 0.0).map_err(|e| format!("{e:?}"))?;
    let url = canvas.to_data_url_with_type("image/png").map_err(|e| format!("{e:?}"))?;
    download(name, &url)
}

/// Sets `window.__dough[field]` to a JSON value (creating `window.__dough` if needed).
pub fn publish_field(field: &str, json: &str) {
    let Ok(v) = js_sys::JSON::parse(json) else { return };
    let key = JsValue::from_str("__dough");
    let mut root = js_sys::Reflect::get(&window(), &key).unwrap_or(JsValue::UNDEFINED);
    if !root.is_object() {
        root = js_sys::Object::new().into();
        let _ = js_sys::Reflect::set(&window(), &key, &root);
    }
    let _ = js_sys::Reflect::set(&root, &JsValue::from_str(field), &v);
}

/// Publishes a JSON value as `window.__dough` for tests and tools.
pub fn publish(json: &str) {
    if let Ok(v) = js_sys::JSON::parse(json) {
        let _ = js_sys::Reflect::set(&window(), &JsValue::from_str("__dough"), &v);
    }
}

/// Sets `window[name]` to a JSON value (for tests and tools).
pub fn publish_global(name: &str, json: &str) {
    if let Ok(v) = js_sys::JSON::parse(json) {
        let _ = js_sys::Reflect::set(&window(), &JsValue::from_str(name), &v);
    }
}

/// Logical processors the browser reports (`navigator.hardwareConcurrency`; 1 when unknown).
pub fn hardware_concurrency() -> usize {
    (window().navigator().hardware_concurrency() as usize).max(1)
}
