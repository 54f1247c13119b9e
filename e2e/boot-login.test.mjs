// The sign-in form is plain HTML in index.html, usable before the app's wasm has arrived: what
// is typed there, and a click on Sign in, carry over to the app once it loads. The wasm is
// held back by the test (a route that answers only when released), so "before" is certain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO, eventually, serverAndPage } from './harness.mjs';

/** Holds every request for the dashboard's wasm until `release()`. */
async function holdWasm(page) {
  let release;
  const gate = new Promise((r) => {
    release = r;
  });
  await page.route(/_bg\.wasm$/, async (route) => {
    await gate;
    await route.continue();
  });
  return release;
}

test('a sign-in clicked before the app loaded goes through once it has', async (t) => {
  const { server, page, errors } = await serverAndPage(t);
  const release = await holdWasm(page);
  await page.goto(`${server.url}/login`);
  await page.getByTestId('boot-email').fill(DEMO.email);
  await page.getByTestId('boot-password').fill(DEMO.password);
  await page.getByTestId('boot-submit').click();
  const button = page.getByTestId('boot-submit');
  assert.equal(await button.innerText(), 'Signing in…');
  assert.ok(await button.isDisabled(), 'held, not sent twice');
  assert.equal(await page.getByTestId('login-email').count(), 0, 'the app is not there yet');
  release();
  await page.getByTestId('kpi-liters').waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('#boot').count(), 0, 'the plain form is gone');
  assert.deepEqual(errors, []);
});

test('a Sign in pressed before any script has run is held, never sent as a form', async (t) => {
  const { server, page, errors } = await serverAndPage(t);
  const release = await holdWasm(page);
  let releaseBoot;
  const bootGate = new Promise((r) => {
    releaseBoot = r;
  });
  await page.route(/\/boot\.js$/, async (route) => {
    await bootGate;
    await route.continue();
  });
  await page.goto(`${server.url}/login`, { waitUntil: 'commit' });
  await page.getByTestId('boot-email').fill(DEMO.email);
  await page.getByTestId('boot-password').fill(DEMO.password);
  await page.getByTestId('boot-password').press('Enter');
  assert.equal(await page.getByTestId('boot-submit').innerText(), 'Signing in…');
  assert.doesNotMatch(page.url(), /password|email/, 'the form was not sent: nothing in the URL');
  releaseBoot();
  release();
  await page.getByTestId('kpi-liters').waitFor({ timeout: 15_000 });
  assert.doesNotMatch(page.url(), /password/);
  assert.deepEqual(errors, []);
});

test('what was typed before the app loaded stays, with the caret where it was', async (t) => {
  const { server, page, errors } = await serverAndPage(t);
  const release = await holdWasm(page);
  await page.goto(`${server.url}/login`);
  await page.getByTestId('boot-email').fill(DEMO.email);
  await page.getByTestId('boot-password').focus();
  release();
  const email = page.getByTestId('login-email');
  await email.waitFor({ timeout: 15_000 });
  assert.equal(await email.inputValue(), DEMO.email);
  await eventually('the password field focused', () =>
    page.evaluate(() => document.activeElement?.dataset.testid === 'login-password'));
  assert.equal(await page.locator('#boot').count(), 0);
  // Not signed in: nothing was submitted.
  assert.equal(await page.getByTestId('kpi-liters').count(), 0);
  assert.deepEqual(errors, []);
});

test('with a stored session the plain form never shows', async (t) => {
  const { server, page, errors } = await serverAndPage(t);
  await page.goto(`${server.url}/login`);
  await page.getByTestId('login-email').fill(DEMO.email);
  await page.getByTestId('login-password').fill(DEMO.password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('kpi-liters').waitFor({ timeout: 15_000 });
  const release = await holdWasm(page);
  await page.reload();
  // boot.js runs with the page, before the held wasm.
  await page.waitForLoadState('domcontentloaded');
  assert.equal(await page.locator('#boot').count(), 0);
  release();
  await page.getByTestId('kpi-liters').waitFor({ timeout: 15_000 });
  assert.deepEqual(errors, []);
});
