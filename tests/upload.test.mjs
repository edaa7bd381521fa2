// Browser tests of "Your own network" (the upload form) on the CPU backend, with the core's
// fixtures written by the Python safetensors package (crates/dough-core/tests/fixtures/byo/).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serve } from './serve.mjs';
import { DIST, LONG, launch, openPage, settled, startSite } from './page.mjs';

const FIXTURES = path.resolve(import.meta.dirname, '..', 'crates', 'dough-core', 'tests', 'fixtures', 'byo');

// The fixtures' networks: nn.Sequential(Linear(784, 32), ReLU, Linear(32, 10)) and a two-conv CNN.
const MLP = JSON.stringify([{ kind: 'dense', activation: 'relu' }, { kind: 'dense', activation: 'none' }]);
const CNN = JSON.stringify([
  { kind: 'conv2d', activation: 'relu' }, { kind: 'maxpool2d' },
  { kind: 'conv2d', activation: 'relu' }, { kind: 'flatten' },
  { kind: 'dense', activation: 'relu' }, { kind: 'dense', activation: 'none' },
]);
const mlpBytes = () => fs.readFileSync(path.join(FIXTURES, 'mlp-f32.safetensors'));

let server;
let origin;
let ctx;
before(async () => {
  ({ server, origin, ctx } = await startSite(serve));
});
after(async () => {
  await ctx?.close();
  server?.close();
});

async function open(query = '') {
  return openPage(ctx, origin, query);
}

const model = (page) => page.evaluate(() => window.__dough?.model);

/// Fills the form and presses "Check and load".
async function upload(page, { name, description, file }) {
  if (!(await page.$eval('#upload-panel', (d) => d.open))) await page.click('#upload-panel summary');
  await page.setInputFiles('#upload-weights', file);
  await page.fill('#upload-description', description);
  await page.fill('#upload-name', name);
  await page.click('#upload-load');
}

describe('upload (CPU backend)', () => {
  test('upload: a PyTorch-style MLP joins the list, becomes the model and runs the gallery; compare mode reads it', async () => {
    const { page, errors } = await open();
    assert.equal(await settled(page), 'done');
    assert.equal(await model(page), 'mnist-mlp');
    await upload(page, { name: 'my-mlp', description: MLP, file: path.join(FIXTURES, 'mlp-f32.safetensors') });
    await page.waitForFunction(() => window.__dough?.model === 'my-mlp', null, { timeout: LONG });
    assert.equal(await settled(page), 'done');
    assert.equal(await page.$$eval('tr.gallery-row', (trs) => trs.length), 10);
    assert.equal(await page.$eval('#model-select', (s) => s.selectedOptions[0].textContent), 'my-mlp (uploaded)');
    assert.match(await page.textContent('#model-line'), /my-mlp · MNIST · fully connected 784-32-10 · 25450 parameters · uploaded/);
    assert.match(await page.textContent('#upload-message'), /Loaded "my-mlp"/);
    assert.equal(await page.$('#upload-error'), null);
    // The URL names the model; a reload would get a notice and the default model.
    assert.match(page.url(), /model=my-mlp/);
    // Back to the shipped MLP with the upload as model B: B's weights come from memory.
    await page.selectOption('#model-select', 'mnist-mlp');
    await page.waitForFunction(() => window.__dough?.model === 'mnist-mlp', null, { timeout: LONG });
    await settled(page);
    await page.selectOption('#compare-select', 'my-mlp');
    await page.waitForSelector('#app[data-compare="my-mlp"]', { timeout: LONG });
    assert.equal(await page.$$eval('tr.gallery-row[data-b-predicted]', (trs) => trs.length), 10);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('upload: the analysis runs on an uploaded network', async () => {
    const { page, errors } = await open('?analysis=1');
    assert.equal(await settled(page), 'done');
    await page.waitForSelector('#analysis[data-study="done"]', { timeout: LONG });
    await upload(page, { name: 'my-mlp', description: MLP, file: path.join(FIXTURES, 'mlp-f32.safetensors') });
    await page.waitForFunction(() => window.__dough?.analysis?.model === 'my-mlp', null, { timeout: LONG });
    assert.equal(await page.getAttribute('#analysis', 'data-study'), 'done');
    assert.equal(await page.$$eval('#study-heatmap td.cell', (c) => c.length), 100);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('upload: a reload naming an uploaded model gets a notice and the default model', async () => {
    const { page, errors } = await open('?model=my-mlp');
    assert.equal(await settled(page), 'done');
    assert.equal(await model(page), 'mnist-mlp');
    assert.match(await page.textContent('.notices'), /model="my-mlp" is not in the manifest; showing mnist-mlp/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('upload: bad uploads each say what is wrong and leave the current model running', async () => {
    const { page, errors } = await open();
    assert.equal(await settled(page), 'done');
    const good = mlpBytes();
    const nan = Buffer.from(good);
    nan.writeFloatLE(NaN, 8 + Number(good.readBigUInt64LE(0)));
    const cases = [
      ['not safetensors', { name: 'a', description: MLP, file: { name: 'notes.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('hello, these are not weights at all') } },
        /not a safetensors file/],
      ['truncated', { name: 'b', description: MLP, file: { name: 'cut.safetensors', mimeType: 'application/octet-stream', buffer: good.subarray(0, good.length >> 1) } },
        /truncated or damaged/],
      ['description does not parse', { name: 'c', description: '[{"kind": "dense",', file: path.join(FIXTURES, 'mlp-f32.safetensors') },
        /the layer description does not parse: not valid JSON/],
      ['wrong shapes', { name: 'd', description: JSON.stringify([{ kind: 'dense', activation: 'relu', out: 64 }, { kind: 'dense' }]), file: path.join(FIXTURES, 'mlp-f32.safetensors') },
        /tensor "0.weight" has shape \[32, 784\], the description needs \[64, 784\]/],
      ['CNN description with the MLP file', { name: 'e', description: CNN, file: path.join(FIXTURES, 'mlp-f32.safetensors') },
        /the description has 4 layers with weights, the PyTorch-style file has 2/],
      ['NaN weights', { name: 'f', description: MLP, file: { name: 'nan.safetensors', mimeType: 'application/octet-stream', buffer: nan } },
        /holds NaN at position 0; weights must be finite numbers/],
      ['a name already taken', { name: 'mnist-mlp', description: MLP, file: path.join(FIXTURES, 'mlp-f32.safetensors') },
        /a model named "mnist-mlp" is already in the list/],
    ];
    for (const [what, form, message] of cases) {
      await upload(page, form);
      await page.waitForFunction((source) => new RegExp(source).test(document.querySelector('#upload-error')?.textContent ?? ''),
        message.source, { timeout: 20_000 }).catch(() => {});
      const shown = await page.$eval('#upload-error', (e) => e.textContent).catch(() => '(no #upload-error)');
      assert.match(shown, message, what);
      assert.match(shown, /The current model stays\.$/, what);
      assert.equal(await page.getAttribute('#app', 'data-status'), 'done', what);
      assert.equal(await model(page), 'mnist-mlp', what);
      assert.equal(await page.$eval('#model-select', (s) => s.value), 'mnist-mlp', what);
      assert.equal(await page.$$eval('#model-select option', (os) => os.filter((o) => /uploaded/.test(o.textContent)).length), 0, what);
    }
    // Still usable: the F16 CNN loads after all that (its description from a JSON file, as a
    // manifest-style object), and the gallery runs on it.
    await page.setInputFiles('#upload-description-file', { name: 'cnn.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify({ layers: JSON.parse(CNN) })) });
    await page.waitForFunction(() => document.querySelector('#upload-description').value.includes('"layers"'));
    await page.setInputFiles('#upload-weights', path.join(FIXTURES, 'cnn-f16.safetensors'));
    await page.fill('#upload-name', 'my-cnn');
    await page.click('#upload-load');
    await page.waitForFunction(() => window.__dough?.model === 'my-cnn', null, { timeout: LONG });
    assert.equal(await settled(page), 'done');
    assert.equal(await page.$$eval('tr.gallery-row', (trs) => trs.length), 10);
    assert.equal(await page.$('#upload-error'), null);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
