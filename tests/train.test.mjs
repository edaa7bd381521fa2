// Browser tests of "Train your own network" on the CPU backend: a short run (MLP 784-32-10, one
// epoch of batches of 32 on the 20,000-image MNIST training pack, no shifts) reaches the accuracy floor,
// its filmstrip's last snapshot identifies more classes than the untrained network, its numbers
// match the native run (target/train-native.json, written by
// `cargo test -p dough-compute --features train --test train`), and the safetensors it downloads
// loads back through the upload form with identical outputs. Training has a worker of its own:
// a gallery started while it trains (here: paused) finishes without waiting for it.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve } from './serve.mjs';
import { DIST, launch, openPage, settled as settledWithin } from './page.mjs';

const NATIVE = path.resolve(import.meta.dirname, '..', 'target', 'train-native.json');
// The planted-feature demo's native run (`cargo test -p dough-compute --features train --test plant_page`).
const PLANT_NATIVE = path.resolve(import.meta.dirname, '..', 'target', 'plant-native.json');
// The "train on dough" demo's native run (`cargo test -p dough-compute --features train --test dough_page`).
const DOUGH_NATIVE = path.resolve(import.meta.dirname, '..', 'target', 'dough-native.json');
const LONG = 600_000;
const FLOOR = 0.85;
// Page (wasm, CPU) against native (CPU): test accuracy, and each tensor's mean and RMS.
const ACCURACY_TOLERANCE = 1 / 3000; // one test image (measured: 0)
const STAT_TOLERANCE = 1e-6; // measured: 1.3e-9
const MLP = JSON.stringify([{ kind: 'dense', activation: 'relu' }, { kind: 'dense', activation: 'none' }]);

let server;
let origin;
let ctx;
let native;
before(async () => {
  assert.ok(fs.existsSync(path.join(DIST, 'index.html')), 'dist/ is missing: run scripts/build-site.sh first');
  assert.ok(fs.existsSync(NATIVE), `${NATIVE} is missing: run cargo test -p dough-compute --features train --test train first`);
  // The native run's recipe, as the page's URL gives it.
  native = JSON.parse(fs.readFileSync(NATIVE, 'utf8'));
  server = await serve(DIST, 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  ctx = await launch(false, { acceptDownloads: true });
});
after(async () => {
  await ctx?.close();
  server?.close();
});

async function open(query = '') {
  return openPage(ctx, origin, query);
}

const settled = (page) => settledWithin(page, LONG);

const outputs = (page) => page.evaluate(() => window.__dough.rows.map((r) => [r.target, r.predicted, r.confidence, r.steps, r.l2]));

describe('train (CPU backend)', () => {
  test('train=run: a short run reaches its floor, learns patterns, matches native, and its download loads back', async () => {
    const { page, errors } = await open(`?backend=cpu&train=run&${native.recipe}`);
    // Pause at once (a run still starting pauses before its first batch); a new gallery then
    // runs beside the paused training instead of queueing behind it.
    await page.waitForSelector('#train-panel[data-train-status="running"] #train-pause:not([disabled])', { timeout: LONG });
    await page.click('#train-pause');
    assert.equal(await settled(page), 'done');
    await page.selectOption('#input-select', 'noise');
    await page.waitForFunction(() => window.__dough?.input?.startsWith('noise'), null, { timeout: 60_000 });
    assert.equal(await settledWithin(page, 60_000), 'done', 'a gallery finishes while training is paused');
    assert.equal(await page.getAttribute('#train-panel', 'data-train-status'), 'running');
    assert.match(await page.textContent('#train-pause'), /Resume/);
    await page.click('#train-pause');
    await page.waitForSelector('#train-panel[data-train-status="done"], #train-panel[data-train-status="error"]', { timeout: LONG });
    assert.equal(await page.getAttribute('#train-panel', 'data-train-status'), 'done', await page.textContent('#train-panel'));
    const accuracy = Number(await page.getAttribute('#train-panel', 'data-train-accuracy'));
    // The root element carries them too.
    assert.equal(await page.getAttribute('#app', 'data-train-status'), 'done');
    assert.equal(await page.getAttribute('#app', 'data-train-accuracy'), await page.getAttribute('#train-panel', 'data-train-accuracy'));
    assert.ok(accuracy >= FLOOR, `accuracy ${accuracy} below ${FLOOR}`);
    const run = await page.evaluate(() => window.__doughTrain);
    assert.deepEqual(run.snapshots.map((s) => s.epoch), [0, 1]);
    const [untrained, trained] = run.snapshots;
    assert.ok(trained.identified > untrained.identified, `identified: untrained ${untrained.identified}, trained ${trained.identified}`);
    assert.equal(await page.$$eval('tr.train-snapshot', (t) => t.length), 2);
    assert.equal(await page.$$eval('tr.train-snapshot canvas', (c) => c.length), 20);
    console.log(`page: accuracy ${accuracy}, ${trained.seconds.toFixed(2)} s for the epoch; identified ${untrained.identified} -> ${trained.identified}`);

    // The page against the native run of the same recipe.
    assert.ok(Math.abs(accuracy - native.test_accuracy) <= ACCURACY_TOLERANCE, `page ${accuracy}, native ${native.test_accuracy}`);
    let worst = 0;
    for (const w of native.weights) {
      const p = run.weights.find((x) => x.name === w.name);
      assert.ok(p, `${w.name} missing in the page`);
      worst = Math.max(worst, Math.abs(p.mean - w.mean), Math.abs(p.rms - w.rms));
    }
    console.log(`page vs native: accuracy ${accuracy} vs ${native.test_accuracy}; largest difference of a tensor's mean or RMS ${worst.toExponential(2)}`);
    assert.ok(worst <= STAT_TOLERANCE, `weights differ by ${worst}`);

    // The trained network is model A of the session; its gallery runs; the list and the model
    // card say it was trained here, with its accuracy.
    await page.waitForFunction((m) => window.__dough?.model === m, run.model, { timeout: LONG });
    assert.equal(await settled(page), 'done');
    const percent = `${(accuracy * 100).toFixed(2)}%`;
    assert.match(await page.$eval('#model-select', (s) => s.selectedOptions[0].textContent), new RegExp(`${run.model} — ${percent} \\(trained here\\)`));
    assert.match(await page.textContent('#model-line'), new RegExp(`trained in this page · test accuracy ${percent}`));
    const before = await outputs(page);

    // Download, then load the file back through the upload form.
    // One click saves two files (the weights and the manifest entry), in either order.
    const named = (suffix) => page.waitForEvent('download', { predicate: (d) => d.suggestedFilename().endsWith(suffix), timeout: LONG });
    const [download, entry] = await Promise.all([named('.safetensors'), named('.manifest-entry.json'), page.click('#train-download')]);
    assert.equal(download.suggestedFilename(), `${run.model}.safetensors`);
    assert.equal(entry.suggestedFilename(), `${run.model}.manifest-entry.json`);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dough-train-')), download.suggestedFilename());
    await download.saveAs(file);
    await page.click('#upload-panel summary');
    await page.setInputFiles('#upload-weights', file);
    await page.fill('#upload-description', MLP);
    await page.fill('#upload-name', 'reloaded');
    await page.click('#upload-load');
    await page.waitForFunction(() => window.__dough?.model === 'reloaded', null, { timeout: LONG });
    assert.equal(await settled(page), 'done');
    assert.deepEqual(await outputs(page), before, 'the reloaded network gives the same gallery');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('plant a backdoor in the 7s, train one epoch: the planted-feature check ranks the 7s cheapest, with the native numbers', async () => {
    assert.ok(fs.existsSync(PLANT_NATIVE), `${PLANT_NATIVE} is missing: run cargo test -p dough-compute --features train --test plant_page first`);
    const want = JSON.parse(fs.readFileSync(PLANT_NATIVE, 'utf8'));
    const { page, errors } = await open(`?backend=cpu&analysis=1&train=run&${want.recipe}`);
    await page.waitForSelector('#app[data-train-status="done"]', { timeout: LONG });
    // The trained network becomes model A, its gallery and its study run, then the check.
    await page.waitForSelector('#plant-known', { timeout: LONG });
    const got = await page.evaluate(() => ({
      flagged: document.querySelector('#app').dataset.plantFlagged,
      anomaly: Number(document.querySelector('#app').dataset.plantAnomaly),
      smallest: Number(document.querySelector('#plant-check').dataset.smallest),
      medians: [...document.querySelectorAll('#plant-check .plant-value')].map((e) => Number(e.textContent)),
      found: document.querySelector('#plant-known').dataset.found,
    }));
    console.log(`  planted backdoor (class 7): page ${JSON.stringify(got)}; native smallest ${want.smallest}, anomaly ${want.anomaly_index}, flagged ${want.flagged}, trained natively in ${want.seconds.toFixed(1)} s`);
    assert.equal(got.smallest, want.smallest);
    assert.equal(got.flagged, want.flagged ? String(want.smallest) : 'none');
    assert.ok(Math.abs(got.anomaly - want.anomaly_index) <= 1e-3 * Math.max(1, want.anomaly_index), `anomaly index ${got.anomaly} vs native ${want.anomaly_index}`);
    got.medians.forEach((m, c) => assert.ok(Math.abs(m - want.medians[c]) <= 0.006, `class ${c}: median L2 ${m} vs native ${want.medians[c]}`));
    assert.equal(got.found, String(want.flagged && want.smallest === 7));
    // Measured: the backdoor's class is the cheapest (median L2 0: the controlled inputs are
    // already read as 7), but the clean classes spread so widely that the anomaly index stays
    // near 1.9, under Neural Cleanse's flag at 2 (results/PLANTED.md has the zoo's numbers).
    assert.equal(got.smallest, 7, 'the planted class needs the smallest perturbations');
    assert.deepEqual(errors, []);
    await page.close();
  });

  // One worker builds the set inside the training worker; two attack its batches on the pool.
  for (const workers of [1, 2]) test(`train on dough (${workers} worker${workers > 1 ? 's: the pool builds it' : ''}): the D_det of mnist-mlp-robust from 500 pack images teaches a fresh MLP more than chance and its control, with the native numbers`, async () => {
    assert.ok(fs.existsSync(DOUGH_NATIVE), `${DOUGH_NATIVE} is missing: run cargo test -p dough-compute --features train --test dough_page first`);
    const want = JSON.parse(fs.readFileSync(DOUGH_NATIVE, 'utf8'));
    const { page, errors } = await open(`?backend=cpu&workers=${workers}&model=${want.source}&${want.recipe}`);
    assert.equal(await settled(page), 'done');
    await page.click('#train-panel > summary');
    assert.ok(await page.isChecked('#train-dough-on'), 'train-dough in the URL ticks the box');
    assert.equal(await page.inputValue('#train-dough-count'), '500');
    assert.ok((await page.textContent('#train-dough-describe')).includes(want.source));
    // Timed before it starts: one batch of 100 test images, scaled to 5 batches on the workers.
    await page.click('#train-dough-time');
    await page.waitForSelector('#train-dough-estimate[data-seconds]', { timeout: LONG });
    const estimate = Number(await page.getAttribute('#train-dough-estimate', 'data-seconds'));
    const said = await page.textContent('#train-dough-estimate');
    const batch = Number(said.match(/took ([0-9.]+) s/)[1]);
    assert.match(said, /100 test images took .* building D_det of 500 would take about/);
    assert.ok(estimate > 0 && Math.abs(estimate - Math.ceil(5 / workers) * batch) <= 0.06 + 0.05 * estimate, `estimate ${estimate} s from a batch of ${batch} s`);
    const t0 = Date.now();
    await page.click('#train-start');
    await page.waitForFunction(() => /images attacked/.test(document.querySelector('#train-dough-progress')?.textContent ?? ''), null, { timeout: LONG });
    await page.waitForSelector('#train-panel[data-train-status="done"], #train-panel[data-train-status="error"]', { timeout: LONG });
    assert.equal(await page.getAttribute('#train-panel', 'data-train-status'), 'done', await page.textContent('#train-panel'));
    const seconds = (Date.now() - t0) / 1000;
    const got = await page.evaluate(() => {
      const t = JSON.parse(JSON.stringify(window.__doughTrain));
      return { ...t.dough, accuracy: t.snapshots.at(-1).test_accuracy, model: t.model, text: document.querySelector('#train-dough-result').textContent };
    });
    assert.equal(got.workers, workers, 'the workers that attacked the images');
    console.log(`  train on dough, ${workers} worker(s): estimated ${estimate.toFixed(1)} s to build; page kept ${got.kept}/${got.attempted} in ${got.seconds.toFixed(1)} s, accuracy ${got.accuracy}, control ${got.control_accuracy} (whole run ${seconds.toFixed(0)} s); native kept ${want.kept}, accuracy ${want.accuracy}, control ${want.control_accuracy}`);
    assert.equal(got.attempted, 500);
    assert.equal(got.kept, want.kept, 'the same images reach their targets as natively');
    assert.ok(Math.abs(got.median_l2 - want.median_l2) <= 1e-3, `median L2 ${got.median_l2} vs native ${want.median_l2}`);
    assert.ok(Math.abs(got.accuracy - want.accuracy) <= 2 / 3000, `accuracy ${got.accuracy} vs native ${want.accuracy}`);
    assert.ok(Math.abs(got.control_accuracy - want.control_accuracy) <= 2 / 3000, `control ${got.control_accuracy} vs native ${want.control_accuracy}`);
    assert.ok(got.accuracy > got.control_accuracy + 0.05 && got.accuracy > 0.1, 'dough teaches more than its labels alone, and more than chance');
    assert.equal(got.source, want.source);
    assert.match(got.model, /on-dough/);
    assert.match(got.text, /control/);
    assert.equal(await page.getAttribute('#train-dough-result', 'data-kept'), String(want.kept));
    assert.deepEqual(errors, []);
    await page.close();
  });
});
