// Screenshots of the built site (dist/) at phone, desktop and projector sizes, for reviewing the
// layout: node scripts/screenshots.mjs [all|phone|draw|proj|proj2|phonepres|desk]  (OUT=dir, default /tmp).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../tests/serve.mjs';
const server = await serve('dist', 0);
const base = `http://127.0.0.1:${server.address().port}/`;
const ctx = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'dough-shots-')), { executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
async function shot(name, w, h, query, act, full = true) {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: w, height: h });
  await page.goto(base + query);
  await page.waitForSelector('#app[data-status="done"]', { timeout: 120000 });
  if (act) await act(page);
  await page.waitForTimeout(400);
  await page.screenshot({ path: `${process.env.OUT || '/tmp'}/${name}.png`, fullPage: full });
  await page.close();
}
const draw = async (page) => {
  await page.click('#draw-panel summary');
  const box = await page.locator('#draw-canvas').boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.25);
  await page.mouse.down();
  for (let k = 0; k <= 20; k++) { const t = k / 20 * Math.PI * 2; await page.mouse.move(box.x + box.width * (0.5 + 0.2 * Math.sin(t)), box.y + box.height * (0.5 - 0.28 * Math.cos(t))); }
  await page.mouse.up();
  await page.waitForFunction(() => /The network sees/.test(document.querySelector('#draw-prediction').textContent));
  await page.click('#draw-attack');
  await page.waitForFunction(() => window.__dough?.input === 'custom', null, { timeout: 120000 });
  await page.waitForSelector('#app[data-status="done"]');
  await page.$eval('#scrub', (el) => { el.value = String(Math.floor(el.max / 2)); el.dispatchEvent(new Event('input', { bubbles: true })); });
};
const present = async (page) => {
  await page.waitForSelector('#analysis[data-study="done"]', { timeout: 120000 });
  await page.keyboard.press('p');
  await page.keyboard.press('ArrowRight');
};
const which = process.argv[2] || 'all';
if (which === 'all' || which === 'phone') await shot('phone-gallery', 390, 844, '', null);
if (which === 'all' || which === 'draw') await shot('phone-draw', 390, 844, '', draw);
if (which === 'all' || which === 'proj') await shot('projector-presentation', 1920, 1080, '?analysis=1', present, false);
if (which === 'all' || which === 'proj2') await shot('projector-presentation-full', 1920, 1080, '?analysis=1', present, true);
if (which === 'all' || which === 'phonepres') await shot('phone-presentation', 390, 844, '', async (page) => { await page.keyboard.press('p'); }, false);
if (which === 'all' || which === 'desk') await shot('desktop-draw', 1280, 900, '', draw, false);
await ctx.close(); server.close();
