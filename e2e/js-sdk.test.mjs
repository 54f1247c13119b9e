// The SDK's JavaScript package (scripts/build-js-sdk) in a plain HTML page: no framework,
// no socket.io-client; it connects to the real server, receives live stats and acks a ping.
// The page is served from another origin, which the server allows by PULSE_CORS_ORIGINS; a
// server that does not list it refuses the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, eventually, launchBrowser, sdkPageAndServer, serveSdkFolder, startServer } from './harness.mjs';

test('the JS package works from a plain HTML page', async (t) => {
  assert.ok(existsSync(join(ROOT, 'client-sdk/pkg/pulse_sdk.js')), 'run scripts/build-js-sdk first');
  assert.ok(existsSync(join(ROOT, 'client-sdk/pkg/pulse_sdk.d.ts')), 'TypeScript declarations');
  // The page comes from another origin than the server: the server must list it (the helper
  // does).
  const { pulse, page, errors } = await sdkPageAndServer(t, {
    env: { PULSE_STATS_INTERVAL_MS: '300', PULSE_DEMO_RATE: '5' },
    path: (server) => `/examples/js/index.html?server=${server}&autoconnect=1`,
  });
  await eventually('live', async () => (await page.locator('#status').getAttribute('data-state')) === 'live');
  await eventually('ping acked', async () => (await page.locator('#pong').innerText()) === 'ok');
  const seen = new Set();
  await eventually('stats change twice', async () => {
    seen.add(await page.locator('#liters').innerText());
    seen.delete('—');
    return seen.size >= 2;
  });
  assert.deepEqual(errors, []);
});

test('a server that does not list the page\'s origin refuses it', async (t) => {
  const files = await serveSdkFolder();
  t.after(() => files.close());
  const pulse = await startServer();
  t.after(() => pulse.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${files.url}/examples/js/index.html?server=${pulse.url}&autoconnect=1`);
  // The login fetch is blocked by CORS, so the page never gets a token nor a socket.
  await eventually('the blocked sign-in is logged', async () => /Failed to fetch/.test(await page.locator('#log').innerText()));
  assert.equal(await page.locator('#status').innerText(), 'offline');
});
