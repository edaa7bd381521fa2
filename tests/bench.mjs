// Runs the page's benchmark (?bench=mlp|cnn) in headless Chromium on both backends and prints
// milliseconds per attack step. Not a test: numbers only.   node tests/bench.mjs [mlp cnn]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const archs = process.argv.slice(2).length ? process.argv.slice(2) : ['mlp', 'cnn'];
const server = await serve(path.resolve(import.meta.dirname, '..', 'dist'), 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

for (const webgpu of [true, false]) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dough-bench-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: [...FLAGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : [])],
  });
  for (const arch of archs) {
    const page = await ctx.newPage();
    await page.goto(`${origin}/?bench=${arch}`);
    await page.waitForSelector('#app[data-status="done"], #app[data-status="error"]', { timeout: 600_000 });
    const ms = await page.getAttribute('#app', 'data-bench-ms-per-step');
    const backend = await page.getAttribute('#app', 'data-backend');
    const detail = await page.textContent('main');
    console.log(`${arch} on ${backend}: ${ms} ms/step (${(1000 / Number(ms)).toFixed(1)} steps/s)  | ${detail.replace(/\s+/g, ' ').slice(0, 160)}`);
    await page.close();
  }
  await ctx.close();
}
server.close();
