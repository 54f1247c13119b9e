// Offline actions survive the tab: with the server gone, an admin records 3 deliveries, closes
// the tab, opens the dashboard again (the service worker serves the app shell: nothing
// answers on the server's port), and reloads it. The dashboard shows its last figures marked
// stale, and the 3 deliveries pending. When the server is back, each is applied exactly once,
// the rows are saved, and nothing is left to send. Real server, headless Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiLogin, connectionState, eventually, launchBrowser, login, startServer } from './harness.mjs';

const LITERS = [11.1, 12.2, 13.3];

async function recordDelivery(page, liters) {
  await page.getByTestId('form-customer').selectOption({ label: 'Carmen Diaz' });
  await page.getByTestId('form-quantity').fill(String(liters));
  await page.getByTestId('form-submit').click();
}

const rowsOf = (page, liters) =>
  page.getByTestId('deliveries-table').locator('tbody tr', { hasText: 'Carmen Diaz' }).filter({ hasText: `${liters} L` });

async function outboxSize(page) {
  return page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('pulse.outbox.')).length);
}

test('offline: deliveries recorded with no server survive closing and reloading the tab, and apply once when it is back', async (t) => {
  const server = await startServer({ env: { PULSE_DEMO: 'false' } });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  let page = await browser.newPage();
  const errors = [];
  const watch = (p) => p.on('pageerror', (e) => errors.push(String(e)));
  watch(page);

  await login(page, server.url);
  await eventually('live', async () => (await connectionState(page)) === 'live');
  const nav = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  // One delivery while online, so the figures kept are not zeros.
  await nav('Deliveries');
  await eventually('customers loaded', async () => (await page.getByTestId('form-customer').locator('option').count()) > 10);
  await recordDelivery(page, 5.5);
  await eventually('saved online', async () => (await rowsOf(page, 5.5).getAttribute('data-state')) === 'saved');
  await nav('Overview');
  await eventually('the delivery in the figures', async () => /5\.5 L/.test(await page.getByTestId('kpi-liters').innerText()));
  // The service worker controls the page, and the last figures are kept on this browser.
  await eventually('service worker in control', () => page.evaluate(() => navigator.serviceWorker.controller !== null));
  await eventually('snapshot with the delivery', () => page.evaluate(() => {
    const k = Object.keys(localStorage).find((k) => k.startsWith('pulse.snapshot.'));
    return k && JSON.parse(localStorage.getItem(k)).stats?.data.today_liters === 5.5;
  }), 15_000);
  await nav('Deliveries');
  await page.getByTestId('delivery-form').waitFor();

  await server.stop();
  await eventually('not live', async () => (await connectionState(page)) !== 'live');
  for (const l of LITERS) await recordDelivery(page, l);
  for (const l of LITERS) {
    await eventually(`queued row ${l}`, async () => (await rowsOf(page, l).getAttribute('data-state')) === 'queued');
  }
  assert.equal(await outboxSize(page), 3, 'each action is kept on this browser');

  // Close the tab and open the dashboard again, with no server: the shell comes from the
  // service worker, the figures from the snapshot (marked stale), the actions from the outbox.
  await page.close();
  page = await browser.newPage();
  watch(page);
  await page.goto(`${server.url}/deliveries`);
  for (const p of [0, 1]) {
    if (p === 1) await page.reload(); // and a reload, still offline
    await page.getByTestId('stale-banner').waitFor({ timeout: 15_000 });
    assert.match(await page.getByTestId('stale-banner').innerText(), /Showing the figures from \d{2}:\d{2}/);
    await eventually('3 pending', async () => (await page.getByTestId('pending-actions').innerText()).trim() === '3 pending');
    for (const l of LITERS) {
      await eventually(`restored row ${l}`, async () => (await rowsOf(page, l).getAttribute('data-state')) === 'queued');
    }
  }
  const nav2 = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await nav2('Overview');
  assert.match(await page.getByTestId('kpi-liters').innerText(), /5\.5 L/, 'the last figures, not blanks');
  assert.match(await page.getByTestId('recent-deliveries').innerText(), /Carmen Diaz/);
  // Pages never opened while online: their code (chunks loaded on demand) was kept too.
  await nav2('Customers');
  await page.getByTestId('customer-search').waitFor({ timeout: 10_000 });
  await nav2('System');
  await page.getByTestId('health-connection').waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId('page-unavailable').count(), 0);
  await nav2('Deliveries');

  // The server is back: each action is applied once, the rows are saved, nothing is left.
  await server.start();
  await eventually('live again', async () => (await connectionState(page)) === 'live', 30_000);
  for (const l of LITERS) {
    await eventually(`saved row ${l}`, async () => (await rowsOf(page, l).count()) === 1 && (await rowsOf(page, l).getAttribute('data-state')) === 'saved', 20_000);
  }
  await eventually('no pending', async () => (await page.getByTestId('pending-actions').count()) === 0);
  await eventually('fresh figures', async () => (await page.getByTestId('stale-banner').count()) === 0);
  assert.equal(await outboxSize(page), 0);
  const session = await apiLogin(server.url);
  const day = new Date().toISOString().slice(0, 10);
  const r = await fetch(`${server.url}/api/deliveries?date=${day}&limit=500`, { headers: { authorization: `Bearer ${session.token}` } });
  const items = (await r.json()).items;
  for (const l of LITERS) {
    assert.equal(items.filter((d) => d.customer_name === 'Carmen Diaz' && d.quantity === l).length, 1, `${l} L applied once`);
  }
  // A reload now sends nothing again.
  await page.reload();
  await eventually('live after reload', async () => (await connectionState(page)) === 'live', 30_000);
  assert.equal(await page.getByTestId('pending-actions').count(), 0);
  assert.deepEqual(errors, []);
});
