// Screenshots of the built site (dist/) for reviewing the layout, at 1280x800 (laptop), 1920x1080
// and 1366x768 (presentation mode), and 390x844 (phone), on the CPU and with WebGPU (SwiftShader),
// light and dark, the story and the kneading: node scripts/screenshots.mjs [name-filter]
// (OUT=dir, default docs/screenshots).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../tests/serve.mjs';

const OUT = process.env.OUT || 'docs/screenshots';
fs.mkdirSync(OUT, { recursive: true });
const server = await serve('dist', 0);
const base = `http://127.0.0.1:${server.address().port}/`;
const contexts = {};
async function context(kind) {
  if (!contexts[kind]) {
    const opts = kind === 'phone' ? { hasTouch: true, isMobile: true, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 } : {};
    contexts[kind] = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'dough-shots-')), {
      executablePath: '/usr/bin/chromium', headless: true,
      args: ['--no-sandbox', '--disable-quic', '--no-first-run', ...(kind === 'webgpu' ? ['--enable-unsafe-webgpu'] : [])], ...opts,
    });
  }
  return contexts[kind];
}
const settle = (page) => page.waitForSelector('#app[data-status="done"]', { timeout: 240000 });
const still = (page) => page.waitForFunction(() => document.querySelector('#scrubber')?.dataset.playing !== 'true', null, { timeout: 30000 });

async function shot(name, { w, h, query = '', kind = 'cpu', act, full = false, live = false }) {
  const filter = process.argv[2];
  if (filter && !name.includes(filter)) return;
  const page = await (await context(kind)).newPage();
  if (kind !== 'phone') await page.setViewportSize({ width: w, height: h });
  await page.goto(base + query);
  if (live) {
    // Mid-run: the live columns a third of the way into the run's steps.
    if (act) await act(page);
    await page.waitForFunction(() => {
      const g = document.querySelector('#live-grid');
      return g && Number(g.dataset.liveStep) >= 20;
    }, null, { timeout: 240000 });
    await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: full });
    console.log(`${OUT}/${name}.png`);
    return page.close();
  }
  await settle(page);
  await still(page);
  if (act) await act(page);
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: full });
  console.log(`${OUT}/${name}.png`);
  await page.close();
}

const present = async (page) => { await page.keyboard.press('p'); await page.waitForSelector('#app.presenting'); };
const study = (page) => page.waitForSelector('#analysis[data-study="done"]', { timeout: 240000 });
const midway = async (page) => {
  await page.$eval('#scrub', (el) => { el.value = String(Math.floor(el.max / 3)); el.dispatchEvent(new Event('input', { bubbles: true })); });
};
const draw = async (page) => {
  await page.click('#draw-panel summary');
  const canvas = page.locator('#draw-canvas');
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  const cdp = await page.context().newCDPSession(page);
  const at = (k) => { const t = k / 20 * Math.PI * 2; return [{ x: box.x + box.width * (0.5 + 0.2 * Math.sin(t)), y: box.y + box.height * (0.5 - 0.28 * Math.cos(t)), id: 1 }]; };
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(0) });
  for (let k = 1; k <= 20; k++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: at(k) });
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await page.waitForFunction(() => /The network sees/.test(document.querySelector('#draw-prediction').textContent));
};

await shot('laptop-1280x800', { w: 1280, h: 800 });
await shot('laptop-1280x800-webgpu', { w: 1280, h: 800, kind: 'webgpu' });
await shot('laptop-1280x800-kneading', { w: 1280, h: 800, query: '?input=noise&seed=2', act: midway });
await shot('laptop-1280x800-kneading-live', { w: 1280, h: 800, query: '?model=mnist-lenet&input=noise&seed=2', live: true });
await shot('laptop-1280x800-webgpu-kneading-live', { w: 1280, h: 800, kind: 'webgpu', query: '?backend=webgpu&input=noise&seed=2', live: true });
await shot('projector-1920x1080-kneading-live', { w: 1920, h: 1080, query: '?model=mnist-lenet&input=noise&seed=2', live: true, act: async (p) => { await p.waitForSelector('#app'); await present(p); } });
await shot('laptop-1280x800-analysis-full', { w: 1280, h: 800, query: '?analysis=1', act: study, full: true });
await shot('laptop-1280x800-story-2', { w: 1280, h: 800, query: '?story=2' });
await shot('projector-1920x1080-presentation', { w: 1920, h: 1080, query: '?analysis=1', act: async (p) => { await study(p); await present(p); } });
await shot('projector-1920x1080-presentation-dark', { w: 1920, h: 1080, query: '?analysis=1', act: async (p) => { await study(p); await present(p); await p.keyboard.press('l'); } });
await shot('projector-1920x1080-story-6', { w: 1920, h: 1080, query: '?story=6', act: async (p) => { await study(p); await present(p); } });
await shot('projector-1920x1080-webgpu-presentation', { w: 1920, h: 1080, kind: 'webgpu', act: present });
await shot('laptop-1366x768-presentation', { w: 1366, h: 768, act: present });
await shot('laptop-1366x768-fashion-presentation', { w: 1366, h: 768, query: '?dataset=fashion-mnist', act: present });
const plantCheck = async (page) => {
  await page.waitForSelector('#plant-known', { timeout: 240000 });
  await page.locator('#plant-check').scrollIntoViewIfNeeded();
};
await shot('laptop-1280x800-plant-check-trained', { w: 1280, h: 800, query: '?analysis=1&train=run&train-arch=mlp:64&train-epochs=1&train-batch=32&train-shift=0&train-seed=3&train-plant=backdoor&train-plant-class=7&train-plant-share=0.1', act: plantCheck });
await shot('laptop-1280x800-plant-check-zoo', { w: 1280, h: 800, query: '?model=mnist-lenet-backdoor&analysis=1', act: plantCheck });
const doughDone = async (page) => {
  await page.waitForSelector('#train-panel[data-train-status="done"]', { timeout: 240000 });
  await page.locator('#train-dough-result').scrollIntoViewIfNeeded();
};
await shot('laptop-1280x800-train-on-dough', { w: 1280, h: 800, query: '?model=mnist-mlp-robust&train=run&train-arch=mlp:64&train-epochs=3&train-batch=32&train-shift=0&train-seed=3&train-dough=500', act: doughDone });
const comparePatterns = async (page) => {
  await page.waitForSelector('#compare-patterns[data-status="done"]', { timeout: 240000 });
  await page.waitForFunction(() => window.__dough?.compare_patterns, null, { timeout: 60000 });
  await page.locator('#compare-patterns').scrollIntoViewIfNeeded();
};
await shot('laptop-1280x800-compare', { w: 1280, h: 800, query: '?compare=mnist-mlp-robust', act: comparePatterns });
const overviewDone = async (page) => {
  await page.waitForSelector('#overview[data-overview="done"]', { timeout: 600000 });
  await page.locator('#overview-persistence').scrollIntoViewIfNeeded();
};
await shot('laptop-1280x800-overview', { w: 1280, h: 800, query: '?overview=mnist-mlp,mnist-mlp-robust,mnist-mlp-s2,mnist-lenet&target=3', act: overviewDone });
await shot('phone-390x844', { kind: 'phone' });
await shot('phone-390x844-full', { kind: 'phone', full: true });
await shot('phone-390x844-draw', { kind: 'phone', act: draw });
await shot('phone-390x844-kneading-live', { kind: 'phone', query: '?model=mnist-lenet&input=noise&seed=2', live: true });
await shot('phone-390x844-story-3', { kind: 'phone', query: '?story=3' });
for (const c of Object.values(contexts)) await c.close();
server.close();
