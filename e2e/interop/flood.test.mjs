// A flooding socket.io-client (the official npm package) is cut off by the per-connection
// event rate limit, and always learns why: the `error` event RATE_LIMITED arrives before the
// disconnect, whose reason is "io server disconnect" (the server's DISCONNECT, not a bare
// transport close). Tried many times, over WebSocket and over polling→WebSocket, since the
// failure it guards against was a race.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { apiLogin, startServer } from '../harness.mjs';

const TRIES = 20;

/** Connects, floods until disconnected; returns what the client saw, in order. */
async function floodOnce(url, token, transports) {
  const s = io(url, { auth: { token }, transports, reconnection: false, forceNew: true });
  try {
    await new Promise((ok, fail) => {
      s.once('connect', ok);
      s.once('connect_error', fail);
    });
    const seen = [];
    s.on('error', (e) => seen.push(`error ${e?.code}`));
    const reason = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`not disconnected; saw ${seen}`)), 15_000);
      s.once('disconnect', (r) => {
        clearTimeout(timer);
        ok(r);
      });
      // 60 at once, then more in bursts until the server cuts the connection, as a
      // runaway loop in an app would.
      for (let i = 0; i < 60; i++) s.emit('ping');
      const more = setInterval(() => {
        if (!s.connected) return clearInterval(more);
        for (let i = 0; i < 20; i++) s.emit('ping');
      }, 1);
      s.once('disconnect', () => clearInterval(more));
    });
    seen.push(`disconnect ${reason}`);
    return seen;
  } finally {
    s.close();
  }
}

for (const transports of [['websocket'], ['polling', 'websocket']]) {
  test(`a flooding socket.io-client (${transports.join('→')}) gets RATE_LIMITED, then the server's disconnect, every time`, async (t) => {
    const server = await startServer({ env: { PULSE_DEMO: 'false' } });
    t.after(() => server.stop());
    const { token } = await apiLogin(server.url);
    const outcomes = {};
    for (let i = 0; i < TRIES; i++) {
      const seen = await floodOnce(server.url, token, transports);
      const key = seen.join(' | ');
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    assert.deepEqual(
      outcomes,
      { 'error RATE_LIMITED | disconnect io server disconnect': TRIES },
      'each try: the reason first, then the DISCONNECT',
    );
  });
}
