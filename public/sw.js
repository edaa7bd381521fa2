// Dough's service worker: the site keeps working offline after a visit.
// Network first (a lecturer always gets the newest build when online), the cache as fallback.
// The page tells the worker which files it has already loaded (they were fetched before the
// worker took control), and "Save for offline" asks it to fetch the whole zoo. The compute
// worker's files carry the build's version in their query (worker.js?v=...), so each build's
// worker is its own cache entry.
const CACHE = 'dough-v2';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil((async () => {
  for (const key of await caches.keys()) if (key !== CACHE && key.startsWith('dough-')) await caches.delete(key);
  await self.clients.claim();
})()));

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      if (res.ok) await cache.put(req, res.clone());
      return res;
    } catch (err) {
      const hit = await cache.match(req, { ignoreSearch: req.mode === 'navigate' });
      if (hit) return hit;
      throw err;
    }
  })());
});

// { cache: [urls] } -> fetches and stores them, then answers { cached: n, failed: [urls] }.
self.addEventListener('message', (event) => {
  const urls = event.data && event.data.cache;
  if (!Array.isArray(urls)) return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const failed = [];
    for (const url of urls) {
      try {
        const res = await fetch(url, { cache: 'no-cache' });
        if (res.ok) await cache.put(url, res); else failed.push(url);
      } catch { failed.push(url); }
    }
    event.source?.postMessage({ cached: urls.length - failed.length, failed });
  })());
});
