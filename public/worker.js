// Loads Dough's compute worker (Rust, built by Trunk as dough-worker.js + dough-worker_bg.wasm).
// The page starts it as worker.js?v=<build>; the version keeps a cached old worker from ever
// meeting a newer page (Trunk does not hash worker file names).
var v = new URL(self.location.href).searchParams.get('v') || '';
importScripts('./dough-worker.js?v=' + encodeURIComponent(v));
wasm_bindgen('./dough-worker_bg.wasm?v=' + encodeURIComponent(v)).catch(function (e) {
  self.postMessage({ msg: { type: 'panicked', message: 'the compute code could not be loaded: ' + e } });
});
