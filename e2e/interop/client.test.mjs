// Interoperability: the official socket.io-client@4 (Node) against the Pulse server binary:
// handshake auth (good and bad tokens), WebSocket and polling→upgrade transports, live events,
// acks, actions seen by a second client, and binary attachments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { startServer } from '../harness.mjs';

const DEMO = { email: 'admin@pulse.demo', password: 'pulse-demo' };

async function login(url) {
  const r = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(DEMO),
  });
  assert.equal(r.status, 200, 'demo login');
  return (await r.json()).token;
}

function connected(socket) {
  return new Promise((ok, fail) => {
    socket.once('connect', ok);
    socket.once('connect_error', fail);
  });
}

function next(socket, event) {
  return new Promise((ok) => socket.once(event, ok));
}

async function pulseServer(t) {
  const server = await startServer({
    env: {
      PULSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'pulse-interop-')),
      PULSE_STATS_INTERVAL_MS: '200',
      PULSE_DEMO_RATE: '5',
    },
  });
  t.after(() => server.stop());
  return server;
}

test('socket.io-client connects over websocket with a token and exchanges events and acks', async (t) => {
  const server = await pulseServer(t);
  const token = await login(server.url);
  const a = io(server.url, { auth: { token }, transports: ['websocket'], reconnection: false });
  const b = io(server.url, { auth: { token }, transports: ['websocket'], reconnection: false });
  t.after(() => (a.close(), b.close()));
  await Promise.all([connected(a), connected(b)]);

  const stats = await next(a, 'stats:updated');
  assert.ok(Number.isInteger(stats.seq) && typeof stats.data.today_liters === 'number');

  const pong = await a.timeout(5000).emitWithAck('ping');
  assert.equal(pong.ok, true);
  assert.ok(Math.abs(pong.data.server_time - Date.now()) < 5000);

  const customers = await (await fetch(`${server.url}/api/customers?limit=1`, {
    headers: { authorization: `Bearer ${token}` },
  })).json();
  const customer = customers.items[0];
  const seen = new Promise((ok) =>
    b.on('payment:added', (env) => env.data.note === 'interop' && ok(env)),
  );
  const ack = await a.timeout(5000).emitWithAck('payment:add', {
    customer_id: customer.id, amount: 3.5, method: 'MOBILE', note: 'interop',
  });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const env = await seen;
  assert.equal(env.data.amount, 3.5);
  assert.ok(env.seq > 0);

  const bad = await a.timeout(5000).emitWithAck('payment:add', { customer_id: customer.id, amount: -1 });
  assert.equal(bad.ok, false);
  assert.equal(bad.error.code, 'INVALID_INPUT');
});

test('socket.io-client starts on polling and upgrades to websocket', async (t) => {
  const server = await pulseServer(t);
  const token = await login(server.url);
  const s = io(server.url, { auth: { token }, transports: ['polling', 'websocket'], reconnection: false });
  t.after(() => s.close());
  let first;
  const upgraded = new Promise((ok) =>
    s.io.once('open', () => {
      first = s.io.engine.transport.name;
      s.io.engine.once('upgrade', ok);
    }),
  );
  await connected(s);
  await upgraded;
  assert.equal(first, 'polling');
  assert.equal(s.io.engine.transport.name, 'websocket');
  const pong = await s.timeout(5000).emitWithAck('ping');
  assert.equal(pong.ok, true);
});

test('binary attachments from socket.io-client are accepted', async (t) => {
  const server = await pulseServer(t);
  const token = await login(server.url);
  const s = io(server.url, { auth: { token }, transports: ['websocket'], reconnection: false });
  t.after(() => s.close());
  await connected(s);
  // `ping` ignores its payload; a BINARY_EVENT with an attachment must still be parsed and acked.
  const pong = await s.timeout(5000).emitWithAck('ping', { blob: Buffer.from([1, 2, 3]) });
  assert.equal(pong.ok, true);
});

test('a missing or bad token gets a CONNECT_ERROR with a clear message', async (t) => {
  const server = await pulseServer(t);
  for (const [auth, code] of [[{}, 'UNAUTHORIZED'], [{ token: 'nope' }, 'UNAUTHORIZED']]) {
    const s = io(server.url, { auth, transports: ['websocket'], reconnection: false });
    const err = await new Promise((ok) => s.once('connect_error', ok));
    s.close();
    assert.match(err.message, new RegExp(`^${code}: `));
  }
});
