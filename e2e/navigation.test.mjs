// Moving between the dashboard's pages, end to end in headless Chromium (dashboard/src/route.rs):
// links, back and forward change the page in place, keeping the app, its connection and its
// state; the navigation marks the current page; an unknown address says so; the signed-in
// pages send a signed-out visitor to the sign-in, without an entry to come back to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionState, eventually, login, serverAndPage } from './harness.mjs';

const path = (page) => new URL(page.url()).pathname;

test('links, back and forward change the page in place; the current link is marked', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  let sockets = 0;
  page.on('websocket', () => sockets++);
  await login(page, server.url);
  await eventually('live', async () => (await connectionState(page)) === 'live');
  const opened = sockets;
  // A reload would lose this.
  await page.evaluate(() => { window.sameDocument = true; });
  const nav = page.getByRole('navigation', { name: 'Main' });
  const current = () => nav.locator('a[aria-current="page"]').allInnerTexts();
  assert.deepEqual(await current(), ['Overview']);

  await nav.getByRole('link', { name: 'Deliveries' }).click();
  await page.getByTestId('delivery-form').waitFor();
  assert.equal(path(page), '/deliveries');
  assert.deepEqual(await current(), ['Deliveries']);
  await nav.getByRole('link', { name: 'Payments' }).click();
  await page.getByTestId('payment-form').waitFor();
  assert.equal(path(page), '/payments');
  assert.deepEqual(await current(), ['Payments']);
  // The account link in the header is not in the navigation: nothing there is marked.
  await page.getByTestId('account-link').click();
  await eventually('the account page', async () => path(page) === '/account');
  assert.deepEqual(await current(), []);

  await page.goBack();
  await page.getByTestId('payment-form').waitFor();
  assert.equal(path(page), '/payments');
  await page.goBack();
  await page.getByTestId('delivery-form').waitFor();
  assert.deepEqual(await current(), ['Deliveries']);
  await page.goForward();
  await page.getByTestId('payment-form').waitFor();
  assert.deepEqual(await current(), ['Payments']);
  await nav.getByRole('link', { name: 'Overview' }).click();
  await page.getByTestId('kpi-liters').waitFor();
  assert.equal(path(page), '/');

  assert.equal(await page.evaluate(() => window.sameDocument), true, 'the page was reloaded');
  assert.equal(sockets, opened, 'a page change opened a WebSocket');
  assert.equal(await connectionState(page), 'live');

  // Typed into the address bar: a page, and an address that is none.
  await page.goto(`${server.url}/customers`);
  await page.getByTestId('customers-table').waitFor();
  assert.deepEqual(await current(), ['Customers']);
  await page.goto(`${server.url}/no-such-page`);
  await page.getByText('Page not found.').waitFor();
  assert.deepEqual(errors, []);
});

test('a signed-out visit to a page goes to the sign-in, and the dashboard to the sign-in\'s place', async (t) => {
  const { server, page } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  await page.goto(`${server.url}/payments`);
  await eventually('at the sign-in', async () => path(page) === '/login');
  await page.getByTestId('login-email').waitFor();
  // The sign-in replaced /payments (about:blank, then it): back does not return to a page
  // that would send the visitor to the sign-in again.
  assert.equal(await page.evaluate(() => history.length), 2);
  await login(page, server.url);
  assert.equal(path(page), '/');
  // Signed in, the dashboard took the sign-in's entry (the helper's second visit to /login
  // replaced the first): Back does not return to a form that would forward at once.
  assert.equal(await page.evaluate(() => history.length), 2);
});
