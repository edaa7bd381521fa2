// Numbers for the compute worker (not a test): on both backends, the main thread's longest frame
// gap and long tasks during a gallery, Cancel's latency, the time to the first paint of the
// controls and to the first finished gallery, the calibration's cost, and the wasm sizes.
//   node tests/worker-bench.mjs        (after scripts/build-site.sh)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { instrument } from './marks.mjs';

const DIST = path.resolve(import.meta.dirname, '..', 'dist');
const server = await serve(DIST, 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const LONG = 600_000;

for (const f of fs.readdirSync(DIST).filter((n) => n.endsWith('.wasm'))) {
  const b = fs.readFileSync(path.join(DIST, f));
  console.log(`${f}: ${b.length} bytes raw, ${zlib.gzipSync(b, { level: 9 }).length} bytes gzip -9`);
}

async function settled(page) {
  await page.waitForSelector('#app[data-status="done"], #app[data-status="error"]', { timeout: LONG });
}

for (const webgpu of [false, true]) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dough-wbench-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: [...FLAGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : [])],
  });
  const backend = webgpu ? 'webgpu' : 'cpu';
  // The CNN on the CPU; on SwiftShader's WebGPU the MLP (a CNN gallery there takes minutes).
  const model = webgpu ? 'mnist-mlp' : 'mnist-cnn';
  const page = await ctx.newPage();
  await page.addInitScript(instrument);
  await page.goto(`${origin}/?backend=${backend}&model=${model}&input=noise&seed=1`);
  await settled(page);
  const m = await page.evaluate(() => window.__marks);
  console.log(`[${backend}] ${model}: controls painted at ${m.controls?.toFixed(0)} ms, worker ready at ${m.backend?.toFixed(0)} ms, first gallery at ${m.done?.toFixed(0)} ms after navigation`);
  await page.evaluate(() => { window.__watch = true; });
  await page.fill('#seed-input', '2');
  await page.dispatchEvent('#seed-input', 'change');
  await page.waitForFunction(() => window.__dough?.seed === 2, null, { timeout: LONG });
  await settled(page);
  const { gaps, long } = await page.evaluate(() => { window.__watch = false; return { gaps: window.__gaps, long: window.__long }; });
  gaps.sort((a, b) => b - a);
  const over = gaps.filter((g) => g > 16.7 * 1.5).length;
  console.log(`[${backend}] during a ${model} gallery: ${gaps.length} frames, longest frame gap ${gaps[0]?.toFixed(1)} ms, ${over} gaps over 25 ms, long tasks ${JSON.stringify(long.map(Math.round))}`);
  // Cancel latency in the middle of a long run.
  await page.goto(`${origin}/?backend=${backend}&model=${model}&steps=5000&step=0.001&kappa=1`);
  await page.waitForFunction(() => /step [1-9]/.test(document.querySelector('.progress-text')?.textContent ?? ''), null, { timeout: LONG });
  const cancel = await page.evaluate(() => new Promise((resolve) => {
    const app = document.querySelector('#app');
    const t0 = performance.now();
    const obs = new MutationObserver(() => { if (app.dataset.status === 'cancelled') { obs.disconnect(); resolve(performance.now() - t0); } });
    obs.observe(app, { attributes: true });
    document.querySelector('#cancel').click();
  }));
  console.log(`[${backend}] cancel latency: ${cancel.toFixed(1)} ms`);
  await page.close();
  if (webgpu) {
    const p = await ctx.newPage();
    await p.goto(`${origin}/?debug=calibrate`);
    await p.waitForFunction(() => window.__doughCalibration, null, { timeout: LONG });
    const cal = await p.evaluate(() => window.__doughCalibration);
    console.log(`[auto] calibration: ${JSON.stringify(cal)}; ${(await p.textContent('#backend-line')).trim()}`);
    await p.close();
  }
  await ctx.close();
}
server.close();
