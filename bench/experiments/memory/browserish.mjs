// N socket.io-client connections carrying a Chromium handshake's headers; holds them until killed.
import { io } from '../../../node_modules/socket.io-client/build/esm-debug/index.js';
const [url, token, n] = process.argv.slice(2);
const extraHeaders = {
  pragma: 'no-cache', 'cache-control': 'no-cache',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  origin: url, 'accept-encoding': 'gzip, deflate, br, zstd', 'accept-language': 'en-GB,en-US;q=0.9,en;q=0.8',
  cookie: 'PULSE_NODE=node-2',
};
let up = 0;
for (let i = 0; i < Number(n); i++) {
  const s = io(url, { auth: { token }, transports: ['websocket'], extraHeaders, forceNew: true, reconnection: false });
  s.on('connect', () => { if (++up === Number(n)) console.log('ready', up); });
  s.on('connect_error', (e) => { console.log('err', e.message); process.exit(1); });
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50));
}
