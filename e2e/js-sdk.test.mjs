// The SDK's JavaScript package (scripts/build-js-sdk) in a plain HTML page: no framework,
// no socket.io-client; it connects to the real server, receives live stats and acks a ping.
// The page is served from another origin, which the server allows by PULSE_CORS_ORIGINS; a
// server that does not list it refuses the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, apiLogin, browserPage, eventually, launchBrowser, pay, sdkFolderPage, sdkPageAndServer, serveSdkFolder, startPageClient, startServer } from './harness.mjs';

test('the JS package works from a plain HTML page', async (t) => {
  assert.ok(existsSync(join(ROOT, 'client-sdk/pkg/pulse_sdk.js')), 'run scripts/build-js-sdk first');
  assert.ok(existsSync(join(ROOT, 'client-sdk/pkg/pulse_sdk.d.ts')), 'TypeScript declarations');
  // The page comes from another origin than the server: the server must list it (the helper
  // does).
  const { pulse, page, errors } = await sdkPageAndServer(t, {
    env: { PULSE_STATS_INTERVAL_MS: '300', PULSE_DEMO_RATE: '5' },
    path: (server) => `/examples/js/index.html?server=${server}&autoconnect=1`,
  });
  await eventually('live', async () => (await page.locator('#status').getAttribute('data-state')) === 'live');
  await eventually('ping acked', async () => (await page.locator('#pong').innerText()) === 'ok');
  const seen = new Set();
  await eventually('stats change twice', async () => {
    seen.add(await page.locator('#liters').innerText());
    seen.delete('—');
    return seen.size >= 2;
  });
  assert.deepEqual(errors, []);
});

test('handlers may call the client while it dispatches: emit, ask, read its status', async (t) => {
  // The package's JavaScript works through the machine's outputs after each call into it, so a
  // page's handler that calls the client meanwhile (here from a status and from an event
  // handler) neither re-enters the machine nor is lost.
  const { pulse, page, token, errors } = await sdkPageAndServer(t, {
    env: { PULSE_DEMO: 'false', PULSE_STATS_INTERVAL_MS: '300' },
  });
  const result = await page.evaluate(async ({ url, token }) => {
    const { default: init, PulseClient } = await import('/pkg/pulse_sdk.js');
    await init();
    const c = new PulseClient(url, { token, healthInterval: 0 });
    const asked = [];
    const states = new Set();
    c.onStatus((s) => {
      if (s.state === 'live' && asked.length === 0) asked.push(c.emitWithAck('ping').then((r) => r.ok));
    });
    c.on('stats:updated', () => {
      states.add(c.status.state);
      if (asked.length < 3) asked.push(c.emitWithAck('ping').then((r) => r.ok));
    });
    const end = Date.now() + 10_000;
    while (asked.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const oks = await Promise.all(asked);
    c.disconnect();
    return { oks, states: [...states] };
  }, { url: pulse.url, token });
  assert.deepEqual(result.oks, [true, true, true]);
  assert.deepEqual(result.states, ['live']);
  assert.deepEqual(errors, []);
});

test('each package declares the PulseClient it has: the same members in the .d.ts and in JavaScript', async (t) => {
  // client.js' class is declared by hand (client-sdk/src/js/client.d.ts, with state.d.ts for
  // the live state): a method added to one and not the other fails here.
  const page = await sdkFolderPage(t);
  for (const dir of ['pkg', 'pkg/state']) {
    const dts = readFileSync(join(ROOT, 'client-sdk', dir, 'pulse_sdk.d.ts'), 'utf8');
    const body = dts.slice(dts.indexOf('export class PulseClient'));
    const declared = [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {4}(?:readonly )?([A-Za-z]+)[(:]/gm)]
      .map((m) => m[1]).filter((n) => n !== 'constructor').sort();
    const actual = await page.evaluate(async (dir) => {
      const { default: init, PulseClient } = await import(`/${dir}/pulse_sdk.js`);
      await init();
      const names = new Set();
      for (let p = PulseClient.prototype; p !== Object.prototype; p = Object.getPrototypeOf(p)) {
        for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor') names.add(n);
      }
      return [...names].sort();
    }, dir);
    assert.deepEqual(declared, actual, dir);
  }
});

test('a server that does not list the page\'s origin refuses it', async (t) => {
  const files = await serveSdkFolder();
  t.after(() => files.close());
  const pulse = await startServer();
  t.after(() => pulse.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${files.url}/examples/js/index.html?server=${pulse.url}&autoconnect=1`);
  // The login fetch is blocked by CORS, so the page never gets a token nor a socket.
  await eventually('the blocked sign-in is logged', async () => /Failed to fetch/.test(await page.locator('#log').innerText()));
  assert.equal(await page.locator('#status').innerText(), 'offline');
});

/**
 * A page on the JS package's folder whose WebSockets' message handlers are wrapped: `wrap` is
 * the source of `(e, h) => ...`, which must call the SDK's handler `h(e)`; `setup` runs first.
 * A client is live on it over WebSocket, against a fresh server that lists the page's origin.
 */
async function clientWithWrappedMessages(t, { setup, wrap, env = {} }) {
  const html = `<!doctype html><meta charset="utf-8"><script type="module">
${setup}
const desc = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
Object.defineProperty(WebSocket.prototype, 'onmessage', {
  get() { return desc.get.call(this); },
  set(h) { desc.set.call(this, h && ((e) => (${wrap})(e, h))); },
});
</script>`;
  const files = await serveSdkFolder({ '/wrapped.html': html });
  t.after(() => files.close());
  const pulse = await startServer({ env: { PULSE_DEMO: 'false', ...env, PULSE_CORS_ORIGINS: files.url } });
  t.after(() => pulse.stop());
  const { page, errors } = await browserPage(t);
  const { token } = await apiLogin(pulse.url);
  await page.goto(`${files.url}/wrapped.html`);
  const started = await startPageClient(page, pulse.url, { token, healthInterval: 0, transports: ['websocket'] });
  assert.equal(started.state, 'live');
  return { page, errors, pulse, token };
}

test('an event reaches its handler within the WebSocket message that carried it', async (t) => {
  // For each frame carrying a `stats:updated` event, the page notes how many times the
  // application's handler ran inside the SDK's own handler. The driver is polled in the
  // message's event handler, so the answer is 1 each time; a driver woken through a queued
  // task would run it later (0).
  const { page, errors } = await clientWithWrappedMessages(t, {
    setup: 'window.turns = []; window.count = 0;',
    wrap: `(e, h) => {
      const before = window.count;
      h(e);
      if (window.armed && typeof e.data === 'string' && e.data.startsWith('42["stats:updated"')) window.turns.push(window.count - before);
    }`,
    env: { PULSE_STATS_INTERVAL_MS: '100' },
  });
  await page.evaluate(() => {
    window.client.on('stats:updated', () => { window.count++; });
    window.armed = true;
  });
  await eventually('five stats events', () => page.evaluate(() => window.turns.length >= 5));
  const turns = await page.evaluate(() => window.turns);
  assert.ok(turns.every((n) => n === 1), `handler runs per frame: ${turns}`);
  assert.deepEqual(errors, []);
});

test('event data reaches JavaScript as the server wrote it, ASCII or not', async (t) => {
  // The SDK hands an event's argument to JSON.parse: read from the WebSocket's own string
  // when the frame is ASCII, from wasm's copy when it is not. Either way the handler gets
  // what the frame held, keys in the server's order. The page keeps each payment frame's
  // argument as JSON.parse reads it from the raw frame, to compare.
  const { page, errors, pulse, token } = await clientWithWrappedMessages(t, {
    setup: 'window.frames_ = []; window.seen = [];',
    wrap: `(e, h) => {
      if (typeof e.data === 'string' && e.data.startsWith('42["payment:added"')) window.frames_.push(JSON.stringify(JSON.parse(e.data.slice(2))[1]));
      h(e);
    }`,
  });
  await page.evaluate(() => window.client.on('payment:added', (d) => window.seen.push(d)));
  const notes = ['plain "quoted" \\ note', 'café ☕ \u2028 𝄞'];
  for (const note of notes) await pay(pulse.url, token, note);
  await eventually('both payments', () => page.evaluate(() => window.seen.length >= 2));
  const { seen, frames } = await page.evaluate(() => ({ seen: window.seen, frames: window.frames_ }));
  assert.deepEqual(seen.map((d) => d.data.note), notes);
  assert.deepEqual(seen.map((d) => JSON.stringify(d)), frames, 'as the frames held them, in order');
  assert.ok(seen[0].seq < seen[1].seq);
  assert.deepEqual(errors, []);
});

test('a log entry that arrives twice reaches the page once, and the position follows it', async (t) => {
  // Live events are parsed by the browser and handed to the page's handlers without the
  // machines in wasm (driver::browser::fast); a log entry's `seq` still goes to wasm, which
  // says whether it was applied before. Here every payment frame is delivered twice, as a
  // replay that overlaps live delivery would: each payment must reach the handler once, and
  // the client's position (what a reload resumes from) must have followed them.
  const { page, errors, pulse, token } = await clientWithWrappedMessages(t, {
    setup: 'window.seen = [];',
    wrap: `(e, h) => {
      h(e);
      if (typeof e.data === 'string' && e.data.startsWith('42["payment:added"')) h(e);
    }`,
  });
  await page.evaluate(() => window.client.on('payment:added', (d) => window.seen.push(d.seq)));
  for (const note of ['one', 'two', 'three']) await pay(pulse.url, token, note);
  await eventually('three payments', () => page.evaluate(() => window.seen.length >= 3));
  // Anything delivered twice would have arrived right behind the first.
  await new Promise((r) => setTimeout(r, 300));
  const { seen, position } = await page.evaluate(() => ({ seen: window.seen, position: window.client.position }));
  assert.equal(seen.length, 3, `each once: ${seen}`);
  assert.ok(seen[0] < seen[1] && seen[1] < seen[2], `in order: ${seen}`);
  // A payment also logs other entries (the customer's balance), so the position may be past it.
  assert.ok(position.seq >= seen[2], `position ${position.seq} after ${seen[2]}`);
  assert.deepEqual(errors, []);
});

test('a handler that throws does not stop the others, and off() stops a handler at once', async (t) => {
  const { page, errors } = await clientWithWrappedMessages(t, {
    setup: 'window.a = 0; window.b = 0; window.c = 0;',
    wrap: '(e, h) => h(e)',
    env: { PULSE_STATS_INTERVAL_MS: '100' },
  });
  await page.evaluate(() => {
    const c = window.client;
    window.client.on('stats:updated', () => { window.a++; throw new Error('a page bug'); });
    window.client.on('stats:updated', () => { window.b++; });
    // Removes itself on its first call: called once, whatever follows.
    const id = c.on('stats:updated', () => { window.c++; c.off(id); });
  });
  await eventually('three stats events', () => page.evaluate(() => window.b >= 3));
  const { a, b, c } = await page.evaluate(() => ({ a: window.a, b: window.b, c: window.c }));
  assert.ok(a >= b, `the throwing handler ran each time: ${a} / ${b}`);
  assert.equal(c, 1);
  // A handler's exception is the page's own: the SDK does not rethrow it into the socket's
  // event handler (it would show as an uncaught error here).
  assert.deepEqual(errors, []);
});
