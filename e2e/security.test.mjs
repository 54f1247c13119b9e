// The dashboard's security end to end in headless Chromium against the real server: it runs
// under the server's Content-Security-Policy (WebAssembly, its own scripts and styles, fetch and
// WebSocket to its origin, the inline loader by hash) with no violation on any page, and
// signing out ends the session on the server: its refresh token stops working and its other
// sockets (here the official socket.io-client, as another tab or device would be) are told why
// and closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { connectionState, eventually, login, serverAndPage } from './harness.mjs';

const PAGES = ['Deliveries', 'Payments', 'Customers', 'System', 'Overview'];

test('the dashboard works under its Content-Security-Policy, with no violation', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_STATS_INTERVAL_MS: '500' });
  const violations = [];
  await page.exposeFunction('cspViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      window.cspViolation(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const response = await page.goto(`${server.url}/login`);
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/=]+'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(response.headers()['x-content-type-options'], 'nosniff');
  assert.equal(response.headers()['referrer-policy'], 'no-referrer');

  await login(page, server.url);
  await eventually('live over the WebSocket', async () => (await connectionState(page)) === 'live');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const name of PAGES) {
    await nav.getByRole('link', { name, exact: true }).click();
    await page.waitForLoadState('networkidle');
  }
  await eventually('live still', async () => (await connectionState(page)) === 'live');
  assert.deepEqual(violations, []);
  assert.deepEqual(errors, []);
});

test('signing out ends the session: its refresh token is refused and its sockets are closed with a reason', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  await login(page, server.url);
  await eventually('live', async () => (await connectionState(page)) === 'live');
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem('pulse.session')));
  assert.ok(session?.refresh_token, 'the dashboard keeps a session');

  // Another socket of the same session, as another tab or device would hold.
  const other = io(server.url, { auth: { token: session.token }, transports: ['websocket'], reconnection: false });
  t.after(() => other.close());
  const told = [];
  other.on('error', (e) => told.push(e));
  const closed = new Promise((ok) => other.on('disconnect', ok));
  await new Promise((ok, fail) => {
    other.once('connect', ok);
    other.once('connect_error', fail);
  });

  await page.getByTestId('logout').click();
  await page.getByTestId('login-email').waitFor();

  const reason = await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open after 15 s'), 15_000))]);
  assert.equal(reason, 'io server disconnect');
  assert.equal(told.length, 1, JSON.stringify(told));
  assert.equal(told[0].code, 'UNAUTHORIZED');
  assert.match(told[0].message, /signed out/);
  const refresh = await fetch(`${server.url}/api/auth/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: session.refresh_token }),
  });
  assert.equal(refresh.status, 401);
  assert.equal((await refresh.json()).code, 'UNAUTHORIZED');
  // The dashboard's own socket is closed too: no socket is open on the server any more.
  await eventually('no open socket', async () =>
    /^pulse_connections_active 0$/m.test(await (await fetch(`${server.url}/metrics`)).text()));
  assert.equal(await page.evaluate(() => localStorage.getItem('pulse.session')), null);
  assert.deepEqual(errors, []);
});

test('signing out while the first loads are on their way: their answers arrive to a frame that is gone, and nothing breaks', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  // The lists' answers are read from the server at once (the session is still good) and
  // handed to the page only after it has signed out.
  const held = [];
  let signedOut;
  const out = new Promise((ok) => { signedOut = ok; });
  await page.route(/\/api\/(activity|deliveries|payments|customers|notifications)/, async (route) => {
    const response = await route.fetch();
    held.push(route.request().url());
    await out;
    await route.fulfill({ response });
  });
  await login(page, server.url);
  await eventually('a list load held', async () => held.length > 0);
  // And the Deliveries page's own list, which it loads for its filter.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deliveries', exact: true }).click();
  await eventually('the page\'s list held', async () => held.some((u) => /deliveries\?limit=100&date=/.test(u)));
  await page.getByTestId('logout').click();
  await page.getByTestId('login-email').waitFor();
  signedOut();
  // The answers go through the SDK's and the pages' code now; a panic would show in errors.
  await page.waitForTimeout(1500);
  await page.unrouteAll({ behavior: 'wait' });
  assert.ok(held.length > 0, 'some loads were held');
  assert.deepEqual(errors, []);
});
