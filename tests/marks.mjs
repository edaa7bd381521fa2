// Installed in a page before it loads (page.addInitScript): when the controls are painted, when
// the compute worker is ready (data-backend set), when the first gallery is done; and, while
// window.__watch is set, every frame gap and every long task on the main thread.
export function instrument() {
  window.__marks = {};
  window.__gaps = [];
  window.__long = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) if (window.__watch) window.__long.push(e.duration); }).observe({ type: 'longtask' });
  let last = 0;
  const frame = (t) => { if (window.__watch && last) window.__gaps.push(t - last); last = t; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  new MutationObserver(() => {
    const app = document.querySelector('#app');
    if (app && !window.__marks.controls && document.querySelector('#input-select')) window.__marks.controls = performance.now();
    if (app?.dataset.backend && !window.__marks.backend) window.__marks.backend = performance.now();
    if (app?.dataset.status === 'done' && !window.__marks.done) window.__marks.done = performance.now();
  }).observe(document, { subtree: true, childList: true, attributes: true });
}
