// The pages after the overview are wasm chunks loaded on demand (dashboard/src/on_demand.rs,
// scripts/split-dashboard.mjs): the first load fetches none of them; once live, the app
// fetches them in the background; a page whose code cannot be fetched shows an error with a
// retry, the rest of the app goes on, and the retry shows the page once the code comes.
// Real server, headless Chromium, the release build in dist/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionState, eventually, launchBrowser, login, startServer } from './harness.mjs';

const isChunk = (url) => /\/pulse-dashboard-[\w]+-[0-9a-f]{12,16}\.wasm$/.test(new URL(url).pathname);
const CUSTOMERS = /\/pulse-dashboard-customers-[0-9a-f]{12,16}\.wasm$/;

test('pages load on demand: none in the first load, fetched once live, a failed fetch shown with a retry', async (t) => {
  const server = await startServer({ env: { PULSE_DEMO: 'false' } });
  t.after(() => server.stop());
  // Without the service worker, which would fetch the chunks itself, out of page.route's sight.
  const browser = await launchBrowser({ serviceWorkers: 'block' });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const wasm = [];
  page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasm.push(r.url()); });

  await page.goto(`${server.url}/login`);
  await page.getByTestId('login-email').waitFor();
  assert.equal(wasm.filter(isChunk).length, 0, `the first load fetched a page's chunk: ${wasm}`);
  assert.equal(wasm.filter((u) => u.endsWith('_bg.wasm')).length, 1);

  // The customers page's own chunk cannot be fetched (a network that drops it).
  await page.route(CUSTOMERS, (r) => r.abort('connectionfailed'));
  await login(page, server.url);
  await eventually('live', async () => (await connectionState(page)) === 'live');
  await eventually('the other pages fetched once live', async () => wasm.some((u) => /-deliveries-[0-9a-f]{12,16}\.wasm$/.test(u)));

  const nav = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await nav('Customers');
  await page.getByTestId('page-unavailable').waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId('customer-search').count(), 0);
  // The rest of the app goes on.
  await nav('Deliveries');
  await page.getByTestId('delivery-form').waitFor({ timeout: 10_000 });
  assert.equal(await connectionState(page), 'live');

  // Opening it again tries again (and fails again); the network comes back; the retry
  // button shows the page.
  await nav('Customers');
  await page.getByTestId('page-unavailable').waitFor({ timeout: 10_000 });
  await page.unroute(CUSTOMERS);
  await page.getByTestId('page-unavailable').getByRole('button', { name: 'Try again' }).click();
  await page.getByTestId('customer-search').waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId('page-unavailable').count(), 0);
  assert.deepEqual(errors, []);
});
