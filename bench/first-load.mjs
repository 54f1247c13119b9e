// What a user on a slow link feels first: the dashboard's and the SDK's bytes, and the time to
// a usable login form and from "Sign in" to live KPIs, in Chromium with the network emulated.
//
//   node bench/first-load.mjs [--rounds 3] [--kbps 1600] [--rtt 150] [--dist dist] [--out FILE]
//
// Bytes: every file of the dashboard build (`--dist`; the chunks of the pages loaded on demand
// summed in one row, the first load and everything summed apart) and of the SDK's JavaScript packages
// (client-sdk/pkg, events only, and client-sdk/pkg/state, with the live state), raw, gzip -9
// and brotli (quality 11), next to socket.io-client's browser bundle. Times: a real server
// (fresh data directory, demo data, generator off) serves the build; each round is a fresh
// Chromium profile (cold cache) whose network is throttled through the DevTools protocol
// (Network.emulateNetworkConditions: `kbps` down, a quarter of it up, `rtt` ms added to every
// request), then a repeat visit in the same profile (warm cache). "Login form" is from the
// navigation's start to an email field being visible and enabled (index.html's plain form,
// or the app's); "live KPIs" is from the click on Sign in (filling and clicking take no time
// here) to the liters KPI showing a figure with the connection indicator live: boot.js' plain
// figures while the app loads, if the click came before the app; then also to the app's own,
// which includes what is left of the app's download.
// Also the bytes of HTTP responses that crossed the network for each (encoded, as the server
// compressed them; WebSocket frames are not counted).
// Medians over the rounds are printed as Markdown, and with --out written over the section
// "First load on a slow link" of that file (the rest is kept). A measurement: nothing about
// speed is asserted. Not shown: a real radio's jitter and loss, CPU slower than this
// machine's, or TLS (the server is plain HTTP on loopback).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { DEMO, ROOT, emulateLink, launchBrowser, startServer, takeOption, waitForLiveKpis } from '../e2e/harness.mjs';
import { commit, invocation, machine, section, utc, writeSection } from './report.mjs';

const args = process.argv.slice(2);
const rounds = Number(takeOption(args, '--rounds', '3'));
const kbps = Number(takeOption(args, '--kbps', '1600'));
const rtt = Number(takeOption(args, '--rtt', '150'));
const dist = resolve(ROOT, takeOption(args, '--dist', 'dist'));
const out = takeOption(args, '--out', null);
const command = invocation();

const { lines, print } = section();
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sizes = (file) => {
  const body = readFileSync(file);
  const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  return { raw: body.length, gzip: gzipSync(body, { level: 9 }).length, br: br.length };
};

function bytesSection() {
  print('### Bytes');
  print();
  print('| asset | raw | gzip -9 | brotli 11 |');
  print('|---|---:|---:|---:|');
  const row = (label, s) => print(`| ${label} | ${s.raw} | ${s.gzip} | ${s.br} |`);
  const sum = (list) => list.reduce((a, s) => ({ raw: a.raw + s.raw, gzip: a.gzip + s.gzip, br: a.br + s.br }),
    { raw: 0, gzip: 0, br: 0 });
  const app = readdirSync(dist)
    .filter((f) => /\.(wasm|js|css|html)$/.test(f))
    .sort()
    .map((f) => [f, sizes(join(dist, f))]);
  // The pages loaded on demand: every wasm but the main module (scripts/dashboard-budget's rule).
  const chunk = (f) => f.endsWith('.wasm') && !f.endsWith('_bg.wasm');
  const first = app.filter(([f]) => !chunk(f));
  const chunks = app.filter(([f]) => chunk(f));
  for (const [f, s] of first) row(`dashboard: ${f.replace(/-[0-9a-f]{12,16}/, '-HASH')}`, s);
  if (chunks.length) row(`dashboard: the pages loaded on demand (${chunks.length} wasm chunks)`, sum(chunks.map(([, s]) => s)));
  row('**dashboard: the first load** (all but the chunks)', sum(first.map(([, s]) => s)));
  row('**dashboard: everything**', sum(app.map(([, s]) => s)));
  for (const [label, dir] of [['events only', 'client-sdk/pkg'], ['with the live state', 'client-sdk/pkg/state']]) {
    const files = ['pulse_sdk_bg.wasm', 'pulse_sdk.js'].map((f) => join(ROOT, dir, f));
    if (!files.every(existsSync)) continue;
    row(`SDK JS package, ${label}: wasm + glue (\`${dir}\`)`, sum(files.map(sizes)));
  }
  const sio = join(ROOT, 'node_modules/socket.io-client/dist/socket.io.min.js');
  const sioVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules/socket.io-client/package.json'), 'utf8')).version;
  row(`socket.io-client ${sioVersion} socket.io.min.js`, sizes(sio));
  print();
}

/**
 * One visit: the login form, then sign in and wait for live KPIs. With `afterApp`, Sign in is
 * clicked once the app has replaced the plain form (an admin who typed for longer than the
 * download took), else at once.
 */
async function visit(page, url, cdp, signIn, afterApp = false) {
  let encoded = 0;
  const onLoaded = (e) => {
    encoded += e.encodedDataLength;
  };
  cdp.on('Network.loadingFinished', onLoaded);
  const start = Date.now();
  await page.goto(`${url}/login`, { waitUntil: 'commit' });
  // The form index.html carries (usable before the wasm arrives), or the app's own.
  const usable = () => {
    const e = document.querySelector('[data-testid="boot-email"], [data-testid="login-email"]');
    return e && !e.disabled && e.getBoundingClientRect().height > 0;
  };
  await page.waitForFunction(usable, null, { timeout: 60_000, polling: 10 });
  const form = Date.now() - start;
  const formBytes = encoded;
  let kpis = null;
  let appKpis = null;
  if (signIn) {
    if (afterApp) await page.getByTestId('login-email').waitFor({ timeout: 60_000 });
    const click = Date.now();
    // Filled and submitted in one task of the page, so the app cannot swap the form between.
    const viaBoot = await page.evaluate(({ email, password }) => {
      const form = document.getElementById('boot-login');
      if (!form) return false;
      form.elements.email.value = email;
      form.elements.password.value = password;
      form.requestSubmit();
      return true;
    }, DEMO);
    if (!viaBoot) {
      await page.getByTestId('login-email').fill(DEMO.email);
      await page.getByTestId('login-password').fill(DEMO.password);
      await page.getByTestId('login-submit').click();
    }
    await waitForLiveKpis(page);
    kpis = Date.now() - click;
    await waitForLiveKpis(page, { app: true });
    appKpis = Date.now() - click;
  }
  cdp.off('Network.loadingFinished', onLoaded);
  return { form, formBytes, kpis, appKpis, kpisBytes: encoded - formBytes };
}

/** A DevTools session on `page` with the link emulated. */
const throttled = (browser, page) => emulateLink(browser, page, { kbps, rtt });

async function timesSection() {
  const pulse = await startServer({ env: { PULSE_DEMO_RATE: '0', PULSE_DIST: dist } });
  const cold = [];
  const warm = [];
  const late = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        const cdp = await throttled(browser, page);
        cold.push(await visit(page, pulse.url, cdp, true));
        // Signed out again (the session is in the page, not a cookie): the login form from cache.
        // A repeat visit as a user makes one, with the service worker installed (it keeps the
        // app shell once the page has loaded): whether it was, at this moment, hung on how
        // soon the cold visit ended.
        await page.evaluate(() => navigator.serviceWorker.ready.then(() => localStorage.clear()));
        warm.push(await visit(page, pulse.url, cdp, false));
      } finally {
        await browser.close();
      }
      const again = await launchBrowser();
      try {
        const page = await again.newPage();
        const cdp = await throttled(again, page);
        late.push(await visit(page, pulse.url, cdp, true, true));
      } finally {
        await again.close();
      }
    }
  } finally {
    await pulse.stop();
  }
  const m = (list, k) => median(list.map((r) => r[k]));
  print(`### Times, ${kbps / 1000} Mbps down / ${kbps / 4000} Mbps up, +${rtt} ms per request, median of ${rounds}`);
  print();
  print('| step | time (ms) | HTTP bytes over the network |');
  print('|---|---:|---:|');
  print(`| cold cache: navigation to a usable login form | ${m(cold, 'form')} | ${m(cold, 'formBytes')} |`);
  print(`| cold cache: Sign in (clicked as soon as the form shows) to live KPIs (boot.js' while the app loads) | ${m(cold, 'kpis')} | ${m(cold, 'kpisBytes')} |`);
  print(`| cold cache: the same, to the app's own live KPIs | ${m(cold, 'appKpis')} | |`);
  print(`| cold cache: Sign in (clicked once the app has loaded) to live KPIs | ${m(late, 'kpis')} | ${m(late, 'kpisBytes')} |`);
  print(`| warm cache (repeat visit): navigation to a usable login form | ${m(warm, 'form')} | ${m(warm, 'formBytes')} |`);
  print();
  print(`Each round, cold: ${cold.map((r) => `${r.form} + ${r.kpis} (app ${r.appKpis})`).join(', ')} ms; clicked after the app loaded: ${late.map((r) => r.kpis).join(', ')} ms; warm: ${warm.map((r) => r.form).join(', ')} ms.`);
  print();
}

print('## First load on a slow link');
print();
print(`Written by \`${command}\` on ${utc()} UTC; do not edit by hand.`);
print(`Commit ${commit()}; ` +
  `dashboard build \`${dist.replace(ROOT + '/', '')}\` of ${utc(new Date(statSync(dist).mtimeMs))} UTC. ` +
  `Machine: ${machine()}; Chromium headless, loopback.`);
print();
bytesSection();
await timesSection();

if (out) writeSection(out, lines);
