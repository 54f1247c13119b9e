// Toasts for what matters, on a phone: with the demo business recording deliveries and small
// payments, the pages update and no toast appears; a payment from the large-payment amount up
// raises one toast (the notification every user gets, not a second one of the dashboard's),
// and lowering the admin's threshold makes smaller ones news. On a phone one toast shows
// at a time, and scrolled to the end nothing on the page sits under it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiLogin, eventually, login, serverAndPage } from './harness.mjs';

async function pay(url, token, amount, note) {
  const r = await fetch(`${url}/api/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ customer_id: 5, amount, method: 'BANK', note }),
  });
  assert.equal(r.status, 200);
}

test('only news worth it raises a toast, and on a phone it covers nothing', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO: 'true', PULSE_DEMO_RATE: '6' });
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page, server.url);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Payments' }).click();
  const rows = page.getByTestId('payments-table').locator('tbody tr');
  const toasts = page.getByTestId('toast');

  // The generator records several deliveries and a payment or two: rows arrive, no toast.
  const before = await rows.count();
  await eventually('live rows', async () => (await rows.count()) > before + 1);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await toasts.count(), 0, `toasts for routine news: ${await toasts.allInnerTexts()}`);

  // A payment from the large-payment amount (100.00) up is news, once.
  const { token } = await apiLogin(server.url);
  await pay(server.url, token, 250, 'big one');
  const large = toasts.filter({ hasText: '250.00' });
  await eventually('a toast for the large payment', async () => (await large.count()) >= 1);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await large.count(), 1, `one toast per payment: ${await large.allInnerTexts()}`);

  // On a phone one toast shows at a time, and the page keeps room for it: scrolled to the
  // end, the last row ends above the toast.
  await pay(server.url, token, 300, 'another big one');
  const visibleNow = () => toasts.evaluateAll((ts) => ts.filter((t) => t.offsetParent !== null).length);
  let most = 0;
  for (const until = Date.now() + 4000; Date.now() < until; ) {
    most = Math.max(most, await visibleNow());
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(most, 1, 'one toast at a time on a phone');
  await pay(server.url, token, 400, 'a third big one');
  // Both boxes measured at one moment in the page: a toast leaves after a while, and one
  // looked up apart from the rows could be gone by then (it was, once, on a busy machine).
  const layout = await eventually('a toast on screen, scrolled to the end', () =>
    page.evaluate(() => {
      window.scrollTo(0, document.body.scrollHeight);
      const toast = [...document.querySelectorAll('[data-testid="toast"]')].find((e) => e.offsetParent !== null);
      const all = document.querySelectorAll('[data-testid="payments-table"] tbody tr');
      if (!toast || all.length === 0) return null;
      const t = toast.getBoundingClientRect();
      const last = all[all.length - 1].getBoundingClientRect();
      return { toastTop: t.top, lastBottom: last.bottom };
    }),
  );
  assert.ok(layout.lastBottom <= layout.toastTop, `the last row ends under the toast: ${JSON.stringify(layout)}`);

  // The admin lowers the threshold to 50: a payment of 60 is news now (the generator's are
  // smaller, so they stay quiet and the toast is ours).
  await page.getByTestId('large-payment').fill('50');
  await page.getByTestId('large-payment').dispatchEvent('change');
  await pay(server.url, token, 60, 'news now');
  await eventually('a toast for a payment of 60', async () => (await toasts.filter({ hasText: '60.00' }).count()) >= 1, 10_000);
  // Kept on this browser.
  assert.equal(await page.evaluate(() => localStorage.getItem('pulse.toasts.largePayment')), '50');
  assert.deepEqual(errors, []);
});

// The stack is keyed by toast: each toast is one node, added on top (the live region announces
// added nodes, so a new toast must be a new node and an old one must not be redrawn as new),
// the oldest leaves past four, and Dismiss removes that toast and no other.
test('each toast is one node, added on top, dismissed alone', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO: 'true', PULSE_DEMO_RATE: '0' });
  await page.setViewportSize({ width: 1280, height: 900 });
  await login(page, server.url);
  const live = page.locator('.toast-live');
  await live.evaluate((el) => {
    window.toastLog = [];
    new MutationObserver((records) => {
      for (const r of records) {
        for (const n of r.addedNodes) {
          // Above every other toast (the renderer keeps a comment node as a marker).
          let above = r.previousSibling;
          while (above && above.nodeType !== 1) above = above.previousSibling;
          if (n.nodeType === 1) window.toastLog.push({ added: n.textContent, onTop: above === null });
        }
        for (const n of r.removedNodes) if (n.nodeType === 1) window.toastLog.push({ removed: n.textContent });
      }
    }).observe(el, { childList: true });
  });
  const { token } = await apiLogin(server.url);
  const texts = () => page.getByTestId('toast').locator('.toast-body').allInnerTexts();
  // Five large payments, one after another's toast: the first is pushed out by the fifth.
  for (const amount of [501, 502, 503, 504, 505]) {
    await pay(server.url, token, amount, `stack ${amount}`);
    await eventually(`a toast for ${amount}`, async () => (await texts()).some((b) => b.includes(`${amount}.00`)));
  }
  const shown = await texts();
  assert.deepEqual(
    shown.map((b) => b.match(/50\d\.00/)?.[0]),
    ['505.00', '504.00', '503.00', '502.00'],
    `newest on top, four at most: ${shown}`,
  );
  // Dismiss the one in the middle.
  await page.getByTestId('toast').filter({ hasText: '503.00' }).getByRole('button', { name: 'Dismiss' }).click();
  assert.deepEqual((await texts()).map((b) => b.match(/50\d\.00/)?.[0]), ['505.00', '504.00', '502.00']);

  const log = await page.evaluate(() => window.toastLog);
  const added = log.filter((e) => e.added !== undefined);
  assert.equal(added.length, 5, `one node per toast, none redrawn: ${JSON.stringify(log)}`);
  assert.ok(added.every((e) => e.onTop), `each added on top: ${JSON.stringify(log)}`);
  const removed = log.filter((e) => e.removed !== undefined).map((e) => e.removed.match(/50\d\.00/)?.[0]);
  assert.deepEqual(removed, ['501.00', '503.00'], `only the pushed out and the dismissed left: ${JSON.stringify(log)}`);
  assert.deepEqual(errors, []);
});
