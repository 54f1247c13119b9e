// Main-thread cost per received event in Chromium: the SDK's JS package (one or more builds)
// next to the official socket.io-client, each alone in a page, against the same server and
// the same broadcast.
//
//   node bench/js-event-cost.mjs [--events 2000] [--rate 1000] [--size 256] [--rounds 3]
//                                [--profile N] [--logged] [--state] [--out FILE]
//                                [LABEL=PKG_DIR ...]
//                                (default: sdk=client-sdk/pkg)
//
// Each page connects over WebSocket to a fresh server (bench mode, demo generator off),
// registers one handler for `bench:tick` that notes the tick's delivery latency, and waits. The
// server then broadcasts `events` ticks of `size` bytes at `rate` per second
// (`POST /api/bench/broadcast`); the figure is the page's main-thread time over that window
// (Chromium's DevTools protocol, Performance.getMetrics: TaskDuration, and ScriptDuration for
// JavaScript and wasm alone), divided by the ticks received; and the ticks' delivery latency
// (p50 and p99 per round). All pages are open together, each first takes one second of ticks
// that is not measured, and they take their rounds in turns, so the machine's drift during the
// run falls on each alike; the median is printed, and with --out
// written over the section "JS package: main-thread cost and latency per event, RATE/s" of
// FILE (the rest is kept). A measurement, not a test: nothing is asserted about speed. Ticks
// the server dropped because the page's queue there was full are counted and reported (ticks
// are not in the event log: nothing catches them up); a page that misses any other tick fails
// the run.
//
// `--logged` sends the ticks as event-log entries: named `payment:added` and each with a `seq`
// (its due time in µs, growing across rounds), so the SDK applies each once by its `seq`, as
// it does a real entry; socket.io-client just hands them over. They are still the bench's
// ticks, not in the server's log.
//
// `--state` has each SDK page attach the live state (`client.state()`), which takes every
// event through the machines in wasm: give it packages with the state
// (`sdk=client-sdk/pkg/state`).
//
// `--profile N` adds one more round per page under Chromium's sampling profiler (100 µs) and
// prints the N functions with the most self time per tick, and the totals for script, garbage
// collection and the browser's own work ("(program)"). The profiler inflates what it
// measures; read it for where the time goes, not how much. For names in wasm frames, build
// the package with `wasm-opt -g`.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { ROOT, apiLogin, eventually, launchBrowser, startServer, takeFlag, takeOption } from '../e2e/harness.mjs';
import { commit, invocation, machine, section, utc, writeSection } from './report.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => Number(takeOption(args, name, dflt));
const events = opt('--events', 2000);
const rate = opt('--rate', 1000);
const size = opt('--size', 256);
const rounds = opt('--rounds', 3);
const profileTop = opt('--profile', 0);
const out = takeOption(args, '--out', null);
const logged = takeFlag(args, '--logged');
const eventName = logged ? 'payment:added' : 'bench:tick';
const withState = takeFlag(args, '--state');
const command = invocation();
const builds = (args.length ? args : ['sdk=client-sdk/pkg']).map((a) => {
  const [label, dir] = a.split('=');
  return { label, dir: resolve(ROOT, dir) };
});

const sioClient = readFileSync(join(ROOT, 'node_modules/socket.io-client/dist/socket.io.min.js'), 'utf8');
const sioVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules/socket.io-client/package.json'), 'utf8')).version;

// The pages count ticks in `window.count`, keep each tick's delivery latency in `window.lat`
// (µs from the server's send stamp to the handler: the same host's clock, read through
// performance.timeOrigin, which Chromium coarsens to 100 µs here) and set `window.live` once
// connected. Both pages do the same per tick, so what it costs falls on each alike.
const pageClock = 'window.lat = []; const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;';
const sdkPage = (server, token) => `<!doctype html><meta charset="utf-8"><script type="module">
import init, { PulseClient } from '/pkg/pulse_sdk.js';
await init();
window.count = 0;
${pageClock}
const c = new PulseClient(${JSON.stringify(server)}, { token: ${JSON.stringify(token)}, healthInterval: 0 });
c.onStatus((s) => { window.live = s.state === 'live'; });
${withState ? 'c.state();' : ''}
c.on(${JSON.stringify(eventName)}, (t) => { window.count++; window.lat.push(nowUs() - t.sent_at_us); });
</script>`;
const sioPage = (server, token) => `<!doctype html><meta charset="utf-8"><script>${sioClient}</script><script>
window.count = 0;
${pageClock}
const s = io(${JSON.stringify(server)}, { auth: { token: ${JSON.stringify(token)} }, transports: ['websocket'] });
s.on('connect', () => { window.live = true; });
s.on(${JSON.stringify(eventName)}, (t) => { window.count++; window.lat.push(nowUs() - t.sent_at_us); });
</script>`;

/** Serves `pkgDir` under /pkg/ and `site.html` at /. */
async function serve(pkgDir) {
  const site = { html: '' };
  const types = { '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(site.html);
    if (!path.startsWith('/pkg/')) return res.writeHead(404).end();
    try {
      const body = readFileSync(join(pkgDir, path.slice(5)));
      res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  site.url = `http://127.0.0.1:${server.address().port}`;
  site.close = () => server.close();
  return site;
}

/** Self time per tick of a CPU profile, by function, the `profileTop` largest. */
function printProfile(label, profile, ticks) {
  const self = new Map();
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    // Anonymous functions by place: wasm-bindgen's glue has many.
    const name = functionName || `(${url.split('/').pop() || 'anonymous'}:${lineNumber + 1})`;
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const per = (us) => (us / ticks).toFixed(2).padStart(8);
  const own = ['(idle)', '(program)', '(garbage collector)'];
  const script = [...self].filter(([n]) => !own.includes(n)).reduce((a, [, us]) => a + us, 0);
  console.log(`\n${label}: profile of ${ticks} ticks, µs per tick: script ${per(script)}, GC ${per(self.get(own[2]) ?? 0)}, program ${per(self.get(own[1]) ?? 0)}`);
  const top = [...self].filter(([n]) => !own.includes(n)).sort((a, b) => b[1] - a[1]).slice(0, profileTop);
  for (const [name, us] of top) console.log(`${per(us)}  ${name.slice(0, 120)}`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Opens one client: its page (from another origin, which the server lists) on a fresh server
 * in its own browser, live. `round()` measures one broadcast; `profile()` one more under the
 * sampling profiler; `close()` stops all three.
 */
async function open(label, pkgDir, page) {
  const site = await serve(pkgDir);
  const pulse = await startServer({
    env: { PULSE_BENCH: '1', PULSE_DEMO_RATE: '0', PULSE_STATS_INTERVAL_MS: '3600000', PULSE_CORS_ORIGINS: site.url },
  });
  const browser = await launchBrowser();
  const close = async () => {
    site.close();
    await browser.close();
    await pulse.stop();
  };
  try {
    const { token } = await apiLogin(pulse.url);
    site.html = page(pulse.url, token);
    const p = await browser.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    await p.goto(site.url);
    await eventually(`${label} live`, () => p.evaluate(() => window.live === true));
    const cdp = await p.context().newCDPSession(p);
    await cdp.send('Performance.enable');
    const metrics = async () => {
      const { metrics: m } = await cdp.send('Performance.getMetrics');
      return Object.fromEntries(m.map(({ name, value }) => [name, value]));
    };
    const client = { label, task: [], script: [], drops: [], p50: [], p99: [] };
    const checkErrors = () => {
      if (errors.length) throw new Error(`${label}: page errors: ${errors.join('; ')}`);
    };
    // One broadcast of `n` ticks; resolves once the page has every tick the server did not
    // drop.
    const broadcast = async (n = events) => {
      const before = await p.evaluate(() => window.count);
      const res = await fetch(`${pulse.url}/api/bench/broadcast`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ rate, size, seconds: n / rate, event: eventName, seq: logged }),
      });
      if (!res.ok) throw new Error(`broadcast: ${res.status} ${await res.text()}`);
      // A tick the page's queue on the server had no room for is dropped (ticks are not in
      // the event log, so nothing catches them up): counted, and the figure is per tick received.
      const { emitted, dropped } = await res.json();
      const sent = emitted - dropped;
      await eventually(`${label} receives ${sent} ticks`, async () => (await p.evaluate(() => window.count)) - before >= sent, 60_000);
      return { sent, dropped };
    };
    // Not measured: the run's very first broadcast skipped ticks whichever page took it (two
    // pages of the same package: only the first one did), so each page first takes one
    // second of ticks alone.
    client.warm = async () => {
      await broadcast(Math.min(events, rate));
      await p.evaluate(() => window.lat.splice(0));
      checkErrors();
    };
    client.round = async () => {
      const m0 = await metrics();
      const { sent, dropped } = await broadcast();
      const m1 = await metrics();
      client.drops.push(dropped);
      const lat = (await p.evaluate(() => window.lat.splice(0))).sort((a, b) => a - b);
      const at = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] / 1000;
      client.p50.push(at(0.5));
      client.p99.push(at(0.99));
      client.task.push(((m1.TaskDuration - m0.TaskDuration) * 1e6) / sent);
      client.script.push(((m1.ScriptDuration - m0.ScriptDuration) * 1e6) / sent);
      checkErrors();
    };
    client.profile = async () => {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
      await cdp.send('Profiler.start');
      const { sent } = await broadcast();
      await p.evaluate(() => window.lat.splice(0));
      printProfile(label, (await cdp.send('Profiler.stop')).profile, sent);
      checkErrors();
    };
    client.close = close;
    return client;
  } catch (e) {
    await close();
    throw e;
  }
}

// Every client is open at once and the rounds take turns (a round of each, the first one
// rotating), so a drift of this machine's speed during the run falls on all of them alike.
const clients = [];
try {
  for (const b of builds) clients.push(await open(b.label, b.dir, sdkPage));
  clients.push(await open(`socket.io-client ${sioVersion}`, ROOT, sioPage));
  for (const c of clients) await c.warm();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < clients.length; i++) await clients[(r + i) % clients.length].round();
  }
  if (profileTop > 0) for (const c of clients) await c.profile();
} finally {
  for (const c of clients) await c.close();
}

const { lines, print } = section();
const f = (xs) => `${median(xs).toFixed(1)} (${xs.map((x) => x.toFixed(1)).join(', ')})`;
// One section per rate, so runs at different rates are kept side by side.
print(`## JS package: main-thread cost and latency per event, ${rate}/s${logged ? ', as log entries' : ''}${withState ? ', live state attached' : ''}`);
print();
print(`Written by \`${command}\` on ${utc()} UTC; do not edit by hand.`);
print(`Commit ${commit()}; Machine: ${machine()}; Chromium headless, loopback.`);
print(`One page per client, each on its own server, receiving \`${eventName}\` (${size} B) at ${rate}/s, ` +
  `${events} per round, ${rounds} rounds taken in turns; main-thread time per event received ` +
  '(Performance.getMetrics: TaskDuration, and ScriptDuration for JavaScript and wasm alone), ' +
  'median and each round; and delivery latency, from the server\'s send stamp to the handler ' +
  '(ms, p50 and p99 of each round\'s ticks; median and each round). Each page first takes one ' +
  'second of ticks, not measured. ' +
  (logged
    ? 'Each tick carries a `seq` and is named as a log entry, so the SDK applies it once by its `seq` ' +
      'as a real entry; the ticks are not in the server\'s log.'
    : 'A tick is not a logged event: a Pulse event from the log also has its `seq` read by the SDK ' +
      '(the section "as log entries" measures that).'));
print();
print('| client | task µs/event | script µs/event | latency p50 ms | latency p99 ms | dropped ticks |');
print('|---|---:|---:|---:|---:|---:|');
for (const c of clients) {
  print(`| ${c.label} | ${f(c.task)} | ${f(c.script)} | ${f(c.p50)} | ${f(c.p99)} | ${c.drops.join(', ')} |`);
}
print();
if (out) writeSection(out, lines);
