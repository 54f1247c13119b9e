// Where the time from "Sign in" to the app's own live KPIs goes on the emulated slow link:
// every request's start and end, every WebSocket's creation, handshake and frames, and the
// moments boot.js' and the app's KPIs turn live, relative to the click. One cold visit per
// round, printed as a timeline. A diagnostic, not a benchmark (bench/first-load.mjs is).
//
//   node bench/experiments/first-load-timeline.mjs [--rounds 1] [--kbps 1600] [--rtt 150] [--dist dist]
import { resolve } from 'node:path';
import { DEMO, ROOT, emulateLink, launchBrowser, startServer, takeOption, waitForLiveKpis } from '../../e2e/harness.mjs';

const args = process.argv.slice(2);
const rounds = Number(takeOption(args, '--rounds', '1'));
const kbps = Number(takeOption(args, '--kbps', '1600'));
const rtt = Number(takeOption(args, '--rtt', '150'));
const dist = resolve(ROOT, takeOption(args, '--dist', 'dist'));

const pulse = await startServer({ env: { PULSE_DEMO_RATE: '0', PULSE_DIST: dist } });
try {
  for (let i = 0; i < rounds; i++) {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const cdp = await emulateLink(browser, page, { kbps, rtt });
      const log = [];
      let t0 = null;
      const at = (ts) => (t0 === null ? 0 : Math.round(ts * 1000 - t0));
      const urls = new Map();
      const wall = () => Date.now();
      let wallClick = null;
      const note = (what) => log.push([wall(), what]);
      cdp.on('Network.requestWillBeSent', (e) => {
        urls.set(e.requestId, new URL(e.request.url).pathname);
        note(`request ${urls.get(e.requestId)}`);
      });
      cdp.on('Network.responseReceived', (e) => note(`response ${urls.get(e.requestId)} ${e.response.status}`));
      cdp.on('Network.loadingFinished', (e) => note(`finished ${urls.get(e.requestId)} ${e.encodedDataLength} B`));
      cdp.on('Network.webSocketCreated', (e) => {
        urls.set(e.requestId, 'ws');
        note(`ws created ${e.requestId}`);
      });
      cdp.on('Network.webSocketHandshakeResponseReceived', (e) => note(`ws ${e.requestId} handshake ${e.response.status}`));
      cdp.on('Network.webSocketFrameSent', (e) => note(`ws ${e.requestId} sent ${e.response.payloadData.slice(0, 400)}`));
      cdp.on('Network.webSocketFrameReceived', (e) => note(`ws ${e.requestId} recv ${e.response.payloadData.slice(0, 400)}`));
      cdp.on('Network.webSocketClosed', (e) => note(`ws ${e.requestId} closed`));
      page.on('console', (m) => note(`console ${m.text().slice(0, 100)}`));
      const start = wall();
      await page.goto(`${pulse.url}/login`, { waitUntil: 'commit' });
      await page.getByTestId('boot-email').waitFor();
      note('form usable');
      wallClick = wall();
      note('click');
      await page.evaluate(({ email, password }) => {
        const form = document.getElementById('boot-login');
        form.elements.email.value = email;
        form.elements.password.value = password;
        form.requestSubmit();
      }, DEMO);
      await waitForLiveKpis(page);
      note('boot KPIs live');
      await waitForLiveKpis(page, { app: true });
      note('app KPIs live');
      console.log(`round ${i + 1} (ms from the click; navigation at ${start - wallClick})`);
      for (const [t, what] of log) console.log(`${String(t - wallClick).padStart(6)}  ${what}`);
    } finally {
      await browser.close();
    }
  }
} finally {
  await pulse.stop();
}
