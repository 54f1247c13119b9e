// The SDK's JavaScript package used as a new user would write it: a module script builds a
// PulseClient, registers handlers, and keeps no reference to it. Chromium runs with
// --expose-gc and the test forces collections while events flow: the client must keep
// delivering and keep reporting its real status (socket.io-client behaves so), until
// `disconnect()`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, apiLogin, eventually, launchBrowser, serveSdkFolder, startServer } from './harness.mjs';

const PAGE = `<!doctype html>
<title>PulseClient without a reference</title>
<script type="module">
  import init, { PulseClient } from '/pkg/pulse_sdk.js';
  await init();
  const params = new URLSearchParams(location.search);
  window.seen = 0;
  window.states = [];
  // Nothing refers to the client once this module has run.
  const c = new PulseClient(params.get('server'), { token: params.get('token') });
  c.on('stats:updated', () => { window.seen += 1; });
  c.onStatus((s) => window.states.push(s.state));
  window.started = true;
</script>`;

test('a PulseClient the page keeps no reference to survives garbage collection', async (t) => {
  assert.ok(existsSync(join(ROOT, 'client-sdk/pkg/pulse_sdk.js')), 'run scripts/build-js-sdk first');
  const files = await serveSdkFolder({ '/gc.html': PAGE });
  t.after(() => files.close());
  // The page is served from another origin than the server: listed, as an app's would be.
  const pulse = await startServer({
    env: { PULSE_STATS_INTERVAL_MS: '100', PULSE_DEMO: 'false', PULSE_CORS_ORIGINS: files.url },
  });
  t.after(() => pulse.stop());
  const { token } = await apiLogin(pulse.url);
  const browser = await launchBrowser({ args: ['--js-flags=--expose-gc'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const warnings = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));

  const q = new URLSearchParams({ server: pulse.url, token });
  await page.goto(`${files.url}/gc.html?${q}`);
  await eventually('live', () => page.evaluate(() => window.states?.at(-1) === 'live'));
  await eventually('first events', () => page.evaluate(() => window.seen >= 3));

  // Collect garbage repeatedly while events flow; finalizers run after each collection.
  for (let i = 0; i < 10; i++) {
    await page.evaluate(() => gc());
    await new Promise((r) => setTimeout(r, 200));
  }
  const before = await page.evaluate(() => window.seen);
  // Stats come every 100 ms: 20 more within 15 s is a generous bound.
  await eventually('events after collections', () =>
    page.evaluate((n) => window.seen >= n + 20, before),
  );
  assert.equal(await page.evaluate(() => window.states.at(-1)), 'live');
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
});
