// The Node.js side of `pulse-bench`: a minimal official socket.io@4 server doing what Pulse's
// bench mode does, so both are measured by the same generator with the same N, R, P and S.
// Usage: node bench/node-server.mjs <port>; prints "ready <port>" when listening.
//
// - CONNECT auth: `{ token }` must be a non-empty string. The token is NOT verified (no JWT
//   check): this favours Node slightly, since Pulse verifies an HS256 JWT per connection.
// - POST /api/bench/broadcast {rate, size, seconds, event?}: emits `event` (default
//   `bench:tick`) with `{ sent_at_us, due_at_us, n, pad }` to every socket, on the same absolute schedule
//   as Pulse (tick n due at start + n/rate; a late wake-up sends every tick already due, each
//   after a turn of the event loop so that the writes it queued can proceed), and
//   answers { emitted, sockets, elapsed_ms, dropped: 0 } when done.
// - `ping` with an ack: answers { ok: true, data: { server_time } } and emits `pong`, as Pulse.
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? 0);
const MAX_RATE = 100_000;
const MAX_SECONDS = 600;
const MAX_SIZE = 64 * 1024;

// Microseconds since the epoch from a monotonic source anchored once to the wall clock, as
// precise as Rust's SystemTime (Date.now() alone has only millisecond resolution).
const anchorUs = BigInt(Date.now()) * 1000n - process.hrtime.bigint() / 1000n;
const nowUs = () => Number(anchorUs + process.hrtime.bigint() / 1000n);

const httpServer = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/api/bench/broadcast') {
    res.writeHead(404).end();
    return;
  }
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', async () => {
    let args;
    try { args = JSON.parse(body); } catch { res.writeHead(400).end(); return; }
    const { rate, size, seconds } = args;
    if (!(rate > 0 && rate <= MAX_RATE && seconds > 0 && seconds <= MAX_SECONDS)) {
      res.writeHead(400).end();
      return;
    }
    const report = await broadcast(args.event ?? 'bench:tick', rate, size, seconds);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(report));
  });
});

const io = new Server(httpServer, { pingInterval: 25_000, pingTimeout: 20_000 });

io.use((socket, next) => {
  const { token } = socket.handshake.auth ?? {};
  if (typeof token === 'string' && token.length > 0) return next();
  const err = new Error('UNAUTHORIZED: missing token');
  err.data = { code: 'UNAUTHORIZED' };
  next(err);
});

io.on('connection', (socket) => {
  socket.on('ping', (...args) => {
    const ack = typeof args.at(-1) === 'function' ? args.pop() : null;
    const data = { server_time: Date.now() };
    socket.emit('pong', data);
    if (ack) ack({ ok: true, data });
  });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Same payload shape as Pulse: `{"sent_at_us":…,"due_at_us":…,"n":…,"pad":"xxx…"}` of about
// `size` bytes; `due_at_us` is when the schedule wanted the tick sent (same clock).
async function broadcast(event, rate, size, seconds) {
  const pad = 'x'.repeat(Math.max(0, Math.min(size, MAX_SIZE) - 80));
  const total = Math.round(rate * seconds);
  const periodMs = 1000 / rate;
  const sockets = io.of('/').sockets.size;
  // Read before `start` on the clock `sent_at_us` uses, so no tick counts as sent before it
  // was due.
  const startUs = nowUs();
  const start = performance.now();
  let n = 0;
  while (n < total) {
    const wait = start + n * periodMs - performance.now();
    // Behind: every tick due goes out, but with a turn of the event loop between them, so
    // write callbacks, pongs and ping timers are not starved. (Pulse's sockets are written
    // by tasks on other threads while its broadcaster sends a burst.)
    if (wait > 0) await sleep(wait);
    else await new Promise((r) => setImmediate(r));
    io.emit(event, { sent_at_us: nowUs(), due_at_us: startUs + Math.round(n * periodMs * 1000), n, pad });
    n += 1;
  }
  return { emitted: n, sockets, elapsed_ms: Math.round(performance.now() - start), dropped: 0 };
}

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`ready ${httpServer.address().port}`);
});
process.on('SIGTERM', () => io.close(() => process.exit(0)));
