// The second load generator of `pulse-bench` (`--generators sioc`): the official
// socket.io-client (npm, from the lockfile) in several Node.js worker processes, so that
// neither server is measured only through Pulse's own client. Driven by pulse-bench over
// stdin/stdout:
//
//   node bench/sio-load.mjs --url URL --token T --connections N --workers W
//   → stdout "ready <up> <failed> <ramp_s>"       every connection joined or failed
//   ← stdin  "go"                                 the broadcast window starts (CPU counted)
//   ← stdin  "expect <per_conn> <late_after_us>"  the broadcaster is done: wait for the rest
//   → stdout "result <json>"                      merged counts, histogram and CPU; then exit
//
// Each `bench:tick` `{ sent_at_us, due_at_us, n, pad }` is recorded as in the Rust generator:
// latency `now_us − sent_at_us` and, apart, `now_us − due_at_us` (wall clock in µs on both sides, performance.timeOrigin + now()),
// one bit per tick number per connection so a duplicate cannot hide a loss, late when it
// arrives after `late_after_us`. Latencies go into a histogram of 3 significant digits
// (what pulse-bench's HDR histograms keep), sent back as [value_us, count] pairs.
import { fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { io } from 'socket.io-client';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
// A worker waits this long for the ticks it still misses once the broadcaster is done (the
// Rust generator's COMPLETE_MAX).
const COMPLETE_MAX_MS = 120_000;
const BATCH = 100;
const JOIN_WAIT_MS = 15_000;

if (process.argv.includes('--worker')) worker();
else await parent();

async function parent() {
  const url = arg('url');
  const token = arg('token');
  const connections = Number(arg('connections'));
  const workers = Math.max(1, Math.min(Number(arg('workers', '2')), connections));
  const started = Date.now();
  const children = [];
  for (let w = 0; w < workers; w++) {
    const count = Math.floor(connections / workers) + (w < connections % workers ? 1 : 0);
    const child = fork(new URL(import.meta.url).pathname, ['--worker', '--url', url, '--token', token, '--count', String(count)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push({ child, next: message(child) });
  }
  const ready = [];
  for (const c of children) ready.push(await c.next());
  const up = ready.reduce((a, r) => a + r.up, 0);
  const failed = ready.reduce((a, r) => a + r.failed, 0);
  console.log(`ready ${up} ${failed} ${((Date.now() - started) / 1000).toFixed(3)}`);
  const parentCpu0 = process.cpuUsage();
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    if (cmd === 'go') {
      for (const c of children) c.child.send({ cmd: 'go' });
    } else if (cmd === 'expect') {
      for (const c of children) c.child.send({ cmd: 'expect', perConn: Number(rest[0]), lateAfterUs: Number(rest[1]) });
      const results = [];
      for (const c of children) results.push(await c.next());
      const cpu = process.cpuUsage(parentCpu0);
      const result = `result ${JSON.stringify(merge(results, cpu.user + cpu.system))}\n`;
      for (const c of children) c.child.kill();
      // Exit once the pipe has taken it all: process.exit drops what is still queued, which
      // cut a result longer than the pipe's 64 KiB (pulse-bench then could not read it).
      process.stdout.write(result, () => process.exit(0));
      return;
    }
  }
}

/** A function resolving to the child's next IPC message. */
function message(child) {
  const queue = [];
  const waiting = [];
  child.on('message', (m) => (waiting.length ? waiting.shift()(m) : queue.push(m)));
  child.on('exit', (code) => {
    const m = { error: `worker exited with ${code}` };
    while (waiting.length) waiting.shift()(m);
  });
  return () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((ok) => waiting.push(ok)));
}

function merge(results, parentCpuUs) {
  const error = results.find((r) => r.error);
  if (error) return { error: error.error };
  const hist = new Map();
  const histDue = new Map();
  const reasons = {};
  const out = { received: 0, duplicated: 0, late: 0, malformed: 0, lostOnDropped: 0, undelivered: 0, disconnects: 0, lastUs: 0, cpuUs: parentCpuUs };
  for (const r of results) {
    for (const k of ['received', 'duplicated', 'late', 'malformed', 'lostOnDropped', 'undelivered', 'disconnects', 'cpuUs']) out[k] += r[k];
    out.lastUs = Math.max(out.lastUs, r.lastUs);
    for (const [v, c] of r.hist) hist.set(v, (hist.get(v) ?? 0) + c);
    for (const [v, c] of r.histDue) histDue.set(v, (histDue.get(v) ?? 0) + c);
    for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
  }
  return { ...out, reasons, hist: [...hist], histDue: [...histDue] };
}

/** Counts latency `us` in `hist`, clamped to 1 µs .. 60 s as pulse-bench's histograms. */
function addLatency(hist, us) {
  const v = bucket(Math.min(Math.max(us, 1), 60_000_000));
  hist.set(v, (hist.get(v) ?? 0) + 1);
}

/** `v` (µs, ≥ 1) kept to 3 significant digits. */
function bucket(v) {
  if (v < 1000) return v;
  const scale = 10 ** (Math.floor(Math.log10(v)) - 2);
  return Math.round(v / scale) * scale;
}

function worker() {
  const url = arg('url');
  const token = arg('token');
  const count = Number(arg('count'));
  const conns = [];
  const hist = new Map();
  const histDue = new Map();
  const reasons = {};
  const stats = { received: 0, duplicated: 0, late: 0, malformed: 0, disconnects: 0, lastUs: 0 };
  let lateAfterUs = Infinity;
  let cpu0 = null;

  const onTick = (c) => (tick) => {
    const sent = tick?.sent_at_us;
    const n = tick?.n;
    if (!Number.isSafeInteger(sent) || !Number.isSafeInteger(n) || n < 0 || n >= 1 << 24) {
      stats.malformed++;
      return;
    }
    const word = n >>> 5;
    const bit = 1 << (n & 31);
    if (c.seen.length <= word) {
      const grown = new Uint32Array(Math.max(word + 1, c.seen.length * 2));
      grown.set(c.seen);
      c.seen = grown;
    }
    if (c.seen[word] & bit) {
      stats.duplicated++;
      return;
    }
    c.seen[word] |= bit;
    c.count++;
    const now = nowUs();
    addLatency(hist, now - sent);
    if (Number.isSafeInteger(tick.due_at_us)) addLatency(histDue, now - tick.due_at_us);
    stats.received++;
    if (now > stats.lastUs) stats.lastUs = now;
    if (now > lateAfterUs) stats.late++;
  };

  async function open() {
    for (let i = 0; i < count; i += BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + BATCH); j++) {
        // forceNew: one Engine.IO connection per client, as N browsers would have.
        const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token }, timeout: JOIN_WAIT_MS });
        const c = { socket, seen: new Uint32Array(64), count: 0, gone: false, up: false };
        socket.on('bench:tick', onTick(c));
        batch.push(
          new Promise((ok) => {
            socket.once('connect', () => ok((c.up = true)));
            socket.once('connect_error', () => ok(false));
            setTimeout(() => ok(false), JOIN_WAIT_MS);
          }),
        );
        socket.on('disconnect', (reason) => {
          if (!c.up || c.gone) return;
          c.gone = true;
          stats.disconnects++;
          const key = `socket.io-client: ${reason}`;
          reasons[key] = (reasons[key] ?? 0) + 1;
        });
        conns.push(c);
      }
      await Promise.all(batch);
    }
  }

  const missing = (perConn) => {
    let onDropped = 0;
    let onUp = 0;
    for (const c of conns) {
      if (!c.up) continue;
      const m = Math.max(0, perConn - c.count);
      if (c.gone) onDropped += m;
      else onUp += m;
    }
    return [onDropped, onUp];
  };

  process.on('message', async (m) => {
    if (m.cmd === 'go') {
      cpu0 = process.cpuUsage();
    } else if (m.cmd === 'expect') {
      lateAfterUs = m.lateAfterUs;
      const deadline = Date.now() + COMPLETE_MAX_MS;
      while (missing(m.perConn)[1] > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const cpu = process.cpuUsage(cpu0 ?? undefined);
      const [lostOnDropped, undelivered] = missing(m.perConn);
      process.send({ ...stats, lostOnDropped, undelivered, reasons, cpuUs: cpu.user + cpu.system, hist: [...hist], histDue: [...histDue] });
    }
  });

  open().then(() => {
    const up = conns.filter((c) => c.up).length;
    process.send({ up, failed: count - up });
  });
}
