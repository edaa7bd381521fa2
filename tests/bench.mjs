// Runs the page's benchmark (?bench=mlp|cnn) in headless Chromium and prints milliseconds per
// attack step. Not a test: numbers only.
//   node tests/bench.mjs [mlp cnn]
// Environment (all optional):
//   BACKENDS=webgpu,cpu   which backends, in this order (WebGPU means --enable-unsafe-webgpu)
//   ROUNDS=1              repeat everything; with more than one round, the median is printed too
//   DISTS=dist            built sites to compare, ':'-separated (for example an older build's
//                         dist and this one); each round runs them in turn, so that a busy
//                         machine weighs on both alike
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const root = path.resolve(import.meta.dirname, '..');
const archs = process.argv.slice(2).length ? process.argv.slice(2) : ['mlp', 'cnn'];
const backends = (process.env.BACKENDS || 'webgpu,cpu').split(',');
const rounds = Number(process.env.ROUNDS || 1);
const dists = (process.env.DISTS || 'dist').split(':').map((d) => path.resolve(root, d));
const servers = await Promise.all(dists.map((d) => serve(d, 0)));
const FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const results = {};

for (let round = 1; round <= rounds; round++) {
  for (const backend of backends) {
    const webgpu = backend === 'webgpu';
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dough-bench-'));
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
      args: [...FLAGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : [])],
    });
    for (const arch of archs) {
      for (const [i, server] of servers.entries()) {
        const label = `${arch} on ${backend}${dists.length > 1 ? ` [${path.relative(root, dists[i]) || '.'}]` : ''}`;
        const page = await ctx.newPage();
        try {
          await page.goto(`http://127.0.0.1:${server.address().port}/?bench=${arch}&backend=${backend}`);
          await page.waitForSelector('#app[data-status="done"], #app[data-status="error"]', { state: 'attached', timeout: 1_200_000 });
          const ms = Number(await page.getAttribute('#app', 'data-bench-ms-per-step'));
          const ran = await page.getAttribute('#app', 'data-backend');
          const detail = (await page.textContent('main')).replace(/\s+/g, ' ');
          console.log(`${label} (ran on ${ran}), round ${round}: ${ms} ms/step (${(1000 / ms).toFixed(2)} steps/s) | ${detail.slice(0, 160)}`);
          (results[label] ??= []).push(ms);
        } catch (e) {
          console.log(`${label}, round ${round}: failed: ${e.message.split('\n')[0]}`);
        }
        await page.close();
      }
    }
    await ctx.close();
  }
}
if (rounds > 1) {
  for (const [label, v] of Object.entries(results)) {
    const s = [...v].sort((a, b) => a - b);
    console.log(`median ${label}: ${s[Math.floor(s.length / 2)]} ms/step over ${s.length} runs (${s.join(', ')})`);
  }
}
servers.forEach((s) => s.close());
