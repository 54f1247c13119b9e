// The SDK's JavaScript package (scripts/build-js-sdk) in a plain HTML page: no framework,
// no socket.io-client; it connects to the real server, receives live stats and acks a ping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, eventually, launchBrowser, serveSdkFolder, startServer } from './harness.mjs';

test('the JS package works from a plain HTML page', async (t) => {
  assert.ok(existsSync(join(ROOT, 'client-sdk/pkg/pulse_sdk.js')), 'run scripts/build-js-sdk first');
  assert.ok(existsSync(join(ROOT, 'client-sdk/pkg/pulse_sdk.d.ts')), 'TypeScript declarations');
  const pulse = await startServer({ env: { PULSE_STATS_INTERVAL_MS: '300', PULSE_DEMO_RATE: '5' } });
  t.after(() => pulse.stop());
  const files = await serveSdkFolder();
  t.after(() => files.close());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  await page.goto(`${files.url}/examples/js/index.html?server=${pulse.url}&autoconnect=1`);
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
