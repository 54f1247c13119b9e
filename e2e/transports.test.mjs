// Engine.IO transports in Chromium. The dashboard behind a proxy that refuses WebSockets (a
// real HAProxy answering every upgrade with 403, as some corporate proxies do) goes live over
// HTTP long-polling: the indicator says so, another client's payment shows up live, and the
// REST fallback is not needed. The JS package's `transports` option: polling alone, and
// polling upgraded to a WebSocket, from a page on another origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiLogin, connectionState, eventually, freePort, login, pay, sdkPageAndServer, serverAndPage, startPageClient } from './harness.mjs';

/** HAProxy in front of `backend` (host:port) that refuses WebSocket upgrades; stopped when `t` ends. */
async function refusingProxy(t, backend) {
  const haproxy = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find(existsSync);
  assert.ok(haproxy, 'HAProxy is not installed (scripts/setup)');
  const dir = mkdtempSync(join(tmpdir(), 'pulse-ws-refusing-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    [
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      'frontend front',
      `  bind 127.0.0.1:${port}`,
      '  http-request deny deny_status 403 if { hdr(upgrade) -i websocket }',
      '  default_backend pulse',
      'backend pulse',
      `  server s1 ${backend}`,
      '',
    ].join('\n'),
  );
  const child = spawn(haproxy, ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: 'ignore' });
  const exited = new Promise((ok) => child.once('exit', ok));
  t.after(async () => {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually('the proxy answers', async () => (await fetch(`${url}/health`)).ok, 10_000);
  return url;
}

test('behind a proxy that refuses WebSockets the dashboard is live over long-polling', async (t) => {
  const { server, page, errors } = await serverAndPage(t, { PULSE_DEMO: 'false' });
  const url = await refusingProxy(t, server.url.replace('http://', ''));
  // The proxy does refuse them (and the server behind it would accept: 101).
  assert.equal(await upgradeStatus(url), 403);
  assert.equal(await upgradeStatus(server.url), 101);
  const polls = [];
  page.on('request', (r) => {
    if (r.url().includes('transport=polling')) polls.push(r.method());
  });

  await login(page, url);
  await eventually('live', async () => (await connectionState(page)) === 'live');
  const indicator = page.getByTestId('connection');
  await eventually('the indicator names long-polling', async () => /^Live · long-polling/.test((await indicator.innerText()).trim()));
  assert.ok(polls.includes('GET') && polls.includes('POST'), `long-polling requests: ${polls}`);

  // Another client's payment arrives live, without the REST fallback.
  const rows = page.getByTestId('recent-payments').locator('tbody tr');
  const before = await rows.count();
  const { token } = await apiLogin(server.url);
  await pay(server.url, token, 'over long-polling');
  await eventually('the payment on the overview', async () => (await rows.count()) > before);
  assert.equal(await connectionState(page), 'live');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'System' }).click();
  await eventually('the System page names the transport', async () => (await page.getByTestId('health-transport').innerText()) === 'HTTP long-polling');
  assert.deepEqual(errors, []);
});

/** The status a WebSocket upgrade request to the Engine.IO endpoint at `base` gets. */
function upgradeStatus(base) {
  return new Promise((ok, fail) => {
    const req = httpRequest(`${base}/socket.io/?EIO=4&transport=websocket`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      ok(res.statusCode);
    });
    req.on('response', (res) => {
      res.resume();
      ok(res.statusCode);
    });
    req.on('error', fail);
    req.end();
  });
}

/** In the page: a client with `transports`; resolves once it is live, with its transport then. */
async function startClient(page, server, token, transports) {
  return (await startPageClient(page, server, { token, transports, pollInterval: 0 })).transport;
}

test('the JS package over long-polling alone, and upgraded to a WebSocket', async (t) => {
  const { pulse, page, token, errors } = await sdkPageAndServer(t);
  assert.equal(await startClient(page, pulse.url, token, ['polling']), 'polling');
  const pong = await page.evaluate(() => window.client.emitWithAck('ping', {}));
  assert.ok(pong.ok, JSON.stringify(pong));
  await page.evaluate(() => {
    window.paid = [];
    window.client.on('payment:added', (e) => window.paid.push(e.data.note));
  });
  await pay(pulse.url, token, 'polled-1');
  await eventually('the event over polling', () => page.evaluate(() => window.paid.includes('polled-1')));
  assert.equal(await page.evaluate(() => window.client.transport), 'polling', 'never upgraded');
  await page.evaluate(() => window.client.disconnect());

  await startClient(page, pulse.url, token, ['polling', 'websocket']);
  await eventually('upgraded', () => page.evaluate(() => window.client.transport === 'websocket'));
  const again = await page.evaluate(() => window.client.emitWithAck('ping', {}));
  assert.ok(again.ok, JSON.stringify(again));

  const refused = await page.evaluate(async () => {
    const { PulseClient } = await import('/pkg/pulse_sdk.js');
    try {
      new PulseClient('http://127.0.0.1:1', { transports: ['carrier-pigeon'] });
      return 'accepted';
    } catch (e) {
      return e.message;
    }
  });
  assert.match(refused, /unknown transport "carrier-pigeon"/);
  assert.deepEqual(errors, []);
});
