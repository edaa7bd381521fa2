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
    try {
      await page.goto(`${origin}/?bench=${arch}&backend=${webgpu ? 'webgpu' : 'cpu'}`);
      await page.waitForSelector('#app[data-status="done"], #app[data-status="error"]', { state: 'attached', timeout: 1_200_000 });
      const ms = await page.getAttribute('#app', 'data-bench-ms-per-step');
      const backend = await page.getAttribute('#app', 'data-backend');
      const detail = (await page.textContent('main')).replace(/\s+/g, ' ');
      console.log(`${arch} on ${backend}: ${ms} ms/step (${(1000 / Number(ms)).toFixed(2)} steps/s) | ${detail.slice(0, 160)}`);
    } catch (e) {
      console.log(`${arch} on ${webgpu ? 'webgpu' : 'cpu'}: failed: ${e.message.split('\n')[0]}`);
    }
    await page.close();
  }
  await ctx.close();
}
server.close();
