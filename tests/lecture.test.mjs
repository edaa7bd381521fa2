// The lecture-hall view: the ten class columns inside the first screen at laptop and projector
// sizes (bounding boxes, not pixels), a phone without horizontal scroll whose drawing canvas
// takes a finger, the guided story driven by its keys, the kneading playback (and reduced
// motion), and axe-core's serious and critical findings on the default view, presentation mode
// and a story step.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { serve } from './serve.mjs';
import { LONG, launch, openPage, settled, startSite } from './page.mjs';

const AXE = path.resolve(import.meta.dirname, '..', 'node_modules', 'axe-core', 'axe.min.js');

let server;
let origin;
let ctx;
before(async () => {
  ({ server, origin, ctx } = await startSite(serve));
});
after(async () => { await ctx?.close(); server?.close(); });

/// The boxes of the tiles of one kind (`data-tile`), in column order.
async function tiles(page, kind) {
  return page.$$eval(`[data-tile="${kind}"]`, (els) => els.map((el) => {
    const r = el.getBoundingClientRect();
    return { x: r.x, y: r.y, w: r.width, h: r.height };
  }));
}

function assertInside(boxes, vw, vh, min, label) {
  for (const [i, b] of boxes.entries()) {
    assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.w <= vw + 0.5 && b.y + b.h <= vh + 0.5, `${label} ${i} at ${JSON.stringify(b)} leaves the ${vw}x${vh} viewport`);
    assert.ok(b.w >= min && b.h >= min, `${label} ${i} is ${b.w.toFixed(1)}x${b.h.toFixed(1)} px, under ${min} px`);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      const apart = a.x + a.w <= b.x + 0.5 || b.x + b.w <= a.x + 0.5 || a.y + a.h <= b.y + 0.5 || b.y + b.h <= a.y + 0.5;
      assert.ok(apart, `${label} ${i} and ${j} overlap`);
    }
  }
}

async function axeFindings(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

/// Waits until the kneading that follows each run is over.
async function stillFrames(page) {
  await page.waitForFunction(() => document.querySelector('#scrubber')?.dataset.playing !== 'true', null, { timeout: 20000 });
}

describe('lecture-hall view', () => {
  for (const [w, h, presenting, min] of [[1280, 800, false, 40], [1920, 1080, true, 120], [1366, 768, true, 80]]) {
    test(`${w}x${h}${presenting ? ' presentation' : ''}: the ten columns fit the first screen`, async () => {
      const { page, errors } = await openPage(ctx, origin, '?backend=cpu');
      await page.setViewportSize({ width: w, height: h });
      assert.equal(await settled(page), 'done');
      if (presenting) {
        await page.keyboard.press('p');
        await page.waitForSelector('#app.presenting');
      }
      await page.evaluate(() => window.scrollTo(0, 0));
      const perturbations = await tiles(page, 'perturbation');
      assert.equal(perturbations.length, 10);
      assertInside(perturbations, w, h, min, 'perturbation');
      if (presenting) {
        const adversarial = await tiles(page, 'adversarial');
        const start = await tiles(page, 'start');
        assert.equal(start.length, 1, 'the shared start stands once');
        assertInside([...adversarial, ...start], w, h, min, 'adversarial/start');
      }
      const cols = await page.$$eval('.class-col', (els) => els.map((el) => ({ ...el.dataset })));
      assert.deepEqual(cols.map((c) => Number(c.target)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.ok(cols.every((c) => c.predicted !== undefined && c.confidence !== undefined && c.steps !== undefined), JSON.stringify(cols[0]));
      // The numbers table is one click away, with every row.
      if (!presenting) {
        assert.equal(await page.isVisible('tr.gallery-row'), false);
        await page.click('#numbers > summary');
        assert.equal(await page.locator('tr.gallery-row').count(), 10);
        assert.equal(await page.isVisible('tr.gallery-row'), true);
      }
      console.log(`  ${w}x${h}: perturbation tiles ${perturbations[0].w.toFixed(0)} px, bottom at ${Math.max(...perturbations.map((b) => b.y + b.h)).toFixed(0)} px`);
      assert.deepEqual(errors, []);
      await page.close();
    });
  }

  test('390x844 phone: no horizontal scroll, thumb-sized controls, a finger draws', async () => {
    const phone = await launch(false, { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
    try {
      const { page, errors } = await openPage(phone, origin, '?backend=cpu');
      assert.equal(await settled(page), 'done');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
      const small = await page.$$eval('button, select, summary', (els) => els.filter((el) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && (r.height < 44 || r.width < 44);
      }).map((el) => `${el.tagName}#${el.id}: ${el.getBoundingClientRect().height.toFixed(0)} px`));
      assert.deepEqual(small, [], 'tap targets under 44 px');
      assertInside(await tiles(page, 'perturbation'), 390, 100000, 40, 'perturbation');
      await page.click('#draw-panel summary');
      const canvas = page.locator('#draw-canvas');
      await canvas.scrollIntoViewIfNeeded();
      const box = await canvas.boundingBox();
      const before = await canvas.evaluate((c) => c.toDataURL());
      const scrollY = await page.evaluate(() => window.scrollY);
      const cdp = await phone.newCDPSession(page);
      const point = (k) => [{ x: box.x + box.width * 0.5, y: box.y + box.height * (0.2 + k * 0.05), id: 1 }];
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: point(0) });
      for (let k = 1; k <= 12; k++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: point(k) });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      await page.waitForFunction(() => /The network sees/.test(document.querySelector('#draw-prediction')?.textContent ?? ''), null, { timeout: 20000 });
      assert.notEqual(await canvas.evaluate((c) => c.toDataURL()), before, 'the stroke changed the drawing');
      assert.equal(await page.evaluate(() => window.scrollY), scrollY, 'drawing scrolled the page');
      assert.deepEqual(errors, []);
    } finally {
      await phone.close();
    }
  });

  test('the story: story=1, → six times, ← once, Esc keeps the state', async () => {
    const { page, errors } = await openPage(ctx, origin, '?backend=cpu&story=1');
    assert.equal(await settled(page), 'done');
    await page.waitForSelector('[data-story-step="1"]');
    assert.match(page.url(), /story=1/);
    const state = () => page.evaluate(() => ({
      url: location.search,
      model: window.__dough?.model,
      columns: document.querySelectorAll('.class-col').length,
      compare: document.querySelector('#app').dataset.compare ?? null,
      text: document.querySelector('#story .story-text')?.textContent ?? '',
    }));
    const want = {
      2: (s) => s.columns === 1 && /target=3/.test(s.url),
      3: (s) => s.columns === 10,
      4: (s) => /input=noise/.test(s.url) && s.columns === 10,
      5: (s) => /analysis=1/.test(s.url),
      6: (s) => s.model === 'mnist-mlp-robust' && /analysis=1/.test(s.url),
      7: (s) => s.model === 'mnist-mlp' && s.compare === 'mnist-lenet',
    };
    let last = await state();
    for (let n = 2; n <= 7; n++) {
      await page.keyboard.press('ArrowRight');
      await page.waitForSelector(`[data-story-step="${n}"]`);
      await page.waitForFunction((k) => new URLSearchParams(location.search).get('story') === String(k), n);
      await page.waitForFunction(() => !['loading', 'running'].includes(document.querySelector('#app').dataset.status), null, { timeout: LONG });
      let s = await state();
      for (let i = 0; i < 100 && !want[n](s); i++) {
        await page.waitForTimeout(200);
        s = await state();
      }
      assert.ok(want[n](s), `step ${n}: ${JSON.stringify(s)}`);
      assert.notEqual(s.url, last.url, `step ${n} changes the URL`);
      assert.ok(s.text.length > 80, `step ${n} has its paragraph`);
      last = s;
    }
    await page.keyboard.press('ArrowLeft');
    await page.waitForSelector('[data-story-step="6"]');
    await page.waitForFunction(() => window.__dough?.model === 'mnist-mlp-robust', null, { timeout: LONG });
    assert.deepEqual(await axeFindings(page), [], 'axe on a story step');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#story'));
    assert.doesNotMatch(page.url(), /story=/);
    assert.match(page.url(), /model=mnist-mlp-robust/, 'leaving keeps the state');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('Play kneads the columns through the frames and stops at the end; reduced motion shows the end', async () => {
    const { page, errors } = await openPage(ctx, origin, '?backend=cpu&input=noise&seed=2');
    assert.equal(await settled(page), 'done');
    await stillFrames(page);
    const shot = () => page.$eval('[data-tile="adversarial"]', (c) => c.toDataURL());
    const end = await shot();
    await page.keyboard.press(' ');
    const seen = new Set();
    const steps = new Set();
    for (let i = 0; i < 40; i++) {
      seen.add(await shot());
      steps.add(await page.textContent('#scrub-step'));
      if (await page.getAttribute('#scrubber', 'data-playing') !== 'true' && i > 0) break;
      await page.waitForTimeout(60);
    }
    assert.ok(steps.size >= 3, `the step shown changed ${steps.size} times: ${[...steps].join(', ')}`);
    assert.ok(seen.size >= 3, `the adversarial image changed ${seen.size} times`);
    await stillFrames(page);
    assert.equal(await shot(), end, 'the playback stops at the end state');
    await page.emulateMedia({ reducedMotion: 'reduce' });
    await page.$eval('#scrub', (el) => { el.value = '0'; el.dispatchEvent(new Event('input', { bubbles: true })); });
    assert.notEqual(await shot(), end);
    await page.keyboard.press(' ');
    assert.equal(await page.getAttribute('#scrubber', 'data-playing'), 'false');
    assert.equal(await shot(), end, 'reduced motion: the end state at once');
    assert.deepEqual(errors, []);
    await page.close();
  });

  /// Samples the live grid on every animation frame until the run ends: the steps shown, how
  /// many different perturbations the first and last columns showed, and whether each ended
  /// away from its first (blank) picture.
  async function watchLive(page) {
    return page.evaluate(() => new Promise((resolve) => {
      const steps = [];
      const first = new Set();
      const last = new Set();
      let firstAt0 = null;
      let lastAt0 = null;
      let columns = 0;
      let moved = [false, false];
      const l2 = [];
      const t0 = performance.now();
      const tick = () => {
        const status = document.querySelector('#app')?.dataset.status;
        const grid = document.querySelector('#live-grid');
        if (grid) {
          const tiles = grid.querySelectorAll('[data-tile="live-perturbation"]');
          columns = Math.max(columns, grid.querySelectorAll('.live-col').length);
          const step = Number(grid.dataset.liveStep);
          if (steps.at(-1) !== step) steps.push(step);
          const shown = grid.querySelector('.live-col .kneading');
          if (shown && l2.at(-1) !== Number(shown.dataset.l2)) l2.push(Number(shown.dataset.l2));
          if (tiles.length) {
            const a = tiles[0].toDataURL();
            const b = tiles[tiles.length - 1].toDataURL();
            if (firstAt0 === null) { firstAt0 = a; lastAt0 = b; }
            first.add(a);
            last.add(b);
            moved = [a !== firstAt0, b !== lastAt0];
          }
        }
        if (status === 'done' || status === 'error' || performance.now() - t0 > 170000) {
          resolve({ status, steps, first: first.size, last: last.size, moved, columns, l2 });
        } else {
          requestAnimationFrame(tick);
        }
      };
      tick();
    }));
  }

  test('while a run goes the columns knead live, from every pool worker; reduced motion does not animate', async () => {
    const query = '?backend=cpu&model=mnist-lenet&input=noise&seed=2&workers=2';
    const { page, errors } = await openPage(ctx, origin, query);
    const seen = await watchLive(page);
    assert.equal(seen.status, 'done');
    assert.equal(seen.columns, 10, 'ten live columns');
    const positive = seen.steps.filter((s) => s > 0);
    assert.ok(positive.length >= 2, `the live step changed ${positive.length} times: ${seen.steps.join(', ')}`);
    assert.deepEqual([...seen.steps].sort((a, b) => a - b), seen.steps, 'the steps only go forward');
    assert.ok(seen.first >= 2 && seen.last >= 2, `the first column showed ${seen.first} and the last ${seen.last} pictures`);
    assert.deepEqual(seen.moved, [true, true], "both workers' slices moved away from the start");
    assert.ok(seen.l2.length >= 2 && seen.l2.at(-1) > seen.l2[0], `the first column's live L2 grew: ${seen.l2.join(', ')}`);
    console.log(`  live: ${positive.length} frames, steps ${seen.steps.join(' ')}; first column ${seen.first} pictures, L2 ${seen.l2.map((v) => v.toFixed(2)).join(' ')}`);
    assert.equal(await page.$('#live-grid'), null, 'the live grid leaves when the run is done');
    assert.equal(await page.$$eval('.class-col', (els) => els.length), 10);
    assert.deepEqual(errors, []);
    await page.close();

    const still = await ctx.newPage();
    await still.emulateMedia({ reducedMotion: 'reduce' });
    await still.goto(`${origin}/${query}`);
    const calm = await watchLive(still);
    assert.equal(calm.status, 'done');
    assert.deepEqual(calm.steps, [], 'reduced motion: no live frames');
    await still.close();
  });

  test('axe-core: no serious or critical finding in the default view, presentation mode and the dark scheme', async () => {
    const { page, errors } = await openPage(ctx, origin, '?backend=cpu');
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.equal(await settled(page), 'done');
    await stillFrames(page);
    assert.deepEqual(await axeFindings(page), [], 'default view');
    await page.keyboard.press('p');
    await page.waitForSelector('#app.presenting');
    assert.deepEqual(await axeFindings(page), [], 'presentation mode');
    await page.keyboard.press('l');
    await page.waitForSelector('#app.dark');
    const bg = await page.$eval('#app', (el) => getComputedStyle(el).backgroundColor);
    assert.match(bg, /rgb\((\d|1\d|2\d), (\d|1\d|2\d), (\d|1\d|2\d)\)/, `the dark scheme's background is ${bg}`);
    assert.deepEqual(await axeFindings(page), [], 'presentation mode, dark');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
