// Every form sends its action the same way (the deliveries form is covered in
// dashboard.test.mjs): the payment form shows the payment at once, the ack confirms it with
// a toast, and a refused one is rolled back with a toast naming the server's reason; the
// customer forms toast a refusal with the reason too and keep the form open, and a saved
// edit shows in the list. Real server, headless Chromium, no demo traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionState, eventually, login, serverAndPage } from './harness.mjs';

const nav = (page) => page.getByRole('navigation', { name: 'Main' });

async function pay(page, { customer, amount }) {
  await page.getByTestId('pay-customer').selectOption({ label: customer });
  await page.getByTestId('pay-amount').fill(String(amount));
  await page.getByTestId('pay-submit').click();
}

test('payments and customer edits: shown at once, confirmed by the ack, refusals rolled back with the reason', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  await login(page, server.url);
  await eventually('live', async () => (await connectionState(page)) === 'live');
  const toasts = page.getByTestId('toast');

  // A payment: its row, then the ack's toast, once.
  await nav(page).getByRole('link', { name: 'Payments' }).click();
  await page.getByTestId('payment-form').waitFor();
  await eventually('customers loaded', async () => (await page.getByTestId('pay-customer').locator('option').count()) > 10);
  await pay(page, { customer: 'Carmen Diaz', amount: 12.34 });
  const table = page.getByTestId('payments-table');
  const mine = table.locator('tbody tr', { hasText: '12.34' });
  await eventually('saved row', async () => (await mine.count()) === 1 && (await mine.getAttribute('data-state')) === 'saved');
  await eventually('toast', async () => (await toasts.filter({ hasText: 'Payment recorded' }).count()) === 1);

  // Above the server's limit: the pending row goes away and the toast says why.
  await pay(page, { customer: 'Hugo Martin', amount: 2000000 });
  const refused = toasts.filter({ hasText: 'Payment failed' });
  await eventually('error toast', async () => (await refused.count()) === 1);
  assert.match(await refused.innerText(), /Hugo Martin.*at most/s);
  await eventually('rolled back', async () => (await table.locator('tbody tr', { hasText: 'Hugo Martin' }).count()) === 0);

  // A customer edit the server refuses (price above its limit): the toast says why, the
  // form stays open with the reason.
  await nav(page).getByRole('link', { name: 'Customers' }).click();
  const customers = page.getByTestId('customers-table');
  await eventually('customers listed', async () => (await customers.locator('tbody tr').count()) > 10);
  const row = customers.locator('tbody tr', { hasText: 'Carmen Diaz' });
  await row.getByRole('button', { name: 'Edit Carmen Diaz' }).click();
  const form = page.getByTestId('customer-form');
  await form.getByLabel('Price per liter').fill('20000');
  await form.getByRole('button', { name: 'Save' }).click();
  const notSaved = toasts.filter({ hasText: 'Customer not saved' });
  await eventually('refusal toast', async () => (await notSaved.count()) === 1);
  assert.match(await notSaved.innerText(), /at most/);
  assert.match(await form.getByRole('alert').innerText(), /at most/);

  // Saved: the list shows the new phone, the form closes, a toast confirms.
  await form.getByLabel('Price per liter').fill('1.25');
  await form.getByLabel('Phone').fill('+1 555 0100');
  await form.getByRole('button', { name: 'Save' }).click();
  await eventually('saved in the list', async () => (await row.innerText()).includes('+1 555 0100'));
  await eventually('form closed', async () => (await form.count()) === 0);
  await eventually('saved toast', async () => (await toasts.filter({ hasText: 'Customer saved' }).count()) === 1);
  assert.deepEqual(errors, []);
});
