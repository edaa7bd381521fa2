// The main thread's longest tasks during a gallery, from a Chrome trace (not a test: numbers
// only). The `longtask` observer of the browser test sees tasks over 50 ms only; this sees every
// task, script and rendering alike, and names what filled the longest ones.
//   node tests/task-bench.mjs [cpu|webgpu|analysis] [runs] [throttle]     (after scripts/build-site.sh)
// throttle: slow the page's main thread down that many times (CDP), to see a slower machine's tasks.
// cpu: a mnist-cnn gallery on the CPU worker; webgpu: a mnist-mlp gallery on SwiftShader;
// analysis: after a study of mnist-mlp with 5 seeds, the smoothing changed twice (the statistics
// recompute in a worker and the analysis view redraws), then a training-recipe field changed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const backend = process.argv[2] || 'cpu';
const runs = Number(process.argv[3] || 1);
const throttle = Number(process.argv[4] || 1);
const model = backend === 'cpu' ? 'mnist-cnn' : 'mnist-mlp';
const analysis = backend === 'analysis';
const server = await serve(path.resolve(import.meta.dirname, '..', 'dist'), 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const LONG = 600_000;
const traceFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dough-trace-')), 'trace.json');

for (let run = 1; run <= runs; run++) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-quic', '--no-first-run', ...(backend === 'webgpu' ? ['--enable-unsafe-webgpu'] : [])],
  });
  const page = await browser.newPage();
  if (throttle > 1) await (await page.context().newCDPSession(page)).send('Emulation.setCPUThrottlingRate', { rate: throttle });
  if (analysis) {
    await page.goto(`${origin}/?backend=cpu&model=${model}&analysis=1&seeds=5`);
    await page.waitForSelector('#analysis[data-study="done"]', { timeout: LONG });
    await page.waitForFunction(() => window.__dough?.analysis, null, { timeout: LONG });
    await page.waitForTimeout(500);
    const traced = async (what, act) => {
      await browser.startTracing(page, { path: traceFile, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink', 'cc'] });
      await act();
      await page.waitForTimeout(300);
      await browser.stopTracing();
      report(`${model}, run ${run}: ${what}`);
    };
    for (const sigma of ['1', '2']) {
      await traced(`smoothing set to ${sigma} (statistics in a worker, the analysis view redrawn)`, async () => {
        await page.fill('#sigma-input', sigma);
        await page.dispatchEvent('#sigma-input', 'change');
        await page.waitForFunction((v) => window.__dough.analysis.abstraction.sigma === Number(v), sigma, { timeout: LONG });
      });
    }
    await page.evaluate(() => { document.querySelector('#train-panel').open = true; });
    await page.waitForTimeout(300);
    await traced('a training-recipe field changed', async () => {
      await page.fill('#train-epochs', '3');
      await page.dispatchEvent('#train-epochs', 'change');
      await page.waitForFunction(() => location.search.includes('train-epochs=3'), null, { timeout: LONG });
    });
    await browser.close();
    continue;
  } else {
    await page.goto(`${origin}/?backend=${backend}&model=${model}&input=noise&seed=1`);
    await page.waitForSelector('#app[data-status="done"]', { timeout: LONG });
    await page.waitForTimeout(500);
    // Trace a second gallery, from the change of seed to its last row.
    await browser.startTracing(page, { path: traceFile, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink', 'cc'] });
    await page.fill('#seed-input', '2');
    await page.dispatchEvent('#seed-input', 'change');
    await page.waitForFunction(() => window.__dough?.seed === 2, null, { timeout: LONG });
    await page.waitForSelector('#app[data-status="done"]', { timeout: LONG });
    await page.waitForTimeout(300);
  }
  await browser.stopTracing();
  await browser.close();
  report(`${model} gallery, run ${run}${throttle > 1 ? ` (main thread ${throttle}x slower)` : ''}`);
}

/// The main thread's longest tasks in the trace just written, and what filled them.
function report(what) {
  const trace = JSON.parse(fs.readFileSync(traceFile, 'utf8'));
  const events = trace.traceEvents || trace;
  const main = new Set(events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const onMain = events.filter((e) => main.has(`${e.pid}:${e.tid}`) && e.ph === 'X');
  const tasks = onMain.filter((e) => e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask').sort((a, b) => b.dur - a.dur);
  const over = (ms) => tasks.filter((t) => t.dur > ms * 1000).length;
  console.log(`[${backend}] ${what}: ${tasks.length} main-thread tasks, longest ${(tasks[0].dur / 1000).toFixed(1)} ms, ${over(16)} over 16 ms, ${over(12)} over 12 ms`);
  for (const t of tasks.slice(0, 3)) {
    const inside = {};
    for (const e of onMain) {
      if (e !== t && e.ts >= t.ts && e.ts + e.dur <= t.ts + t.dur && e.dur > 1000) inside[e.name] = (inside[e.name] || 0) + e.dur;
    }
    const top = Object.entries(inside).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, d]) => `${k} ${(d / 1000).toFixed(1)}`);
    console.log(`  ${(t.dur / 1000).toFixed(1)} ms: ${top.join(' | ')}`);
  }
}
server.close();
