// Profiles the WebGPU attack step of `?bench=mlp|cnn` in headless Chromium (SwiftShader): the
// compute worker's script is served with counters wrapped around the WebGPU methods, and the
// timed steps' counts come back per step. Not a test: numbers only.
//   node tests/gpu-profile.mjs [mlp cnn]
// Prints, per timed attack step: compute pipelines and shader modules created, compute passes,
// dispatches, queue submits, writeBuffers, bind groups, buffers, mapAsync (readbacks), the
// worker's busy time (its thread outside WebGPU's promises) and the time it waits on readbacks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const archs = process.argv.slice(2).length ? process.argv.slice(2) : ['mlp'];
const dist = path.resolve(import.meta.dirname, '..', 'dist');
const server = await serve(dist, 0);
const origin = `http://127.0.0.1:${server.address().port}`;

// Runs in the worker before its wasm starts: wraps the WebGPU prototypes' methods.
const TIMESTAMPS = process.env.TIMESTAMPS === '1';
const PROBE = `
(function () {
  var P = self.__gpuProfile = { events: [], shaders: [], t0: performance.now() };
  self.__gpuTimestamps = ${TIMESTAMPS};
  ${process.env.ROUTINE ? `self.doughMatmulRoutine = ${Number(process.env.ROUTINE)};` : ''}
  function wrap(proto, name, tag) {
    if (!proto || !proto[name]) return;
    var orig = proto[name];
    proto[name] = function () {
      var t = performance.now();
      var r = orig.apply(this, arguments);
      if (this && this.__probe) return r;
      var e = { k: tag || name, t: t, d: performance.now() - t };
      P.events.push(e);
      if (name === 'createShaderModule') {
        var code = (arguments[0] && arguments[0].code) || '';
        var h = 0; for (var i = 0; i < code.length; i++) h = (h * 31 + code.charCodeAt(i)) | 0;
        P.shaders.push({ t: t, len: code.length, hash: h, head: code.slice(0, 0) });
      }
      if (name === 'dispatchWorkgroups') { e.n = [arguments[0], arguments[1] || 1, arguments[2] || 1]; e.p = this.__pipe; }
      if (name === 'setPipeline') this.__pipe = arguments[0].__id;
      if (name === 'createComputePipeline' || name === 'createComputePipelineAsync') {
        var id = P.pipes = (P.pipes || 0) + 1; e.id = id;
        var d = arguments[0] || {}; var m = d.compute && d.compute.module;
        P.pipeInfo = P.pipeInfo || {}; P.pipeInfo[id] = { label: d.label || '', shader: m && m.__src || '' };
        if (r && typeof r.then === 'function') r.then(function (p) { p.__id = id; }); else if (r) r.__id = id;
      }
      if (name === 'createShaderModule' && r) r.__src = (arguments[0] && arguments[0].code) || '';
      if (r && typeof r.then === 'function') {
        r.then(function () { e.done = performance.now(); }, function () { e.done = performance.now(); e.err = 1; });
      }
      return r;
    };
  }
  wrap(self.GPUDevice && GPUDevice.prototype, 'createComputePipeline');
  wrap(self.GPUDevice && GPUDevice.prototype, 'createComputePipelineAsync');
  wrap(self.GPUDevice && GPUDevice.prototype, 'createShaderModule');
  wrap(self.GPUDevice && GPUDevice.prototype, 'createBindGroup');
  wrap(self.GPUDevice && GPUDevice.prototype, 'createBindGroupLayout');
  wrap(self.GPUDevice && GPUDevice.prototype, 'createBuffer');
  wrap(self.GPUDevice && GPUDevice.prototype, 'createCommandEncoder');
  wrap(self.GPUCommandEncoder && GPUCommandEncoder.prototype, 'beginComputePass');
  wrap(self.GPUCommandEncoder && GPUCommandEncoder.prototype, 'copyBufferToBuffer');
  wrap(self.GPUCommandEncoder && GPUCommandEncoder.prototype, 'clearBuffer');
  wrap(self.GPUComputePassEncoder && GPUComputePassEncoder.prototype, 'dispatchWorkgroups');
  wrap(self.GPUComputePassEncoder && GPUComputePassEncoder.prototype, 'dispatchWorkgroupsIndirect');
  wrap(self.GPUComputePassEncoder && GPUComputePassEncoder.prototype, 'setPipeline');
  wrap(self.GPUQueue && GPUQueue.prototype, 'submit');
  wrap(self.GPUQueue && GPUQueue.prototype, 'writeBuffer');
  wrap(self.GPUQueue && GPUQueue.prototype, 'onSubmittedWorkDone');
  wrap(self.GPUBuffer && GPUBuffer.prototype, 'mapAsync');
  wrap(self.GPUBuffer && GPUBuffer.prototype, 'getMappedRange');
  wrap(self.GPUBuffer && GPUBuffer.prototype, 'destroy', 'bufferDestroy');
  wrap(self.GPUDevice && GPUDevice.prototype, 'pushErrorScope');
  if (self.__gpuTimestamps) timestamps(P);
  wrap(self.GPUDevice && GPUDevice.prototype, 'popErrorScope');

  // Timestamp mode: every dispatch gets its own compute pass with timestamp writes (the pass's
  // calls are recorded and replayed at end()), so that each kernel's GPU time comes back.
  function timestamps(P) {
    P.kernels = [];
    var rd = GPUAdapter.prototype.requestDevice;
    GPUAdapter.prototype.requestDevice = function (desc) {
      desc = Object.assign({}, desc || {});
      var f = Array.from(desc.requiredFeatures || []);
      P.tsAvailable = this.features.has('timestamp-query');
      if (P.tsAvailable && f.indexOf('timestamp-query') < 0) f.push('timestamp-query');
      desc.requiredFeatures = f;
      return rd.call(this, desc).then(function (dev) { P.device = dev; return dev; });
    };
    var bcp = GPUCommandEncoder.prototype.beginComputePass;
    var fin = GPUCommandEncoder.prototype.finish;
    var sub = GPUQueue.prototype.submit;
    var CAP = 512;
    GPUCommandEncoder.prototype.beginComputePass = function (desc) {
      var enc = this, calls = [];
      if (!P.tsAvailable) return bcp.call(this, desc);
      return {
        label: '',
        setPipeline: function (p) { calls.push(['p', p]); },
        setBindGroup: function (i, g, data, start, len) {
          var offs = data === undefined ? undefined : (start === undefined ? Array.from(data) : Array.from(data.subarray(start, start + len)));
          calls.push(['g', i, g, offs]);
        },
        dispatchWorkgroups: function (x, y, z) { calls.push(['d', x, y || 1, z || 1]); },
        dispatchWorkgroupsIndirect: function (b, o) { calls.push(['i', b, o]); },
        insertDebugMarker: function () {}, pushDebugGroup: function () {}, popDebugGroup: function () {},
        end: function () {
          var pipe = null, groups = {};
          if (!enc.__ts) enc.__ts = { qs: P.device.createQuerySet({ type: 'timestamp', count: CAP }), n: 0, rec: [] };
          var ts = enc.__ts;
          for (var c of calls) {
            if (c[0] === 'p') pipe = c[1];
            else if (c[0] === 'g') groups[c[1]] = c;
            else {
              var desc = ts.n + 2 <= CAP ? { timestampWrites: { querySet: ts.qs, beginningOfPassWriteIndex: ts.n, endOfPassWriteIndex: ts.n + 1 } } : {};
              var pass = bcp.call(enc, desc);
              pass.setPipeline(pipe);
              for (var k in groups) { var g = groups[k]; if (g[3] === undefined) pass.setBindGroup(g[1], g[2]); else pass.setBindGroup(g[1], g[2], g[3]); }
              if (c[0] === 'd') pass.dispatchWorkgroups(c[1], c[2], c[3]); else pass.dispatchWorkgroupsIndirect(c[1], c[2]);
              pass.end();
              if (desc.timestampWrites) { ts.rec.push({ pipe: pipe && pipe.__id, n: c.slice(1, 4), q: ts.n }); ts.n += 2; }
            }
          }
        },
      };
    };
    GPUCommandEncoder.prototype.finish = function () {
      var ts = this.__ts;
      if (ts && ts.n) {
        var size = ts.n * 8;
        ts.res = P.device.createBuffer({ size: size, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
        ts.read = P.device.createBuffer({ size: size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        ts.read.__probe = true;
        this.resolveQuerySet(ts.qs, 0, ts.n, ts.res, 0);
        this.copyBufferToBuffer(ts.res, 0, ts.read, 0, size);
      }
      var cb = fin.apply(this, arguments);
      if (ts && ts.n) cb.__ts = ts;
      return cb;
    };
    GPUQueue.prototype.submit = function (cbs) {
      var r = sub.apply(this, arguments);
      var t = performance.now();
      for (var cb of cbs) {
        var ts = cb.__ts;
        if (!ts) continue;
        (function (ts) {
          ts.read.mapAsync(GPUMapMode.READ).then(function () {
            var v = new BigUint64Array(ts.read.getMappedRange().slice(0));
            for (var r of ts.rec) P.kernels.push({ t: t, pipe: r.pipe, n: r.n, ns: Number(v[r.q + 1] - v[r.q]) });
            ts.read.unmap(); ts.read.destroy(); ts.res.destroy(); ts.qs.destroy();
          });
        })(ts);
      }
      return r;
    };
  }
  // The worker's own messages (bench steps yield through a MessageChannel).
  var post = self.postMessage;
  self.postMessage = function (m) { P.events.push({ k: 'postMessage', t: performance.now(), d: 0 }); return post.apply(this, arguments); };
})();
`;

function summarise(arch, P) {
  const ev = P.events;
  const maps = ev.filter((e) => e.k === 'mapAsync');
  // The bench: 3 warm-up steps, a read, 50 timed steps, a read. The timed window runs from the
  // end of the first read after warm-up to the end of the last read.
  if (maps.length < 2) return console.log(`${arch}: fewer than two readbacks (${maps.length})`);
  const last = maps[maps.length - 1];
  const warm = maps[maps.length - 2];
  const from = warm.done, to = last.done;
  const steps = 50;
  const inWin = ev.filter((e) => e.t >= from && e.t <= to);
  const count = {}, time = {};
  for (const e of inWin) { count[e.k] = (count[e.k] || 0) + 1; time[e.k] = (time[e.k] || 0) + e.d; }
  const wall = to - from;
  const lastCall = last.t;
  console.log(`\n${arch}: timed window ${wall.toFixed(0)} ms = ${(wall / steps).toFixed(1)} ms/step`);
  console.log(`  the worker issued its last call ${(lastCall - from).toFixed(0)} ms into the window; the final readback then waited ${(last.done - last.t).toFixed(0)} ms`);
  const keys = Object.keys(count).sort((a, b) => count[b] - count[a]);
  for (const k of keys) {
    console.log(`  ${k.padEnd(28)} ${(count[k] / steps).toFixed(2).padStart(8)} per step   ${(time[k] / steps).toFixed(3).padStart(8)} ms/step in the call`);
  }
  const pipelines = ev.filter((e) => e.k.startsWith('createComputePipeline'));
  console.log(`  whole run: ${pipelines.length} compute pipelines, ${P.shaders.length} shader modules (${new Set(P.shaders.map((s) => s.hash)).size} distinct), ${maps.length} readbacks, ${ev.filter((e) => e.k === 'submit').length} submits, ${ev.filter((e) => e.k === 'dispatchWorkgroups').length} dispatches`);
  // Dispatch sizes of one timed step (the last one).
  const disp = inWin.filter((e) => e.k === 'dispatchWorkgroups');
  const per = Math.round(disp.length / steps);
  const one = disp.slice(disp.length - per);
  console.log(`  one step's dispatches (workgroups): ${one.map((e) => e.n.join('x')).join(' ')}`);
  if (P.kernels) kernelTimes(P, from, steps);
  // Readbacks in the whole run: waiting time.
  const waits = maps.map((e) => (e.done - e.t).toFixed(1));
  console.log(`  readback waits (ms): ${waits.slice(0, 20).join(' ')}${waits.length > 20 ? ' ...' : ''}`);
}

// Per pipeline: GPU time per step from the timestamps of the timed steps.
function kernelTimes(P, from, steps) {
  if (!P.ts) return console.log('  no timestamp-query on this adapter');
  const ks = P.kernels.filter((k) => k.t >= from);
  const by = new Map();
  for (const k of ks) {
    const key = k.pipe;
    const b = by.get(key) || { n: 0, ns: 0, dims: new Set() };
    b.n += 1; b.ns += k.ns; b.dims.add(k.n.join('x'));
    by.set(key, b);
  }
  const total = ks.reduce((a, k) => a + k.ns, 0);
  console.log(`  GPU time (timestamps), ${ks.length} kernels in the window: ${(total / 1e6 / steps).toFixed(1)} ms/step`);
  const rows = [...by.entries()].sort((a, b) => b[1].ns - a[1].ns);
  for (const [pipe, b] of rows) {
    const info = (P.pipeInfo || {})[pipe] || {};
    const src = (info.shader || '').replace(/\s+/g, ' ');
    const fn = (src.match(/fn (\w+)\(/g) || []).slice(-1)[0] || '';
    console.log(`  pipeline ${String(pipe).padStart(3)} ${(b.ns / 1e6 / steps).toFixed(2).padStart(9)} ms/step ${(b.n / steps).toFixed(1)} launches/step  grid ${[...b.dims].join(',')}  ${info.label || ''} ${fn} wgsl ${src.length} chars`);
  }
  if (process.env.DUMP) {
    fs.mkdirSync(process.env.DUMP, { recursive: true });
    for (const [pipe] of rows) {
      const info = (P.pipeInfo || {})[pipe] || {};
      fs.writeFileSync(path.join(process.env.DUMP, `pipeline-${pipe}.wgsl`), info.shader || '');
    }
  }
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dough-gpuprof-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, serviceWorkers: 'block',
  args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu',
    ...(TIMESTAMPS ? ['--enable-dawn-features=allow_unsafe_apis', '--enable-webgpu-developer-features'] : [])],
});
await ctx.route(/\/worker\.js(\?|$)/, async (route) => {
  const body = fs.readFileSync(path.join(dist, 'worker.js'), 'utf8');
  await route.fulfill({ status: 200, contentType: 'text/javascript', body: PROBE + body });
});
for (const arch of archs) {
  const page = await ctx.newPage();
  const workers = [];
  page.on('worker', (w) => workers.push(w));
  await page.goto(`${origin}/?bench=${arch}&backend=webgpu`);
  await page.waitForSelector('#app[data-status="done"], #app[data-status="error"]', { state: 'attached', timeout: 1_200_000 });
  const ms = await page.getAttribute('#app', 'data-bench-ms-per-step');
  console.log(`${arch} on ${await page.getAttribute('#app', 'data-backend')}: ${ms} ms/step (the page's figure)`);
  for (const w of workers) {
    const P = await w.evaluate(() => { const P = self.__gpuProfile; return P ? { events: P.events, shaders: P.shaders, kernels: P.kernels, pipeInfo: P.pipeInfo, ts: P.tsAvailable } : null; }).catch((e) => { console.log(String(e)); return null; });
    if (P) summarise(arch, P);
    else console.log(`${arch}: a worker without the probe (${w.url()})`);
  }
  await page.close();
}
await ctx.close();
server.close();
