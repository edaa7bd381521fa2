// Loads Dough's compute worker (Rust, built by Trunk as dough-worker.js + dough-worker_bg.wasm).
// The page starts it as worker.js?bin=<dough-worker|dough-worker-cpu>&v=<build>; the version keeps a cached old worker from ever
// meeting a newer page (Trunk does not hash worker file names).
// bin=dough-worker-cpu loads the CPU build (much smaller); anything else the WebGPU build.
// silent=1 (test-only, `debug=silent-worker`) loads nothing, so the worker never says "ready".
var params = new URL(self.location.href).searchParams;
var v = encodeURIComponent(params.get('v') || '');
var bin = params.get('bin') === 'dough-worker-cpu' ? 'dough-worker-cpu' : 'dough-worker';
if (params.get('silent') !== '1') {
importScripts('./' + bin + '.js?v=' + v);
wasm_bindgen('./' + bin + '_bg.wasm?v=' + v).catch(function (e) {
  self.postMessage({ msg: { type: 'panicked', message: 'the compute code could not be loaded: ' + e } });
});
}
