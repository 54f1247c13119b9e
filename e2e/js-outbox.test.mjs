// A JS app's actions outlive the page: with the `outbox` option, `emitAction` keeps each
// action in localStorage until the server answers. Three payments made while the server is
// down survive a reload; the next page gets them from `restoredActions()` with their meta,
// and once the server is back each is applied exactly once and answered there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, sdkPageAndServer } from './harness.mjs';

const NOTES = ['js-outbox-1', 'js-outbox-2', 'js-outbox-3'];

/** In the page: a client on `server` with the outbox; its restored actions' answers go to window.answers. */
async function startClient(page, server, token) {
  return page.evaluate(
    async ({ server, token }) => {
      const { default: init, PulseClient } = await import('/pkg/pulse_sdk.js');
      await init();
      window.client = new PulseClient(server, { token, outbox: 'app.outbox.', reconnectionDelayMax: 500 });
      window.answers = [];
      const restored = window.client.restoredActions();
      for (const r of restored) r.reply.then((a) => window.answers.push({ note: r.meta.note, ok: a.ok, id: a.data?.id }));
      return restored.map((r) => ({ event: r.event, note: r.data.note, meta: r.meta.note, key: typeof r.data.idempotency_key }));
    },
    { server, token },
  );
}

test('JS actions kept in the outbox survive a reload and apply once when the server is back', async (t) => {
  const { pulse, page, token } = await sdkPageAndServer(t);

  assert.deepEqual(await startClient(page, pulse.url, token), [], 'nothing left from before');
  await eventually('live', () => page.evaluate(() => window.client.status.state === 'live'));
  await pulse.stop();
  await eventually('not live', () => page.evaluate(() => window.client.status.state !== 'live'));
  await page.evaluate((notes) => {
    for (const note of notes) {
      window.client.emitAction('payment:add', { customer_id: 4, amount: 2.5, method: 'CASH', note }, { note }).catch(() => {});
    }
  }, NOTES);
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('app.outbox.')).length), 3);

  // The page reloads while the server is still away: the next client has them.
  await page.reload();
  const restored = await startClient(page, pulse.url, token);
  assert.deepEqual(restored, NOTES.map((note) => ({ event: 'payment:add', note, meta: note, key: 'string' })));
  assert.deepEqual(await page.evaluate(() => window.client.restoredActions()), [], 'given once');

  await pulse.start();
  await eventually('all answered', () => page.evaluate(() => window.answers.length === 3), 30_000);
  const answers = await page.evaluate(() => window.answers);
  assert.ok(answers.every((a) => a.ok && Number.isInteger(a.id)), JSON.stringify(answers));
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('app.outbox.')).length), 0);
  const r = await fetch(`${pulse.url}/api/payments?limit=200`, { headers: { authorization: `Bearer ${token}` } });
  const items = (await r.json()).items;
  for (const note of NOTES) assert.equal(items.filter((p) => p.note === note).length, 1, `${note} applied once`);

  // A payload that is not an object cannot carry a key: refused with STORAGE, nothing sent.
  const code = await page.evaluate(() => window.client.emitAction('payment:add', [1]).then(() => 'sent', (e) => e.code));
  assert.equal(code, 'STORAGE');
});

test('JS actions made in one millisecond are restored in the order they were made', async (t) => {
  const { pulse, page, token } = await sdkPageAndServer(t);
  // Nothing is sent while the server is away: the order is the one the page is given.
  await pulse.stop();
  const notes = await page.evaluate(() => {
    // As a client leaves them: its keys are `<nonce>-<counter>`, the counter in decimal.
    const made = [2, 9, 10, 11].map((n) => {
      const key = `00000000000000ab-${n}`;
      return { key, event: 'payment:add', payload: { customer_id: 4, amount: 1, method: 'CASH', note: `n${n}`, idempotency_key: key }, meta: { note: `n${n}` }, at_ms: 1_700_000_000_000 };
    });
    for (const a of [...made].reverse()) localStorage.setItem(`app.outbox.${[...a.key].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('')}`, JSON.stringify(a));
    return made.map((a) => a.payload.note);
  });
  const restored = await startClient(page, pulse.url, token);
  assert.deepEqual(
    restored.map((r) => r.note),
    notes,
  );
});
