// The walking skeleton end to end: the real server serves the built dashboard; the
// dashboard's Rust SDK connects over Socket.IO; KPIs change live; the indicator says live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, eventually, launchBrowser, startServer } from './harness.mjs';

test('overview shows live KPIs and a live connection indicator', async (t) => {
  const server = await startServer({ env: { PULSE_STATS_INTERVAL_MS: '300', PULSE_DEMO_RATE: '5' } });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  await page.goto(server.url);
  const indicator = page.getByTestId('connection');
  await eventually('indicator live', async () => (await indicator.getAttribute('data-state')) === 'live');
  assert.match(await indicator.innerText(), /^Live/);

  // The deliveries KPI must show at least three different values: two live changes.
  const kpi = page.getByTestId('kpi-deliveries').locator('.kpi-value');
  const seen = new Set();
  await eventually('two live KPI changes', async () => {
    const text = (await kpi.innerText()).trim();
    if (text !== '—') seen.add(text);
    return seen.size >= 3;
  });
  assert.notEqual(await page.getByTestId('last-updated').innerText(), 'Waiting for data…');

  await page.screenshot({ path: join(ARTIFACTS, 'overview-desktop.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(ARTIFACTS, 'overview-phone.png') });
  assert.deepEqual(errors, [], 'no uncaught errors in the page');
});

test('a deep link is served the dashboard (SPA fallback)', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const r = await fetch(`${server.url}/some/client/route`);
  assert.equal(r.status, 200);
  assert.match(await r.text(), /pulse-dashboard/);
  const api = await fetch(`${server.url}/api/stats`);
  assert.equal(api.status, 200);
  const body = await api.json();
  assert.ok(Number.isInteger(body.seq) && typeof body.data.today_liters === 'number');
});
