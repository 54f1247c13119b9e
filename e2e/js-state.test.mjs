// The JS package's live state (`@pulse-realtime/sdk/state`): the example page fills it over
// REST once and the socket keeps it live. Checked against the server's own REST answers; a
// part that did not change keeps its identity; the declared TypeScript shapes match the rows
// the page really gets; bad input to `loadState` is refused and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, eventually, sdkFolderPage, sdkPageAndServer } from './harness.mjs';

async function call(url, token, method, path, body) {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body && JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

/** The field names of `interface name` in the package's declarations. */
function declared(dts, name) {
  const body = dts.match(new RegExp(`export interface ${name} \\{([^}]*)\\}`))?.[1];
  assert.ok(body, `${name} is declared`);
  return body
    .replace(/\/\*\*[\s\S]*?\*\//g, '')
    .split(/[;\n]/)
    .map((f) => f.trim().match(/^(\w+)\??:/)?.[1])
    .filter(Boolean)
    .sort();
}

test('the live state of a JS page follows the server', async (t) => {
  const { pulse, page, token, errors } = await sdkPageAndServer(t, {
    env: { PULSE_DEMO_RATE: '0', PULSE_STATS_INTERVAL_MS: '200' },
    path: (server) => `/examples/js/state.html?server=${server}&autoconnect=1`,
  });
  await eventually('loaded', async () => (await page.locator('body').getAttribute('data-loaded')) === 'true');
  await eventually('live', async () => (await page.locator('#connection').getAttribute('data-state')) === 'live');

  // What REST says is what the state holds, in the same order (newest first).
  const rest = await call(pulse.url, token, 'GET', '/api/deliveries?limit=50');
  const ids = () => page.evaluate(() => window.client.state().deliveries.map((d) => d.id));
  assert.ok(rest.items.length > 0, 'the demo data has deliveries');
  assert.deepEqual(await ids(), rest.items.map((d) => d.id));
  const rows = await page.locator('#deliveries tr').count();
  assert.equal(rows, Math.min(10, rest.items.length), 'the page drew them');
  const stats = await call(pulse.url, token, 'GET', '/api/stats');
  assert.equal(await page.locator('#liters').innerText(), stats.data.today_liters.toFixed(1));

  // A large payment: payments, balances, notifications and stats change; deliveries do not,
  // and keep their identity, so a UI comparing by reference skips them.
  await page.evaluate(() => {
    window.before = window.client.state();
    window.told = [];
    window.client.onState((_, changed) => window.told.push(...changed));
  });
  const unread = await page.evaluate(() => window.before.unread);
  const paid = await call(pulse.url, token, 'POST', '/api/payments', {
    customer_id: 4, amount: 150, method: 'CASH', note: 'state test',
  });
  await eventually('the payment in the state', () =>
    page.evaluate((id) => window.client.state().payments[0]?.id === id, paid.id));
  await eventually('its notification', () =>
    page.evaluate((n) => window.client.state().unread === n + 1, unread));
  const after = await page.evaluate(() => {
    const s = window.client.state();
    const b = window.before;
    return {
      sameDeliveries: s.deliveries === b.deliveries,
      samePayments: s.payments === b.payments,
      again: s === window.client.state(),
      frozen: Object.isFrozen(s) && Object.isFrozen(s.payments) && Object.isFrozen(s.payments[0]),
    };
  });
  assert.deepEqual(after, { sameDeliveries: true, samePayments: false, again: true, frozen: true });
  await eventually('the page shows the payment', async () =>
    (await page.locator('#payments tr').first().getAttribute('data-id')) === String(paid.id));
  await eventually('the unread count', async () => (await page.locator('#unread').innerText()) === String(unread + 1));
  const balance = await page.evaluate(() => window.client.state().balances['4']);
  const customers = await call(pulse.url, token, 'GET', '/api/customers?limit=500');
  assert.equal(balance, customers.items.find((c) => c.id === 4).balance);
  const told = await page.evaluate(() => window.told);
  for (const part of ['payments', 'customers', 'notifications']) assert.ok(told.includes(part), `${part} in ${told}`);

  // The rows are exactly what the declarations promise.
  const dts = readFileSync(join(ROOT, 'client-sdk/pkg/state/pulse_sdk.d.ts'), 'utf8');
  const keys = await page.evaluate(() => {
    const s = window.client.state();
    const first = (list) => Object.keys(list[0] ?? {}).sort();
    return {
      state: Object.keys(s).sort(),
      delivery: first(s.deliveries),
      payment: first(s.payments),
      customer: first(s.customers),
      notification: first(s.notifications),
      stats: Object.keys(s.stats.data).sort(),
    };
  });
  assert.deepEqual(keys.state, declared(dts, 'PulseState'));
  assert.deepEqual(keys.delivery, declared(dts, 'PulseDelivery'));
  assert.deepEqual(keys.payment, declared(dts, 'PulsePayment'));
  assert.deepEqual(keys.customer, declared(dts, 'PulseCustomer'));
  assert.deepEqual(keys.stats, declared(dts, 'PulseStats'));
  assert.deepEqual(keys.notification, declared(dts, 'PulseNotification'));

  // An edit through REST moves the row up in place, no duplicate.
  const last = rest.items[rest.items.length - 1];
  await call(pulse.url, token, 'PUT', `/api/deliveries/${last.id}`, {
    customer_id: last.customer_id, date: last.date, quantity: last.quantity + 1,
  });
  await eventually('the edited delivery first', async () => (await ids())[0] === last.id);
  assert.equal((await ids()).filter((id) => id === last.id).length, 1);

  // Bad input to loadState is refused with INVALID_INPUT and changes nothing.
  const refused = await page.evaluate(() => {
    const c = window.client;
    const before = c.state();
    const codes = [];
    for (const [part, data] of [['kpis', []], ['deliveries', [{ id: 'x' }]], ['stats', { seq: 1 }], ['payments', 7]]) {
      try {
        c.loadState(part, data);
        codes.push('accepted');
      } catch (e) {
        codes.push(e.code);
      }
    }
    return { codes, same: c.state() === before };
  });
  assert.deepEqual(refused, { codes: Array(4).fill('INVALID_INPUT'), same: true });
  assert.deepEqual(errors, []);
});

test('the package without the state has none of its API', async (t) => {
  const page = await sdkFolderPage(t);
  const api = await page.evaluate(async () => {
    const { default: init, PulseClient } = await import('/pkg/pulse_sdk.js');
    await init();
    return ['state', 'onState', 'loadState'].map((m) => typeof PulseClient.prototype[m]);
  });
  assert.deepEqual(api, ['undefined', 'undefined', 'undefined']);
  const dts = readFileSync(join(ROOT, 'client-sdk/pkg/pulse_sdk.d.ts'), 'utf8');
  assert.ok(!dts.includes('PulseState'), 'no state types in the events-only package');
});
