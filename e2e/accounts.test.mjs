// Accounts and customers in the real dashboard, headless Chromium against the real server: an
// admin adds a customer in one tab and a second tab lists it live; an admin adds a user on the
// Users page; a staff member sees neither the Users link nor the page, nor customer controls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, connectionState, eventually, launchBrowser, login, serverAndPage } from './harness.mjs';

const STAFF = { email: 'staff@pulse.demo', password: 'pulse-demo' };
const nav = (page) => page.getByRole('navigation', { name: 'Main' });

test('a customer added in one tab appears live in another; users are added on the Users page', async (t) => {
  // No demo traffic: the only changes are the test's own.
  const { server, browser, page: a, errors } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  await login(a, server.url);
  const b = await browser.newPage();
  await b.goto(`${server.url}/customers`); // same session, from storage
  await b.getByTestId('customers-table').waitFor();
  await a.goto(`${server.url}/customers`);
  await a.getByTestId('customers-table').waitFor();
  for (const p of [a, b]) await eventually('live', async () => (await connectionState(p)) === 'live');
  const rows = (p) => p.getByTestId('customers-table').locator('tbody tr', { hasText: 'Zawadi Mrema' });
  assert.equal(await rows(b).count(), 0);

  await a.getByTestId('new-customer').click();
  await a.getByTestId('new-customer-name').fill('Zawadi Mrema');
  await a.getByTestId('new-customer-price').fill('1.35');
  await a.getByTestId('new-customer-form').getByRole('button', { name: 'Add customer' }).click();
  await eventually('the new customer in the first tab', async () => (await rows(a).count()) === 1);
  await eventually('the new customer in the second tab', async () => (await rows(b).count()) === 1);

  // Deactivating it shows in the other tab too, and it leaves the delivery picker.
  await rows(a).getByTestId('customer-active-toggle').click();
  await eventually('deactivated in the second tab', async () => (await rows(b).innerText()).includes('Deactivated'));
  await nav(b).getByRole('link', { name: 'Deliveries' }).click();
  await b.getByTestId('delivery-form').waitFor();
  await eventually('picker filled', async () => (await b.getByTestId('form-customer').locator('option').count()) > 10);
  assert.equal(await b.getByTestId('form-customer').locator('option', { hasText: 'Zawadi Mrema' }).count(), 0);

  // The Users page: add a staff member.
  await nav(a).getByRole('link', { name: 'Users' }).click();
  await a.getByTestId('users-table').waitFor();
  await a.getByTestId('user-name').fill('Neema Staff');
  await a.getByTestId('user-email').fill('neema@pulse.demo');
  await a.getByTestId('user-password').fill('a long enough password');
  await a.getByTestId('user-form').getByRole('button', { name: 'Add user' }).click();
  await eventually('the new user listed', async () => (await a.getByTestId('users-table').innerText()).includes('neema@pulse.demo'));
  await a.screenshot({ path: join(ARTIFACTS, 'users-desktop.png') });
  assert.deepEqual(errors, []);
});

test('staff see no Users page and no customer controls', async (t) => {
  const { server, page } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  await login(page, server.url, STAFF);
  await eventually('live', async () => (await connectionState(page)) === 'live');
  await nav(page).getByRole('link', { name: 'Customers' }).waitFor();
  assert.equal(await nav(page).getByRole('link', { name: 'Users' }).count(), 0);
  await nav(page).getByRole('link', { name: 'Customers' }).click();
  await page.getByTestId('customers-table').waitFor();
  await eventually('customers listed', async () => (await page.getByTestId('customers-table').locator('tbody tr').count()) > 10);
  assert.equal(await page.getByTestId('new-customer').count(), 0);
  assert.equal(await page.getByTestId('customer-active-toggle').count(), 0);

  // Typed in by hand, the page says it is not for them (and the server would refuse the list).
  await page.goto(`${server.url}/users`);
  await page.getByTestId('users-forbidden').waitFor();
  assert.equal(await page.getByTestId('users-table').count(), 0);
  const session = JSON.parse(await page.evaluate(() => Object.values(localStorage).find((v) => v.includes('"token"')) ?? 'null'));
  const r = await fetch(`${server.url}/api/users`, { headers: { authorization: `Bearer ${session.token}` } });
  assert.equal(r.status, 403);
});

test('a disabled user is signed out of an open dashboard', async (t) => {
  const { server, page } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  await login(page, server.url, STAFF);
  await eventually('live', async () => (await connectionState(page)) === 'live');
  const admin = await launchBrowser();
  t.after(() => admin.close());
  const ap = await admin.newPage();
  await login(ap, server.url);
  await nav(ap).getByRole('link', { name: 'Users' }).click();
  const row = ap.getByTestId('users-table').locator('tbody tr', { hasText: STAFF.email });
  await row.getByRole('button', { name: /Disable/ }).click();
  await eventually('disabled', async () => (await row.getAttribute('data-active')) === 'false');
  await page.getByTestId('login-email').waitFor({ timeout: 15_000 });
});
