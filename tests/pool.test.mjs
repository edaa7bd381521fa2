// The pool of CPU workers (`workers=`): the same numbers as one worker, a killed worker replaced
// mid-overview, Cancel stopping every slice in the workers, the study's statistics off the main
// thread, and the pool's faults (a worker that never starts, a model that arrives corrupt).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from './serve.mjs';
import { LONG, openPage, settled, startSite } from './page.mjs';

let server;
let origin;
let ctx;
before(async () => {
  ({ server, origin, ctx } = await startSite(serve));
});
after(async () => { await ctx?.close(); server?.close(); });

async function rows(page) {
  return page.$$eval('tr.gallery-row', (trs) => trs.map((tr) => ({
    target: Number(tr.dataset.target), predicted: Number(tr.dataset.predicted),
    confidence: Number(tr.dataset.confidence), steps: Number(tr.dataset.steps),
  })));
}

/// The published gallery (every row's numbers and images).
async function published(page) {
  return page.evaluate(() => JSON.parse(JSON.stringify(window.__dough)));
}

function sameRows(a, b, label) {
  assert.equal(a.length, b.length, `${label}: row count`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].target, b[i].target, `${label} row ${i} target`);
    assert.equal(a[i].predicted, b[i].predicted, `${label} row ${i} predicted`);
    assert.equal(a[i].steps, b[i].steps, `${label} row ${i} steps`);
    assert.equal(a[i].reached, b[i].reached, `${label} row ${i} reached`);
    worst = Math.max(worst, Math.abs(a[i].confidence - b[i].confidence));
    for (let p = 0; p < a[i].adversarial.length; p++) worst = Math.max(worst, Math.abs(a[i].adversarial[p] - b[i].adversarial[p]));
  }
  assert.ok(worst <= 1e-4, `${label}: confidences or pixels differ by ${worst}`);
  return worst;
}

describe('pool of CPU workers', () => {
  test('workers=1 and workers=2 give the same gallery and the same study (seeds=2)', async () => {
    const out = {};
    for (const n of [1, 2]) {
      const { page, errors } = await openPage(ctx, origin, `?backend=cpu&input=noise&seed=3&analysis=1&seeds=2&workers=${n}`);
      assert.equal(await settled(page), 'done');
      await page.waitForSelector('#analysis[data-study="done"]', { timeout: LONG });
      // window.__dough.analysis is published a frame after the views.
      await page.waitForFunction(() => window.__dough?.analysis, null, { timeout: 10_000 });
      assert.equal(await page.getAttribute('#app', 'data-workers'), String(n));
      assert.match(await page.textContent('#backend-line'), n === 1 ? /· 1 worker$/ : /· 2 workers$/);
      out[n] = { gallery: await published(page), analysis: await page.evaluate(() => window.__dough.analysis), rows: await rows(page) };
      assert.deepEqual(errors, []);
      await page.close();
    }
    const worst = sameRows(out[1].gallery.rows, out[2].gallery.rows, 'gallery');
    assert.deepEqual(out[1].rows.map((r) => r.steps), out[2].rows.map((r) => r.steps));
    const [a, b] = [out[1].analysis, out[2].analysis];
    let m = 0;
    a.result.model.vs_dataset.matrix.forEach((row, i) => row.forEach((v, j) => { m = Math.max(m, Math.abs(v - b.result.model.vs_dataset.matrix[i][j])); }));
    assert.ok(m <= 1e-4, `study matrices differ by ${m}`);
    assert.deepEqual(a.result.p_values, b.result.p_values);
    assert.deepEqual(a.replicated.model.p_value, b.replicated.model.p_value);
    assert.ok(Math.abs(a.replicated.model.identification.mean - b.replicated.model.identification.mean) <= 1e-6);
    console.log(`  gallery: largest difference between 1 and 2 workers ${worst.toExponential(2)}; study matrix ${m.toExponential(2)}`);
  });

  test('a worker killed mid-overview is replaced, and the overview equals the one-worker one', async () => {
    const models = 'mnist-mlp,mnist-mlp-s2,mnist-mlp-robust';
    const out = {};
    for (const [n, extra] of [[1, ''], [2, '&debug=panic-pool']]) {
      // target=3: the gallery is one row, so the second worker's first run is in the overview.
      const { page, errors } = await openPage(ctx, origin, `?backend=cpu&target=3&overview=${models}&workers=${n}${extra}`);
      assert.equal(await settled(page), 'done');
      await page.waitForSelector('#overview[data-overview="done"], #overview[data-overview="error"]', { timeout: LONG });
      assert.equal(await page.getAttribute('#overview', 'data-overview'), 'done', await page.textContent('#overview'));
      out[n] = await page.evaluate(() => window.__dough.overview);
      if (extra) {
        assert.equal(await page.getAttribute('#app', 'data-recovered'), 'pool-worker');
        assert.match(await page.textContent('ul.notices'), /Compute worker 2 stopped; a fresh one took over/);
        assert.equal(await page.getAttribute('#app', 'data-workers'), '2');
      }
      assert.deepEqual(errors.filter((e) => !/test-only fault/.test(e)), []);
      await page.close();
    }
    assert.deepEqual(out[2].models, out[1].models);
    let worst = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      worst = Math.max(worst, Math.abs(out[1].persistence[i][j].identification.mean - out[2].persistence[i][j].identification.mean),
        Math.abs(out[1].transfer[i][j].mean - out[2].transfer[i][j].mean));
      assert.equal(out[1].persistence[i][j].p_value, out[2].persistence[i][j].p_value);
    }
    assert.ok(worst <= 1e-4, `overviews differ by ${worst}`);
  });

  test('Cancel stops every slice in the workers, not just on the page', async () => {
    const { page, errors } = await openPage(ctx, origin, '?backend=cpu&model=mnist-lenet&input=noise&workers=2');
    await page.waitForSelector('#app[data-status="running"]', { timeout: LONG });
    await page.waitForFunction(() => Number(document.querySelector('#attack-progress')?.value ?? 0) >= 0 && /step [1-9]/.test(document.querySelector('.progress-text')?.textContent ?? ''), null, { timeout: LONG });
    await page.click('#cancel');
    assert.equal(await page.getAttribute('#app', 'data-status'), 'cancelled');
    // Each worker answers its slice's Cancel when it stops.
    await page.waitForFunction(() => (window.__doughStops ?? 0) >= 2, null, { timeout: 60_000 });
    assert.equal(await page.evaluate(() => window.__doughStops), 2);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('the study\'s statistics recompute in a worker: changing the smoothing makes no long task', async () => {
    const { page, errors } = await openPage(ctx, origin, '?backend=cpu&analysis=1&seeds=3');
    assert.equal(await settled(page), 'done');
    await page.waitForSelector('#analysis[data-study="done"]', { timeout: LONG });
    // window.__dough.analysis is published a frame after the views.
    await page.waitForFunction(() => window.__dough?.analysis, null, { timeout: 10_000 });
    await page.evaluate(() => {
      window.__long = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask' });
    });
    const before = await page.evaluate(() => window.__dough.analysis.result.model.vs_dataset.margin);
    for (const sigma of ['1', '2']) {
      await page.fill('#sigma-input', sigma);
      await page.dispatchEvent('#sigma-input', 'change');
      await page.waitForFunction((s) => window.__dough.analysis.abstraction.sigma === Number(s), sigma, { timeout: 20_000 });
    }
    assert.notEqual(await page.evaluate(() => window.__dough.analysis.result.model.vs_dataset.margin), before);
    const long = await page.evaluate(() => window.__long);
    console.log(`  long tasks while the statistics recomputed twice: ${JSON.stringify(long)}`);
    assert.deepEqual(long, [], 'no main-thread task over 50 ms');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('bad workers= values get a notice; a worker that never starts and a model that arrives corrupt are recovered', async () => {
    for (const [q, want, notice] of [['workers=0', '1', /workers=0 is out of range 1-8; using 1/], ['workers=two', '1', /workers="two" is not a whole number/]]) {
      const { page, errors } = await openPage(ctx, origin, `?backend=cpu&${q}`);
      assert.equal(await settled(page), 'done');
      assert.equal(await page.getAttribute('#app', 'data-workers'), want);
      assert.match(await page.textContent('ul.notices'), notice);
      assert.deepEqual(errors, []);
      await page.close();
    }
    const reference = await (async () => {
      const { page } = await openPage(ctx, origin, '?backend=cpu&input=gray&workers=1');
      assert.equal(await settled(page), 'done');
      const r = await published(page);
      await page.close();
      return r;
    })();
    {
      const { page, errors } = await openPage(ctx, origin, '?backend=cpu&input=gray&workers=2&debug=corrupt-model');
      assert.equal(await settled(page), 'done');
      assert.equal(await page.getAttribute('#app', 'data-workers'), '2');
      sameRows(reference.rows, (await published(page)).rows, 'corrupt-model');
      assert.deepEqual(errors, []);
      await page.close();
    }
    {
      const { page, errors } = await openPage(ctx, origin, '?backend=cpu&input=gray&workers=2&debug=silent-worker');
      assert.equal(await settled(page, LONG), 'done');
      assert.equal(await page.getAttribute('#app', 'data-workers'), '1');
      assert.match(await page.textContent('ul.notices'), /Compute worker 2 of 2 did not start .*did not say it was ready within 20 s.*runs on 1 worker/);
      sameRows(reference.rows, (await published(page)).rows, 'silent-worker');
      assert.deepEqual(errors, []);
      await page.close();
    }
  });
});
