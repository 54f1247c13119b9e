// The dashboard's service worker: keeps the app shell (index.html and the files it names:
// Trunk's content-hashed wasm, JS and CSS, and boot.js; and the chunks of the pages loaded on
// demand) on this browser, so the dashboard
// opens with no network at all, and a repeat visit on a slow link takes its assets from here.
// The API, the socket and the metrics are never cached: offline, the app shows its own last
// snapshot, marked stale with its time, and keeps the admin's actions until they are sent.
const CACHE = 'pulse-shell-v1';
const SHELL = '/';
// A page waits this long for the network before the cached shell is used (a link that is
// up but barely moving); a refused connection falls back at once.
const NAVIGATION_WAIT_MS = 4000;
// trunk's content hash: a u64 in hex without leading zeros.
const HASHED = /-[0-9a-f]{12,16}(?:_bg)?\.[a-z0-9]+$/;
const NEVER = ['/api/', '/socket.io/', '/health', '/metrics', '/sw.js'];

self.addEventListener('install', (e) => {
  e.waitUntil(keepShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (NEVER.some((p) => url.pathname.startsWith(p))) return;
  if (req.mode === 'navigate') {
    e.respondWith(page(req, e));
  } else {
    e.respondWith(asset(req));
  }
});

/** The network's index.html when it answers in time (a new build is then kept too), else the kept one. */
async function page(req, e) {
  const network = fetch(req);
  network.catch(() => {}); // answered by the kept page below
  try {
    const res = await Promise.race([
      network,
      new Promise((_, fail) => setTimeout(() => fail(new Error('slow')), NAVIGATION_WAIT_MS)),
    ]);
    // Every page is index.html (the server's SPA fallback): keep this copy, not a second fetch.
    const html = res.ok && (res.headers.get('content-type') ?? '').startsWith('text/html');
    if (html) e.waitUntil(keepShell(res.clone()).catch(() => {}));
    return res;
  } catch {
    const kept = await caches.match(SHELL);
    return kept ?? network;
  }
}

/** A kept file, else the network's (kept if it is a hashed asset: it never changes). */
async function asset(req) {
  const kept = await caches.match(req);
  if (kept) return kept;
  const res = await fetch(req);
  if (res.ok && HASHED.test(new URL(req.url).pathname)) {
    const copy = res.clone();
    caches.open(CACHE).then((c) => c.put(req, copy));
  }
  return res;
}

/**
 * Keeps index.html (`page`, a navigation's answer, or fetched), every file it names, and
 * the files those scripts name (the glue names the chunk loader, which names the chunks of
 * the pages loaded on demand); forgets the files of older builds. A file only a script names
 * is taken from this cache or the HTTP cache, never the network: the chunks come once the
 * app has shown its first figures (it fetches them then, and `asset` keeps them), so the
 * worker does not compete with the first load on a slow link.
 */
async function keepShell(page) {
  const res = page ?? (await fetch(SHELL, { cache: 'no-cache' }));
  if (!res.ok) return;
  const html = await res.clone().text();
  // Attribute values are unquoted in the minified release page; the module script quotes its imports.
  const named = [...html.matchAll(/(?:=["']?|['"])(\/[\w.\-/]+\.(?:js|css|wasm))\b/g)].map(
    (m) => new URL(m[1], self.location.origin).href,
  );
  const files = [...named];
  const cache = await caches.open(CACHE);
  const keep = new Set([new URL(SHELL, self.location.origin).href]);
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    if (keep.has(f)) continue;
    keep.add(f);
    // A hashed file never changes: one kept is kept, and one the page loaded comes from the
    // HTTP cache, not the network. The others (boot.js) are asked for again.
    const hashed = HASHED.test(new URL(f).pathname);
    let r = hashed ? await cache.match(f) : undefined;
    if (!r) {
      // A file the page names must be kept (a failure leaves the kept shell as it was); one
      // only a script names is kept if it is here already.
      r = named.includes(f)
        ? await fetch(f, { cache: hashed ? 'default' : 'no-cache' })
        : await fetch(f, { cache: 'only-if-cached', mode: 'same-origin' }).catch(() => undefined);
      if (!r?.ok) continue;
      await cache.put(f, r.clone());
    }
    if (f.endsWith('.js')) {
      for (const m of (await r.text()).matchAll(/["'](\.\/[\w.\-]+\.(?:js|wasm))["']/g)) files.push(new URL(m[1], f).href);
    }
  }
  await cache.put(SHELL, res);
  for (const req of await cache.keys()) if (!keep.has(req.url)) await cache.delete(req);
}
