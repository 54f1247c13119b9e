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
