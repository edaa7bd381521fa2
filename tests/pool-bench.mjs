// Numbers for the pool of CPU workers (not a test): workers=1 against workers=2 (or the list in
// WORKERS), CPU backend, ROUNDS alternating runs (default 3), medians: the first LeNet gallery
// (noise input; from the main worker's start, so it includes starting the pool's other
// workers), a second LeNet gallery on warm workers, a study of mnist-lenet with 3 seeds, and an
// overview of the 12 MNIST networks with 1 seed; when the workers were ready; and the
// renderer's memory (every worker's included).
//   node tests/pool-bench.mjs          (after scripts/build-site.sh)
//   WORKERS=1,2,4 ROUNDS=1 ONLY=gallery node tests/pool-bench.mjs
import { execSync } from 'node:child_process';
import { serve } from './serve.mjs';
import { DIST, launch } from './page.mjs';
import { instrument } from './marks.mjs';

const server = await serve(DIST, 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const LONG = 1_800_000;
const WORKERS = (process.env.WORKERS || '1,2').split(',').map(Number);
const ROUNDS = Number(process.env.ROUNDS || 3);
const ONLY = process.env.ONLY ? process.env.ONLY.split(',') : ['gallery', 'regallery', 'study', 'overview'];

/// Resident memory of Chromium's renderer processes (the page and its workers' threads), MiB.
function rendererMiB() {
  const out = execSync("ps -eo rss,args | grep -- '--type=renderer' | grep -v grep || true").toString();
  return out.split('\n').filter(Boolean).reduce((s, l) => s + Number(l.trim().split(/\s+/)[0]), 0) / 1024;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const workloads = {
  // From navigation to the first gallery; the worker-start share from the marks.
  gallery: { query: 'model=mnist-lenet&input=noise&seed=1', wait: '#app[data-status="done"]' },
  // The page's default (mnist-mlp, black input), for the memory figure.
  default: { query: '', wait: '#app[data-status="done"]' },
  // A second gallery on warm workers: from the change of seed to its last row.
  regallery: { query: 'model=mnist-lenet&input=noise&seed=1', wait: '#app[data-status="done"]', again: true },
  study: { query: 'model=mnist-lenet&input=noise&seed=1&analysis=1&seeds=3', wait: '#analysis[data-study="done"]' },
  overview: { query: 'model=mnist-mlp&target=3&overview=all', wait: '#overview[data-overview="done"]' },
};

const results = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const name of ONLY) {
    for (const n of round % 2 ? [...WORKERS].reverse() : WORKERS) {
      const ctx = await launch(false);
      const page = await ctx.newPage();
      await page.addInitScript(instrument);
      await page.goto(`${origin}/?backend=cpu&workers=${n}&${workloads[name].query}`);
      await page.waitForSelector('#app[data-status="done"]', { timeout: LONG });
      if (workloads[name].again) {
        await page.waitForTimeout(300);
        await page.fill('#seed-input', '2');
        await page.dispatchEvent('#seed-input', 'change');
        await page.waitForFunction(() => document.querySelector('#app')?.dataset.status === 'running', null, { timeout: LONG });
      }
      const galleryDone = await page.evaluate(() => performance.now());
      await page.waitForSelector(workloads[name].wait, { timeout: LONG });
      const end = await page.evaluate(() => performance.now());
      const m = await page.evaluate(() => window.__marks);
      const mem = rendererMiB();
      const ms = name === 'gallery' || name === 'default' ? m.done - m.backend : end - galleryDone;
      (results[`${name}@${n}`] ??= []).push({ ms, ready: m.backend, mem });
      console.log(`round ${round + 1} ${name} workers=${n}: ${(ms / 1000).toFixed(2)} s (workers ready at ${m.backend.toFixed(0)} ms after navigation; renderer ${mem.toFixed(0)} MiB)`);
      await ctx.close();
    }
  }
}
console.log('\nmedians:');
for (const name of ONLY) {
  const base = median(results[`${name}@${WORKERS[0]}`].map((r) => r.ms));
  for (const n of WORKERS) {
    const r = results[`${name}@${n}`];
    const ms = median(r.map((x) => x.ms));
    console.log(`${name} workers=${n}: ${(ms / 1000).toFixed(2)} s (${(ms / base).toFixed(2)}x of workers=${WORKERS[0]}), workers ready ${median(r.map((x) => x.ready)).toFixed(0)} ms, renderer ${median(r.map((x) => x.mem)).toFixed(0)} MiB, runs ${r.map((x) => (x.ms / 1000).toFixed(1)).join(', ')}`);
  }
}
server.close();
