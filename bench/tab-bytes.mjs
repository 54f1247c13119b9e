// What reaches one dashboard tab: WebSocket bytes and frames per minute received by a tab
// left on one page, with the demo generator on, for one or more dashboard builds served by
// the same server binary (e.g. before and after topic subscriptions).
//
//   node bench/tab-bytes.mjs [--page /payments] [--seconds 60] [--rate 2] [--out FILE] LABEL=DIST_DIR ...
//
// Each build gets a fresh server (fresh data directory, same generator rate), a fresh
// Chromium profile, signs in, opens the page, waits 5 s for the first loads, then counts every
// WebSocket frame the page receives (Chromium's DevTools protocol,
// Network.webSocketFrameReceived) for `seconds`. Frames are grouped by Socket.IO event name;
// Engine.IO pings and acks are their own rows. Prints one Markdown table per build and a
// summary. What it does not show: REST requests (page loads), the CPU spent on frames, and
// bursts (it is a sum over the window); the generator is random, so compare the per-event
// counts too, not only the totals.
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { launchBrowser, login, startServer, takeOption } from '../e2e/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => takeOption(args, name, dflt);
const pagePath = opt('--page', '/payments');
const seconds = Number(opt('--seconds', '60'));
const rate = opt('--rate', '2');
const out = opt('--out', null);
const command = `node bench/tab-bytes.mjs ${process.argv.slice(2).join(' ')}`;
const lines = [];
const print = (l) => {
  console.log(l);
  lines.push(l);
};
const builds = args.map((a) => {
  const [label, dir] = a.split('=');
  return { label, dir };
});
if (builds.length === 0) {
  console.error('usage: node bench/tab-bytes.mjs [--page P] [--seconds S] [--rate R] LABEL=DIST ...');
  process.exit(2);
}
function kindOf(payload) {
  // Engine.IO: 2 ping, 3 pong, 4 message; Socket.IO inside: 2 event, 3 ack.
  if (payload === '2' || payload === '3') return 'engine.io ping/pong';
  if (payload.startsWith('43')) return 'ack';
  const m = /^42(?:\d*)\["([^"]+)"/.exec(payload);
  if (m) return m[1];
  return `other (${payload.slice(0, 2)})`;
}

const results = [];
for (const b of builds) {
  const server = await startServer({
    env: { PULSE_DIST: b.dir, PULSE_DEMO: 'true', PULSE_DEMO_RATE: rate, RUST_LOG: 'warn' },
  });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await login(page, server.url);
    await page.goto(`${server.url}${pagePath}`);
    await page.waitForTimeout(5_000);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    const rows = new Map();
    let counting = true;
    cdp.on('Network.webSocketFrameReceived', ({ response }) => {
      if (!counting) return;
      const k = kindOf(response.payloadData);
      const r = rows.get(k) ?? { frames: 0, bytes: 0 };
      r.frames += 1;
      r.bytes += Buffer.byteLength(response.payloadData);
      rows.set(k, r);
    });
    await page.waitForTimeout(seconds * 1000);
    counting = false;
    const per = 60 / seconds;
    const total = [...rows.values()].reduce(
      (a, r) => ({ frames: a.frames + r.frames, bytes: a.bytes + r.bytes }),
      { frames: 0, bytes: 0 },
    );
    print(`\n### ${b.label} (${b.dir}), page ${pagePath}, ${seconds} s, demo rate ${rate}\n`);
    print('| event | frames/min | bytes/min |');
    print('|---|---:|---:|');
    for (const [k, r] of [...rows].sort((a, b) => b[1].bytes - a[1].bytes)) {
      print(`| ${k} | ${Math.round(r.frames * per)} | ${Math.round(r.bytes * per)} |`);
    }
    print(`| **all** | ${Math.round(total.frames * per)} | ${Math.round(total.bytes * per)} |`);
    results.push({ label: b.label, ...total, per });
  } finally {
    await browser.close();
    await server.stop();
  }
}
print('\n| build | frames/min | bytes/min |');
print('|---|---:|---:|');
for (const r of results) {
  print(`| ${r.label} | ${Math.round(r.frames * r.per)} | ${Math.round(r.bytes * r.per)} |`);
}
if (out) {
  const commit = execSync('git rev-parse --short HEAD').toString().trim();
  const head = [
    '# What reaches one dashboard tab',
    '',
    `Written by \`${command}\` ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; do not edit by hand.`,
    '',
    `Commit ${commit} (server and script); each build is a dashboard \`dist/\` served by that server.`,
    `Machine: ${cpus().length} cores, ${cpus()[0].model}; Chromium headless, loopback.`,
    'A tab signed in as the demo admin, left on the page; the demo generator records deliveries',
    `at ${rate} per second and a payment every fourth one. WebSocket frames received by the page,`,
    'counted through the DevTools protocol, by Socket.IO event. Not shown: REST requests (page',
    'loads), CPU per frame, bursts; the generator is random, so compare the per-event rows too.',
  ];
  writeFileSync(out, [...head, ...lines, ''].join('\n'));
}
