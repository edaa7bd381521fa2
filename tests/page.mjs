// Shared by the browser test files: the built site, Debian's chromium with the project's flags,
// and how a test opens a page and waits for its gallery.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const DIST = path.resolve(import.meta.dirname, '..', 'dist');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
export const LONG = 240_000;

/// A fresh chromium profile; `webgpu` adds --enable-unsafe-webgpu (SwiftShader here).
export async function launch(webgpu, options = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dough-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : [])],
    ...options,
  });
}

/// Opens `origin/query` in a new tab of `ctx`, collecting console errors and page errors.
export async function openPage(ctx, origin, query = '') {
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/${query}`);
  return { page, errors };
}

/// Waits (at most `timeout` ms) until the gallery is done or failed; returns `#app`'s data-status.
export async function settled(page, timeout = LONG) {
  await page.waitForSelector('#app[data-status="done"], #app[data-status="error"]', { timeout });
  return page.getAttribute('#app', 'data-status');
}

/// Serves dist/ on a free port and starts a CPU-only browser (for a test file's `before`).
export async function startSite(serve) {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('dist/ is missing: run scripts/build-site.sh first');
  const server = await serve(DIST, 0);
  return { server, origin: `http://127.0.0.1:${server.address().port}`, ctx: await launch(false) };
}
