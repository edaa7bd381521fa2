// A plain static file server for the built site (no dependencies).
//   node tests/serve.mjs <dir> <port> [base]    serves <dir> at http://localhost:<port><base>/
// Also used by the browser tests, which import { serve } and can stop it at will.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json',
  '.safetensors': 'application/octet-stream', '.dspk': 'application/octet-stream',
};

export function serve(dir, port = 0, base = '') {
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    let url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (base && !url.startsWith(base + '/')) {
      res.writeHead(url === base ? 301 : 404, url === base ? { Location: base + '/' } : {});
      return res.end();
    }
    url = url.slice(base.length);
    let file = path.join(root, url);
    if (!file.startsWith(root)) { res.writeHead(403); return res.end(); }
    if (url.endsWith('/')) file = path.join(file, 'index.html');
    fs.readFile(file, (err, data) => {
      if (err) { res.writeHead(404, { 'Content-Type': 'text/plain' }); return res.end('not found'); }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
      res.end(data);
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir = 'dist', port = '8080', base = ''] = process.argv.slice(2);
  const server = await serve(dir, Number(port), base);
  console.log(`Dough at http://localhost:${server.address().port}${base}/  (Ctrl+C stops)`);
}
