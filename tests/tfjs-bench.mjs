// TensorFlow.js 4.22 (webgpu backend) on the workload of `?bench=mlp`, for a side-by-side figure
// on the same adapter (headless Chromium's SwiftShader here). Numbers only: not a test, not run by
// CI. Installs @tensorflow/tfjs and @tensorflow/tfjs-backend-webgpu 4.22.0 from npm into
// target/tfjs-bench/ (git-ignored) on first use.   node tests/tfjs-bench.mjs
// The workload: MLP 784-256-128-10 (ReLU), batch 160, inputs at 0.5, targets i mod 10; a step is
// the forward pass, log-softmax cross-entropy to the targets, the gradient w.r.t. the input, an
// L2-normalised step of 0.05 and the clamp to [0, 1]. 3 warm-up steps and a read, then 50 timed
// steps and a read, as dough_core::bench does. Runs on the main thread and in a dedicated worker.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const VERSION = '4.22.0';
const dir = path.resolve(import.meta.dirname, '..', 'target', 'tfjs-bench');
const mods = path.join(dir, 'node_modules', '@tensorflow');
if (!fs.existsSync(path.join(mods, 'tfjs-backend-webgpu', 'package.json'))) {
  fs.mkdirSync(dir, { recursive: true });
  console.log(`installing @tensorflow/tfjs@${VERSION} and @tensorflow/tfjs-backend-webgpu@${VERSION} into ${dir}`);
  execFileSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save',
    `@tensorflow/tfjs@${VERSION}`, `@tensorflow/tfjs-backend-webgpu@${VERSION}`], { stdio: 'inherit' });
}

// The workload, shared by the page and the worker (stringified into both).
async function workload(tf) {
  await tf.setBackend('webgpu');
  await tf.ready();
  const B = 160, sizes = [784, 256, 128, 10], steps = 50;
  const W = [], b = [];
  for (let i = 0; i < 3; i++) {
    const lim = Math.sqrt(6 / sizes[i]);
    W.push(tf.randomUniform([sizes[i], sizes[i + 1]], -lim, lim, 'float32', i));
    b.push(tf.zeros([sizes[i + 1]]));
  }
  const onehot = tf.oneHot(tf.tensor1d([...Array(B).keys()].map((i) => i % 10), 'int32'), 10).toFloat();
  const loss = (x) => {
    let h = x;
    for (let i = 0; i < 3; i++) {
      h = tf.add(tf.matMul(h, W[i]), b[i]);
      if (i < 2) h = tf.relu(h);
    }
    return tf.neg(tf.sum(tf.mul(tf.logSoftmax(h), onehot)));
  };
  const grad = tf.grad(loss);
  let x = tf.fill([B, 784], 0.5);
  const step = () => {
    const next = tf.tidy(() => {
      const g = grad(x);
      const norm = tf.add(tf.sqrt(tf.sum(tf.square(g), 1, true)), 1e-12);
      return tf.clipByValue(tf.sub(x, tf.mul(tf.div(g, norm), 0.05)), 0, 1);
    });
    x.dispose();
    x = next;
  };
  for (let i = 0; i < 3; i++) step();
  await x.data();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const data = await x.data();
  const ms = (performance.now() - t0) / steps;
  let sum = 0;
  for (const v of data) sum += v;
  return { ms, checksum: sum / data.length, backend: tf.getBackend() };
}

const SCRIPTS = ['tfjs/dist/tf.min.js', 'tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js'];
const PAGE = `<!DOCTYPE html><meta charset="utf-8"><title>tfjs bench</title>
${SCRIPTS.map((s) => `<script src="/tf/${s}"></script>`).join('\n')}
<script>
const workload = ${workload.toString()};
async function main() {
  const where = new URLSearchParams(location.search).get('where');
  try {
    if (where === 'worker') {
      const src = ${JSON.stringify(SCRIPTS.map((s) => `/tf/${s}`))}.map((s) => 'importScripts(' + JSON.stringify(location.origin + s) + ');').join('\\n')
        + '\\nconst workload = ' + workload.toString() + ';\\nworkload(tf).then((r) => postMessage(r), (e) => postMessage({ error: String(e) }));';
      const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
      window.result = await new Promise((resolve) => { w.onmessage = (e) => resolve(e.data); w.onerror = (e) => resolve({ error: e.message }); });
    } else {
      window.result = await workload(tf);
    }
  } catch (e) { window.result = { error: String(e) }; }
}
main();
</script>`;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x').pathname;
  if (url.startsWith('/tf/')) {
    const file = path.join(mods, url.slice(4));
    if (!file.startsWith(mods) || !fs.existsSync(file)) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'Content-Type': 'text/javascript' });
    return res.end(fs.readFileSync(file));
  }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(PAGE);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

for (const where of ['worker', 'main']) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-bench-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'],
  });
  const page = await ctx.newPage();
  await page.goto(`${origin}/?where=${where}`);
  await page.waitForFunction(() => window.result, null, { timeout: 1_200_000, polling: 500 });
  const r = await page.evaluate(() => window.result);
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a ? `${a.info?.vendor || ''} ${a.info?.architecture || ''}`.trim() : 'no adapter';
  });
  if (r.error) console.log(`tfjs ${VERSION} mlp, ${where === 'main' ? 'main thread' : 'dedicated worker'}: failed: ${r.error}`);
  else console.log(`tfjs ${VERSION} mlp on ${r.backend} (${adapter}), ${where === 'main' ? 'main thread' : 'dedicated worker'}: ${r.ms.toFixed(1)} ms/step (checksum ${r.checksum.toFixed(5)})`);
  await ctx.close();
}
server.close();
