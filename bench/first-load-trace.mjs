// One cold visit on the emulated slow link, as a timeline: every HTTP request and response,
// the WebSocket's handshake and frames, the sign-in form, the click on Sign in and the live
// KPIs, in ms from the navigation. What bench/first-load.mjs measures in two figures, taken
// apart, to see what waits for what (bench/ANALYSIS.md, twenty-first session). A diagnostic:
// it prints, asserts nothing and writes no file.
//
//   node bench/first-load-trace.mjs [--kbps 1600] [--rtt 150] [--dist dist] [--chunks]
//
// --chunks also lists the requests for the pages loaded on demand (left out by default: they
// come after the KPIs).
import { resolve } from 'node:path';
import { DEMO, ROOT, emulateLink, launchBrowser, startServer, takeFlag, takeOption, waitForLiveKpis } from '../e2e/harness.mjs';

const args = process.argv.slice(2);
const kbps = Number(takeOption(args, '--kbps', '1600'));
const rtt = Number(takeOption(args, '--rtt', '150'));
const dist = resolve(ROOT, takeOption(args, '--dist', 'dist'));
const chunks = takeFlag(args, '--chunks');

const pulse = await startServer({ env: { PULSE_DEMO_RATE: '0', PULSE_DIST: dist } });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  const cdp = await emulateLink(browser, page, { kbps, rtt });
  const start = Date.now();
  const lines = [];
  const note = (...what) => lines.push([Date.now() - start, ...what]);
  const urls = new Map();
  const path = (url) => url.replace(pulse.url, '').replace(pulse.url.replace('http', 'ws'), '');
  cdp.on('Network.requestWillBeSent', (e) => {
    urls.set(e.requestId, path(e.request.url));
    note('request', e.request.method, urls.get(e.requestId));
  });
  cdp.on('Network.responseReceived', (e) => note('response', urls.get(e.requestId)));
  cdp.on('Network.loadingFinished', (e) => note('finished', urls.get(e.requestId), `${e.encodedDataLength} B`));
  cdp.on('Network.webSocketCreated', (e) => note('websocket', path(e.url)));
  cdp.on('Network.webSocketHandshakeResponseReceived', () => note('websocket handshake answered'));
  cdp.on('Network.webSocketFrameReceived', (e) => note('frame in', e.response.payloadData.slice(0, 60)));
  cdp.on('Network.webSocketFrameSent', (e) => note('frame out', e.response.payloadData.slice(0, 60)));
  await page.goto(`${pulse.url}/login`, { waitUntil: 'commit' });
  await page.waitForFunction(() => document.querySelector('[data-testid="boot-email"]'), null, { polling: 10 });
  note('SIGN-IN FORM');
  await page.evaluate(({ email, password }) => {
    const form = document.getElementById('boot-login');
    form.elements.email.value = email;
    form.elements.password.value = password;
    form.requestSubmit();
  }, DEMO);
  note('CLICK');
  await waitForLiveKpis(page);
  note('LIVE KPIS (boot.js)');
  await waitForLiveKpis(page, { app: true });
  note("LIVE KPIS (the app's)");
  for (const [ms, ...what] of lines) {
    if (!chunks && what.some((w) => /-(chunk_\d+|[a-z]+)-[0-9a-f]+\.wasm$/.test(String(w)))) continue;
    console.log(`${String(ms).padStart(6)}  ${what.join('  ')}`);
  }
} finally {
  await browser.close();
  await pulse.stop();
}
