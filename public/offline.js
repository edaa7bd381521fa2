// Registers Dough's service worker and hands it the files this page already loaded, so that the
// next visit works offline. window.__doughOffline: 'unsupported' | 'pending' | 'ready' | 'failed'.
// window.doughSaveForOffline(urls) asks the worker to fetch and keep more files (the whole zoo).
(function () {
  if (!('serviceWorker' in navigator)) { window.__doughOffline = 'unsupported'; return; }
  window.__doughOffline = 'pending';
  function ask(urls) {
    return navigator.serviceWorker.ready.then(function (reg) {
      return new Promise(function (resolve) {
        var done = function (e) {
          if (e.data && 'cached' in e.data) { navigator.serviceWorker.removeEventListener('message', done); resolve(e.data); }
        };
        navigator.serviceWorker.addEventListener('message', done);
        reg.active.postMessage({ cache: urls });
      });
    });
  }
  window.doughSaveForOffline = ask;
  function loaded() {
    var urls = [location.href.split('?')[0]];
    performance.getEntriesByType('resource').forEach(function (e) {
      if (e.name.indexOf(location.origin) === 0) urls.push(e.name);
    });
    // The compute worker fetched its own files (not in this page's resource timing).
    var meta = document.querySelector('meta[name=dough-worker-version]');
    var v = encodeURIComponent(meta ? meta.content : '');
    ['dough-worker', 'dough-worker-cpu'].forEach(function (bin) {
      urls.push(new URL('worker.js?bin=' + bin + '&v=' + v, location.href).href);
      urls.push(new URL(bin + '.js?v=' + v, location.href).href);
      urls.push(new URL(bin + '_bg.wasm?v=' + v, location.href).href);
    });
    return urls;
  }
  navigator.serviceWorker.register('sw.js').then(function () {
    // Wait until the app has loaded its model, then keep everything loaded so far.
    var tries = 0;
    (function waitForApp() {
      var app = document.getElementById('app');
      var status = app && app.dataset.status;
      if ((status === 'done' || status === 'error') || tries++ > 600) {
        ask(loaded()).then(function (r) { window.__doughOffline = r.failed.length ? 'failed' : 'ready'; });
      } else {
        setTimeout(waitForApp, 500);
      }
    })();
  }, function () { window.__doughOffline = 'failed'; });
})();
