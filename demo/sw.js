// sw.js - the demo's service worker: keeps the page, its modules, the wasm
// and the model list, so a second visit works with the network gone (the
// model itself is in IndexedDB: web/idb_store.js and web/offline.js).
//
// Network first: online, every request goes to the server and the cached
// copy is refreshed, so a new version of the page is never hidden behind an
// old one; only when fetch fails (offline, server down) is the cached copy
// served. Range requests (the model's bytes) and other methods are not
// touched: they go to the network, where the loader handles failures.
// Served from /demo/ with "Service-Worker-Allowed: /" (demo/serve.mjs), it
// is registered for the whole origin, so the worker engine's modules
// (/web/worker.js and what it imports) pass through it as well.
//
// The page loaded its first files before this worker took control; it
// sends their URLs ({type: 'cache', urls}) and gets back {type: 'cached', n}.

const CACHE = 'bitstack-demo-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

/** Only plain same-origin GETs of whole files are kept. */
function cacheable(request) {
  return request.method === 'GET' && !request.headers.has('range') && new URL(request.url).origin === self.location.origin;
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(request);
    if (res.status === 200) await cache.put(request, res.clone());
    return res;
  } catch (err) {
    // a page URL keeps its query (?model=...): any cached copy of the page will do
    const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
    if (hit) return hit;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  if (cacheable(event.request)) event.respondWith(networkFirst(event.request));
});

self.addEventListener('message', (event) => {
  if (event.data?.type !== 'cache') return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    let n = 0;
    for (const url of event.data.urls) {
      if (new URL(url).origin !== self.location.origin || (await cache.match(url))) continue;
      try {
        const res = await fetch(url);
        if (res.status === 200) {
          await cache.put(url, res);
          n++;
        }
      } catch {
        // offline again already: the next visit online fills the gap
      }
    }
    event.source?.postMessage({ type: 'cached', n });
  })());
});
