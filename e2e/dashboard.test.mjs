// The dashboard's live behaviour end to end, against the real server in headless Chromium:
// the round trip shown within seconds of sign-in, recording a delivery (optimistic row, ack,
// toast; refusal rolled back), an outage (the indicator goes reconnecting then polling with
// the banner, an action made meanwhile is queued and applied once on return, no duplicate
// rows or toasts), notifications read in one tab dropping the badge in another, and
// screenshots of every page at two widths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, apiLogin, connectionState, eventually, login, serverAndPage } from './harness.mjs';

async function noDuplicates(page, testid) {
  const ids = await page.getByTestId(testid).locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  assert.equal(new Set(ids).size, ids.length, `${testid} has duplicate rows: ${ids}`);
  return ids;
}

async function toastKeys(page) {
  return page.getByTestId('toast').evaluateAll((ts) => ts.map((t) => t.dataset.key));
}

async function recordDelivery(page, { customer, liters }) {
  await page.getByTestId('form-customer').selectOption({ label: customer });
  await page.getByTestId('form-quantity').fill(String(liters));
  await page.getByTestId('form-submit').click();
}

test('record a delivery: optimistic row, ack, toast; a refused one rolls back', async (t) => {
  // No demo traffic: every row and toast here is the test's own.
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  await login(page, server.url);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deliveries' }).click();
  await page.getByTestId('delivery-form').waitFor();
  await eventually('live', async () => (await connectionState(page)) === 'live');
  // The first health ping goes out as the connection comes up: the round trip shows within
  // seconds of signing in, not after the 30 s health interval.
  const indicator = page.getByTestId('connection');
  await eventually('the RTT in the indicator', async () => /^Live · \d+ ms$/.test((await indicator.innerText()).trim()), 5_000);
  await eventually('customers loaded', async () => (await page.getByTestId('form-customer').locator('option').count()) > 10);

  await recordDelivery(page, { customer: 'Carmen Diaz', liters: 3.5 });
  const table = page.getByTestId('deliveries-table');
  const row = table.locator('tbody tr', { hasText: 'Carmen Diaz' });
  await eventually('saved row', async () => (await row.count()) === 1 && (await row.getAttribute('data-state')) === 'saved');
  assert.match(await row.innerText(), /3\.5 L/);
  const toast = page.getByTestId('toast').filter({ hasText: 'Carmen Diaz' });
  await eventually('toast', async () => (await toast.count()) === 1);
  await noDuplicates(page, 'deliveries-table');

  // The server refuses 20,000 L (its limit is 10,000): the row goes away, an error toast says why.
  await recordDelivery(page, { customer: 'Hugo Martin', liters: 20000 });
  const err = page.getByTestId('toast').filter({ hasText: 'failed' });
  await eventually('error toast', async () => (await err.count()) === 1);
  assert.equal(await table.locator('tbody tr', { hasText: 'Hugo Martin' }).count(), 0);

  // The overview shows it too.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  await eventually('on the overview', async () => (await page.getByTestId('recent-deliveries').innerText()).includes('Carmen Diaz'));
  assert.deepEqual(errors, []);
});

test('outage: reconnecting, then polling with a banner; a queued action applies once; live again without duplicates', async (t) => {
  const { server, page } = await serverAndPage(t, { PULSE_DEMO_RATE: '2', PULSE_STATS_INTERVAL_MS: '500' });
  await login(page, server.url);
  await eventually('live', async () => (await connectionState(page)) === 'live');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deliveries' }).click();
  await page.getByTestId('delivery-form').waitFor();
  await eventually('rows', async () => (await page.getByTestId('deliveries-table').locator('tbody tr').count()) > 0);
  // The form's customers too (their own request, after the page's code has come), before the
  // server goes: the action below picks one.
  await eventually('customers loaded', async () => (await page.getByTestId('form-customer').locator('option').count()) > 10);

  await server.stop();
  const states = new Set();
  await eventually('reconnecting then polling', async () => {
    states.add(await connectionState(page));
    return states.has('reconnecting') && states.has('polling');
  }, 30_000);
  const banner = page.getByTestId('fallback-banner');
  await banner.waitFor();
  assert.match(await banner.innerText(), /Live updates are paused.*every \d+ s/);
  await page.screenshot({ path: join(ARTIFACTS, 'outage-polling-desktop.png') });

  // An action while the server is away: shown as queued, counted as pending.
  await recordDelivery(page, { customer: 'Mei Chen', liters: 7.5 });
  const queued = page.getByTestId('deliveries-table').locator('tbody tr', { hasText: 'Mei Chen' }).filter({ hasText: '7.5 L' });
  await eventually('queued row', async () => (await queued.getAttribute('data-state')) === 'queued');
  await page.getByTestId('pending-actions').waitFor();

  await server.start();
  await eventually('live again', async () => (await connectionState(page)) === 'live', 30_000);
  await eventually('queued action confirmed', async () => (await queued.count()) === 1 && (await queued.getAttribute('data-state')) === 'saved', 20_000);
  await eventually('no pending', async () => (await page.getByTestId('pending-actions').count()) === 0);
  assert.equal(await banner.count(), 0);
  // Exactly one such delivery on the server: the queued emit applied once.
  const session = await apiLogin(server.url);
  const day = new Date().toISOString().slice(0, 10);
  const r = await fetch(`${server.url}/api/deliveries?date=${day}&limit=500`, { headers: { authorization: `Bearer ${session.token}` } });
  const mine = (await r.json()).items.filter((d) => d.customer_name === 'Mei Chen' && d.quantity === 7.5);
  assert.equal(mine.length, 1);

  // Replayed and live events after the return: no row or toast twice.
  await page.waitForTimeout(3000);
  await noDuplicates(page, 'deliveries-table');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  await eventually('overview rows', async () => (await page.getByTestId('recent-deliveries').locator('tbody tr').count()) > 0);
  await noDuplicates(page, 'recent-deliveries');
  await noDuplicates(page, 'recent-payments');
  const keys = await toastKeys(page);
  assert.equal(new Set(keys).size, keys.length, `duplicate toasts: ${keys}`);
});

test('marking a notification read drops the badge in a second tab', async (t) => {
  const { server, browser, page: a } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  await login(a, server.url);
  const b = await browser.newPage();
  await b.goto(server.url); // same session, from storage
  await b.getByTestId('kpi-liters').waitFor();
  for (const p of [a, b]) await eventually('live', async () => (await connectionState(p)) === 'live');

  // A large payment notifies the tenant's users.
  const session = await apiLogin(server.url);
  const customers = await (await fetch(`${server.url}/api/customers?limit=5`, { headers: { authorization: `Bearer ${session.token}` } })).json();
  for (const amount of [500, 750]) {
    const r = await fetch(`${server.url}/api/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customer_id: customers.items[0].id, amount, method: 'BANK' }),
    });
    assert.equal(r.status, 200);
  }
  const badge = (p) => p.getByTestId('unread-badge');
  const count = async (p) => ((await badge(p).isVisible()) ? Number(await badge(p).innerText()) : 0);
  await eventually('badges in both tabs', async () => (await count(a)) >= 2 && (await count(b)) >= 2);
  const before = await count(b);

  await a.getByTestId('bell').click();
  await a.getByTestId('notifications').waitFor();
  await a.screenshot({ path: join(ARTIFACTS, 'notifications-desktop.png') });
  await a.getByTestId('mark-read').first().click();
  await eventually('badge drops in the other tab', async () => (await count(b)) === before - 1, 5_000);
  await a.getByTestId('mark-all-read').click();
  await eventually('all read everywhere', async () => (await count(a)) === 0 && (await count(b)) === 0, 5_000);
});

test('screenshots of every page at desktop and phone widths', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO_RATE: '3', PULSE_STATS_INTERVAL_MS: '500' });
  await page.goto(`${server.url}/login`);
  await page.getByTestId('login-email').waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'login-desktop.png') });
  await login(page, server.url);
  await page.waitForTimeout(4000);
  const pages = [
    ['deliveries', 'deliveries-table'],
    ['payments', 'payments-table'],
    ['customers', 'customers-table'],
    ['system', 'health-connection'],
  ];
  for (const [path, testid] of pages) {
    await page.goto(`${server.url}/${path}`);
    await page.getByTestId(testid).waitFor();
    await page.waitForTimeout(1500);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, `${path}-desktop.png`) });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(ARTIFACTS, `${path}-phone.png`) });
    await page.setViewportSize({ width: 1280, height: 800 });
  }
  assert.match(await page.getByTestId('server-connections').innerText(), /^\d+$/);
  assert.deepEqual(errors, []);
});
