// A JS app subscribes to the topics it shows: with `topics: ['notifications']` it gets no
// payments; after `subscribe('payments')` resolves it gets them; after `unsubscribe` none
// again; an unknown topic is refused with INVALID_INPUT, both as an option and as a call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, pay, sdkPageAndServer } from './harness.mjs';

async function post(url, token, path, body) {
  const r = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, await r.text());
}
const deliver = (url, token, quantity) =>
  post(url, token, '/api/deliveries', { customer_id: 4, date: '2026-11-20', quantity });

test('a JS client receives only the topics it subscribed to', async (t) => {
  const { pulse, page, token } = await sdkPageAndServer(t);
  await page.evaluate(
    async ({ server, token }) => {
      const { default: init, PulseClient } = await import('/pkg/pulse_sdk.js');
      await init();
      window.seen = [];
      const client = new PulseClient(server, { token, topics: ['notifications'] });
      for (const e of ['payment:added', 'delivery:updated']) {
        client.on(e, (env) => window.seen.push(`${e} ${env.data.note ?? env.data.quantity}`));
      }
      window.client = client;
    },
    { server: pulse.url, token },
  );
  await eventually('live', () => page.evaluate(() => window.client.status.state === 'live'));
  assert.deepEqual(await page.evaluate(() => window.client.topics), ['notifications']);

  // Not subscribed: a payment does not come; a later subscription's ack proves it was sent
  // before (the server acks after fanning out what came before the ack's head).
  await pay(pulse.url, token, 'unseen');
  const sub = await page.evaluate(() => window.client.subscribe('payments'));
  assert.deepEqual(sub.topics, ['payments', 'notifications']);
  assert.ok(sub.head > 0, JSON.stringify(sub));
  await pay(pulse.url, token, 'seen');
  await deliver(pulse.url, token, 2);
  await eventually('the second payment', () => page.evaluate(() => window.seen.length >= 1));
  await page.evaluate(() => window.client.subscribe('deliveries'));
  await deliver(pulse.url, token, 3);
  await eventually('the second delivery', () => page.evaluate(() => window.seen.length >= 2));
  await page.evaluate(() => window.client.unsubscribe('payments'));
  await pay(pulse.url, token, 'after');
  await deliver(pulse.url, token, 4);
  await eventually('the third delivery', () => page.evaluate(() => window.seen.length >= 3));
  assert.deepEqual(await page.evaluate(() => window.seen), [
    'payment:added seen',
    'delivery:updated 3',
    'delivery:updated 4',
  ]);

  const refused = await page.evaluate(() => window.client.subscribe('kpi').then(() => 'ok', (e) => e.code));
  assert.equal(refused, 'INVALID_INPUT');
  const bad = await page.evaluate(async ({ server, token }) => {
    const { PulseClient } = await import('/pkg/pulse_sdk.js');
    try {
      new PulseClient(server, { token, topics: ['kpi'] });
      return 'constructed';
    } catch (e) {
      return String(e.message);
    }
  }, { server: pulse.url, token });
  assert.match(bad, /unknown topic "kpi"/);
});
