// Seconds per epoch of "Train your own network" in headless Chromium, and the accuracy reached:
//   node tests/train-bench.mjs cpu|webgpu [extra URL keys]
// e.g. `node tests/train-bench.mjs cpu` trains the default recipe (MLP 784-256-128-10, 12
// epochs) on the CPU backend; `node tests/train-bench.mjs webgpu train-epochs=2` two epochs on
// WebGPU (in headless Chromium that is SwiftShader, a software adapter). Needs dist/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [backend = 'cpu', extra = ''] = process.argv.slice(2);
const DIST = path.resolve(import.meta.dirname, '..', 'dist');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', ...(backend === 'webgpu' ? ['--enable-unsafe-webgpu'] : [])];

const server = await serve(DIST, 0);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dough-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
try {
  const page = await ctx.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/?backend=${backend}&train=run${extra ? `&${extra}` : ''}`);
  await page.waitForSelector('#train-panel[data-train-status="done"], #train-panel[data-train-status="error"]', { timeout: 3_600_000 });
  const run = await page.evaluate(() => window.__doughTrain);
  const used = await page.getAttribute('#app', 'data-backend');
  const epochs = run.snapshots.filter((s) => s.epoch > 0);
  for (const s of run.snapshots) console.log(`epoch ${s.epoch}: accuracy ${(s.test_accuracy * 100).toFixed(2)}%, ${s.seconds.toFixed(2)} s, identified ${s.identified}/10, margin ${s.margin.toFixed(3)}`);
  const mean = epochs.reduce((a, s) => a + s.seconds, 0) / epochs.length;
  console.log(`${run.model} on ${used}: ${mean.toFixed(2)} s per epoch (mean of ${epochs.length}), final accuracy ${(epochs.at(-1).test_accuracy * 100).toFixed(2)}%`);
  if (await page.$('#train-floor')) console.log(await page.textContent('#train-floor'));
} finally {
  await ctx.close();
  server.close();
}
