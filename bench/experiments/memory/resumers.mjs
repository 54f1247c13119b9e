// N socket.io-client connections that resume from lastSeq (or connect fresh when it is "-"),
// counting the entries each receives; prints "ready" once every one has ENTRIES of them
// (or is connected, when fresh), then holds them until killed. BATCH (default 100): connections
// opened before each 50 ms pause.
import { io } from '../../../node_modules/socket.io-client/build/esm-debug/index.js';
const [url, token, n, lastSeq, entries] = process.argv.slice(2);
const want = lastSeq === '-' ? 0 : Number(entries);
let done = 0;
const auth = lastSeq === '-' ? { token } : { token, lastSeq: Number(lastSeq) };
for (let i = 0; i < Number(n); i++) {
  let got = 0;
  let up = false;
  const s = io(url, { auth, transports: ['websocket'], forceNew: true, reconnection: false });
  const check = () => { if (up && got >= want && !s.counted) { s.counted = true; if (++done === Number(n)) console.log('ready', done); } };
  s.onAny((ev) => { if (ev === 'payment:added') { got++; check(); } });
  s.on('connect', () => { up = true; check(); });
  s.on('connect_error', (e) => { console.log('err', e.message); process.exit(1); });
  if (i % Number(process.env.BATCH ?? 100) === Number(process.env.BATCH ?? 100) - 1) await new Promise((r) => setTimeout(r, 50));
}
