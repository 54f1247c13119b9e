// The sign-in form is plain HTML in index.html, usable before the app's wasm has arrived: what
// is typed there carries over to the app once it loads, and a click on Sign in signs in at
// once, the app taking the outcome. The wasm is held back by the test (a route that answers
// only when released), so "before" is certain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO, apiLogin, eventually, serverAndPage } from './harness.mjs';

/** Holds every request matching `pattern` until `release()`, which it returns. */
async function hold(page, pattern) {
  let release;
  const gate = new Promise((r) => {
    release = r;
  });
  await page.route(pattern, async (route) => {
    await gate;
    await route.continue();
  });
  return release;
}

/** Holds every request for the dashboard's wasm until `release()`. */
const holdWasm = (page) => hold(page, /_bg\.wasm$/);

/** Counts the sign-in requests the page makes. */
function countSignIns(page) {
  const seen = { count: 0 };
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/auth/login') seen.count += 1;
  });
  return seen;
}

test('a sign-in clicked before the app loaded is made at once, and the app opens with it', async (t) => {
  const { server, page, errors } = await serverAndPage(t);
  const release = await holdWasm(page);
  const signIns = countSignIns(page);
  // The answer waits until the button is checked: once signed in, the form gives way.
  const answer = await hold(page, /\/api\/auth\/login$/);
  await page.goto(`${server.url}/login`);
  await page.getByTestId('boot-email').fill(DEMO.email);
  await page.getByTestId('boot-password').fill(DEMO.password);
  await page.getByTestId('boot-submit').click();
  const button = page.getByTestId('boot-submit');
  assert.ok(await button.isDisabled(), 'held, not sent twice');
  answer();
  // Signed in while the wasm is still held: the session is stored for the app.
  await eventually('the session stored before the app came', () =>
    page.evaluate(() => localStorage.getItem('pulse.session') !== null));
  await eventually('the form gives way to the figures', async () =>
    (await page.locator('#boot').innerText()).includes('Opening the dashboard…'));
  assert.equal(await page.getByTestId('login-email').count(), 0, 'the app is not there yet');
  release();
  await page.getByTestId('logout').waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('#boot').count(), 0, 'the plain form is gone');
  assert.equal(signIns.count, 1, 'the app did not sign in again');
  assert.deepEqual(errors, []);
});

test('signed in before the app came, the figures show live at once, and the app keeps them', async (t) => {
  // Figures are pushed when they change, never by the clock: the app can only have them from
  // boot.js or its own read.
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO_RATE: '0', PULSE_STATS_INTERVAL_MS: '3600000' });
  const release = await holdWasm(page);
  const { token } = await apiLogin(server.url);
  const rest = async () => (await (await fetch(`${server.url}/api/stats`, { headers: { authorization: `Bearer ${token}` } })).json()).data;
  const liters = (x) => `${x.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })} L`;
  const figure = (where) => page.locator(`${where} [data-testid="kpi-liters"] .kpi-value`).innerText();
  await page.goto(`${server.url}/login`);
  await page.getByTestId('boot-email').fill(DEMO.email);
  await page.getByTestId('boot-password').fill(DEMO.password);
  await page.getByTestId('boot-submit').click();
  // While the app is held: today's figures as the server has them, and the connection live.
  await eventually('the figures', async () => (await figure('#boot')) === liters((await rest()).today_liters));
  await eventually('live', async () =>
    (await page.locator('#boot [data-testid="connection"]').getAttribute('data-state')) === 'live');
  // Live: a delivery recorded elsewhere moves them.
  const before = (await rest()).today_liters;
  const r = await fetch(`${server.url}/api/deliveries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ customer_id: 4, date: new Date().toISOString().slice(0, 10), quantity: 2.5 }),
  });
  assert.equal(r.status, 200, await r.text());
  await eventually('the figures follow', async () => (await figure('#boot')) === liters(before + 2.5));
  const cards = (where) => page.locator(`${where} .kpi-value`).allInnerTexts();
  const shown = await cards('#boot');
  assert.equal(shown.length, 6);
  // The app takes over with those figures: its own read of them is held, so they can only be
  // the ones shown before it came.
  await hold(page, /\/api\/stats$/);
  release();
  await page.getByTestId('logout').waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('#boot').count(), 0, 'the figures of index.html are gone');
  await eventually('the app shows them', async () => (await figure('.page')) === liters(before + 2.5), 3_000);
  assert.deepEqual(await cards('.page .kpis'), shown, 'each figure written as the app writes it');
  assert.deepEqual(errors, []);
});

test('the app takes a sign-in still under way when it loads, and makes no second one', async (t) => {
  const { server, page, errors } = await serverAndPage(t);
  const release = await holdWasm(page);
  const signIns = countSignIns(page);
  // The server's answer waits until the app is there.
  const answer = await hold(page, /\/api\/auth\/login$/);
  await page.goto(`${server.url}/login`);
  await page.getByTestId('boot-email').fill(DEMO.email);
  await page.getByTestId('boot-password').fill(DEMO.password);
  await page.getByTestId('boot-submit').click();
  assert.equal(await page.getByTestId('boot-submit').innerText(), 'Signing in…');
  release();
  const appButton = page.getByTestId('login-submit');
  await appButton.waitFor({ timeout: 15_000 });
  assert.ok(await appButton.isDisabled(), 'the app shows the sign-in under way');
  answer();
  await page.getByTestId('kpi-liters').waitFor({ timeout: 15_000 });
  assert.equal(signIns.count, 1);
  assert.deepEqual(errors, []);
});

test('a wrong password before the app loaded is told in the plain form, which can try again', async (t) => {
  const { server, page, errors } = await serverAndPage(t);
  const release = await holdWasm(page);
  const signIns = countSignIns(page);
  await page.goto(`${server.url}/login`);
  await page.getByTestId('boot-email').fill(DEMO.email);
  await page.getByTestId('boot-password').fill('not the password');
  await page.getByTestId('boot-submit').click();
  const said = page.locator('#boot-login .form-error');
  await eventually('the refusal shown', async () => (await said.innerText()) === 'Wrong email or password.');
  const button = page.getByTestId('boot-submit');
  assert.equal(await button.innerText(), 'Sign in');
  assert.ok(await button.isEnabled());
  assert.equal(await page.evaluate(() => localStorage.getItem('pulse.session')), null);
  // The app, arriving now, keeps what the form said, and signs nobody in.
  release();
  await page.getByTestId('login-email').waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('#login-error').innerText(), 'Wrong email or password.');
  assert.equal(signIns.count, 1);
  // The right password in the app's form.
  await page.getByTestId('login-password').fill(DEMO.password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('kpi-liters').waitFor({ timeout: 15_000 });
  assert.equal(signIns.count, 2);
  assert.deepEqual(errors, []);
});

test('a Sign in pressed before any script has run is held, never sent as a form', async (t) => {
  const { server, page, errors } = await serverAndPage(t);
  const release = await holdWasm(page);
  const releaseBoot = await hold(page, /\/boot\.js$/);
  // The server's answer waits too, or on loopback the button may already say it is done.
  const answer = await hold(page, /\/api\/auth\/login$/);
  await page.goto(`${server.url}/login`, { waitUntil: 'commit' });
  await page.getByTestId('boot-email').fill(DEMO.email);
  await page.getByTestId('boot-password').fill(DEMO.password);
  await page.getByTestId('boot-password').press('Enter');
  assert.equal(await page.getByTestId('boot-submit').innerText(), 'Signing in…');
  assert.doesNotMatch(page.url(), /password|email/, 'the form was not sent: nothing in the URL');
  answer();
  releaseBoot();
  release();
  await page.getByTestId('logout').waitFor({ timeout: 15_000 });
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

/** `WebSocket.readyState`s. */
const WebSocketOpen = 1;
const WebSocketClosed = 3;

/** Counts the page's WebSockets and keeps them (`window.sockets`), from before any script. */
const countSockets = (page) =>
  page.addInitScript(() => {
    const Native = WebSocket;
    window.sockets = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.sockets.push(this);
      }
    };
  });

/** Signs in on the plain form at `url` and waits for boot.js' figures to be live. */
async function signInWhileTheAppLoads(page, url) {
  await page.goto(url);
  await page.getByTestId('boot-email').fill(DEMO.email);
  await page.getByTestId('boot-password').fill(DEMO.password);
  await page.getByTestId('boot-submit').click();
  await eventually('boot.js live', async () =>
    (await page.locator('#boot [data-testid="connection"]').getAttribute('data-state')) === 'live');
}

/** A payment over REST, from the large-payment amount up: every user's notification. */
async function largePayment(url, token) {
  const r = await fetch(`${url}/api/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ customer_id: 5, amount: 250, method: 'BANK', note: 'while the app loaded' }),
  });
  assert.equal(r.status, 200, await r.text());
}

test("the app goes live on boot.js' socket, and what it received meanwhile reaches the app", async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO_RATE: '0' });
  await countSockets(page);
  const release = await holdWasm(page);
  await signInWhileTheAppLoads(page, `${server.url}/login`);
  // News while the app is on its way: only boot.js' socket hears it. A toast is raised by
  // the live notification alone (a list loaded over REST raises none), so the app can show
  // it only if the frames boot.js received were handed on with the socket.
  const { token } = await apiLogin(server.url);
  await largePayment(server.url, token);
  await eventually('boot.js received it', () =>
    page.evaluate(() => document.getElementById('boot').socket?.frames.some((f) => f.includes('notification:new'))));
  release();
  await page.getByTestId('logout').waitFor({ timeout: 15_000 });
  await eventually('the app live', async () =>
    (await page.getByTestId('connection').getAttribute('data-state')) === 'live');
  const large = page.getByTestId('toast').filter({ hasText: '250.00' });
  await eventually('the toast for the payment made while the app loaded', async () => (await large.count()) === 1);
  // One socket, boot.js', still open and now the app's: a payment after the take-over
  // reaches the app on it.
  assert.deepEqual(await page.evaluate(() => window.sockets.map((s) => s.readyState)), [WebSocketOpen]);
  await largePayment(server.url, token);
  await eventually('the next one too', async () => (await large.count()) === 2);
  assert.equal(await page.evaluate(() => window.sockets.length), 1, 'the app opened no socket of its own');
  assert.deepEqual(errors, []);
});

test("on another page than the overview the app joins otherwise: boot.js' socket is closed, the app opens its own", async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO_RATE: '0' });
  await countSockets(page);
  const release = await holdWasm(page);
  await signInWhileTheAppLoads(page, `${server.url}/payments`);
  release();
  await page.getByTestId('payments-table').waitFor({ timeout: 15_000 });
  await eventually('the app live', async () =>
    (await page.getByTestId('connection').getAttribute('data-state')) === 'live');
  // The Payments page's topics are not the overview's: the app's own socket, boot.js' closed.
  await eventually('two sockets, the first closed', async () =>
    JSON.stringify(await page.evaluate(() => window.sockets.map((s) => s.readyState))) ===
      JSON.stringify([WebSocketClosed, WebSocketOpen]));
  const { token } = await apiLogin(server.url);
  await largePayment(server.url, token);
  await eventually('a toast for the payment', async () =>
    (await page.getByTestId('toast').filter({ hasText: '250.00' }).count()) === 1);
  assert.deepEqual(errors, []);
});
