// The overview end to end: the real server serves the built dashboard; signing in gives a
// session kept across reloads; the dashboard's Rust SDK connects over Socket.IO; KPIs change
// live; the indicator says live; signing out sends every page back to the sign-in page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, eventually, login, serverAndPage, startServer } from './harness.mjs';

test('sign in, see live KPIs, stay signed in across a reload, sign out', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_STATS_INTERVAL_MS: '300', PULSE_DEMO_RATE: '5' });

  // The guard: a deep link without a session lands on the sign-in page.
  await page.goto(`${server.url}/deliveries`);
  await page.getByTestId('login-email').waitFor();
  assert.match(page.url(), /\/login$/);

  // A wrong password is refused with a message.
  await page.getByTestId('login-email').fill('admin@pulse.demo');
  await page.getByTestId('login-password').fill('nope');
  await page.getByTestId('login-submit').click();
  await eventually('refusal shown', async () => /Wrong email or password/.test(await page.locator('#login-error').innerText()));

  await login(page, server.url);
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
  // Yesterday's figures, read once the page shows, give each KPI its comparison.
  const delta = page.getByTestId('kpi-liters').locator('.kpi-delta');
  await eventually('the comparison with yesterday', async () => /yesterday/.test(await delta.innerText()));
  // The chart and the recent tables fill in live.
  await eventually('recent deliveries rows', async () => (await page.getByTestId('recent-deliveries').locator('tbody tr').count()) > 0);
  await eventually('chart bars', async () => (await page.locator('[data-testid="minute-chart"] rect.bar').count()) > 0);
  await eventually('activity entries', async () => (await page.getByTestId('activity').locator('li').count()) > 0);

  // Reload: still signed in, straight back to live.
  await page.reload();
  await page.getByTestId('kpi-liters').waitFor();
  await eventually('live after reload', async () => (await indicator.getAttribute('data-state')) === 'live');

  await page.screenshot({ path: join(ARTIFACTS, 'overview-desktop.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(ARTIFACTS, 'overview-phone.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  await page.getByTestId('logout').click();
  await page.getByTestId('login-email').waitFor();
  await page.goto(`${server.url}/`);
  await page.getByTestId('login-email').waitFor();
  assert.deepEqual(errors, [], 'no uncaught errors in the page');
});

test('a deep link is served the dashboard (SPA fallback); the API needs a session', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const r = await fetch(`${server.url}/some/client/route`);
  assert.equal(r.status, 200);
  assert.match(await r.text(), /pulse-dashboard/);
  const api = await fetch(`${server.url}/api/stats`);
  assert.equal(api.status, 401);
});

test('the figures show as soon as they are read, not after the lists behind them', async (t) => {
  // No data changes, and no periodic stats push within the test: the figures come from the
  // load alone.
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO_RATE: '0', PULSE_STATS_INTERVAL_MS: '3600000' });
  // Every list read in a load with the figures (the overview's and the frame's) is held
  // until released.
  let release;
  const gate = new Promise((r) => {
    release = r;
  });
  let held = 0;
  await page.route(/\/api\/(notifications|payments|activity|deliveries)\?/, async (route) => {
    held += 1;
    await gate;
    await route.continue();
  });
  await login(page, server.url);
  const liters = page.getByTestId('kpi-liters').locator('.kpi-value');
  await eventually('a list asked for, and held', async () => held > 0);
  await eventually('a figure while the list is held', async () => /\d/.test(await liters.innerText()));
  release();
  await eventually('the lists in once released', async () =>
    (await page.getByTestId('recent-deliveries').locator('tbody tr').count()) > 0);
  assert.deepEqual(errors, []);
});
