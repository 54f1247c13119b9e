// A JS app resumes across page reloads: it keeps `client.position` ({ seq, epoch }) in
// localStorage, and after a reload hands it back as the `position` option: the payments made
// while the page was away arrive, and none from before. A position of another log (a wrong
// epoch) is answered RESYNC_REQUIRED, so the app knows to reload its state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, pay, sdkPageAndServer } from './harness.mjs';

/** In the page: a client on `server` that records payment notes and error codes. */
async function startClient(page, server, token, position) {
  await page.evaluate(
    async ({ server, token, position }) => {
      const { default: init, PulseClient } = await import('/pkg/pulse_sdk.js');
      await init();
      window.notes = [];
      window.errors = [];
      const client = new PulseClient(server, position ? { token, position } : { token });
      client.on('payment:added', (env) => window.notes.push(env.data.note));
      client.on('error', (e) => window.errors.push(e.code));
      window.client = client;
    },
    { server, token, position },
  );
  await eventually('live', () => page.evaluate(() => window.client.status.state === 'live'));
}

test('a JS client resumes from a position kept across a reload', async (t) => {
  const { pulse, page, token } = await sdkPageAndServer(t);

  await startClient(page, pulse.url, token);
  await pay(pulse.url, token, 'a1');
  await pay(pulse.url, token, 'a2');
  await eventually('a1 and a2', () => page.evaluate(() => window.notes.length === 2));
  const saved = await page.evaluate(() => {
    const p = window.client.position;
    localStorage.setItem('position', JSON.stringify(p));
    return p;
  });
  assert.ok(saved.seq >= 2 && typeof saved.epoch === 'string' && saved.epoch.length > 0, JSON.stringify(saved));

  // Away: the page reloads while two more payments are made.
  await page.reload();
  await pay(pulse.url, token, 'b1');
  await pay(pulse.url, token, 'b2');
  const position = await page.evaluate(() => JSON.parse(localStorage.getItem('position')));
  await startClient(page, pulse.url, token, position);
  await eventually('the missed payments', () => page.evaluate(() => window.notes.length >= 2));
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await page.evaluate(() => window.notes), ['b1', 'b2']);

  // A position of another log: told to resync.
  await page.reload();
  await startClient(page, pulse.url, token, { seq: saved.seq, epoch: 'another-log' });
  await eventually('RESYNC_REQUIRED', () => page.evaluate(() => window.errors.includes('RESYNC_REQUIRED')));
});
