// The server side of the SDK's wasm-bindgen tests (client-sdk/tests/browser.rs), run by
// scripts/test: a real pulse-server with the demo business, plus a small control endpoint
// the browser test calls to restart that server on the same port and database, or to hold
// a request unanswered.
// Prints one line, "server=<url> control=<url> token=<jwt>", then serves until killed. The
// test page's origin must be in PULSE_CORS_ORIGINS (scripts/test sets it), passed through.
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServer } from './harness.mjs';

const port = await freePort();
const env = {
  PULSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'pulse-wasm-')),
  PULSE_STATS_INTERVAL_MS: '200',
  PULSE_DEMO_RATE: '5',
};
let server = await startServer({ port, env });

const login = await fetch(`${server.url}/api/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: 'admin@pulse.demo', password: 'pulse-demo' }),
});
if (!login.ok) throw new Error(`demo login failed: HTTP ${login.status}`);
const { token } = await login.json();

// Requests to /hang?id=… are held and never answered; /hang-state?id=… says whether that one
// is still `open` or was `closed` by the browser (a dropped request must be aborted).
const hung = new Map();

const control = createServer(async (req, res) => {
  const cors = { 'access-control-allow-origin': '*' };
  const url = new URL(req.url, 'http://control');
  const id = url.searchParams.get('id');
  if (req.method === 'GET' && url.pathname === '/hang' && id) {
    hung.set(id, 'open');
    res.on('close', () => hung.set(id, 'closed'));
  } else if (req.method === 'GET' && url.pathname === '/hang-state' && id) {
    res.writeHead(200, cors).end(hung.get(id) ?? 'unknown');
  } else if (req.method === 'POST' && req.url === '/restart') {
    await server.stop();
    await new Promise((r) => setTimeout(r, 1500));
    server = await startServer({ port, env });
    res.writeHead(200, cors).end('restarted');
  } else {
    res.writeHead(404, cors).end();
  }
});
await new Promise((ok) => control.listen(0, '127.0.0.1', ok));
console.log(`server=${server.url} control=http://127.0.0.1:${control.address().port} token=${token}`);

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => {
    control.close();
    await server.stop();
    process.exit(0);
  });
}
