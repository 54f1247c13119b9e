// Shared pieces of the end-to-end tests: a real pulse-server process on a free loopback
// port, and Debian's Chromium driven by playwright-core with the flags this machine needs.
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, existsSync, mkdtempSync, mkdirSync, openSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..');
export const ARTIFACTS = join(ROOT, 'test-artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

const SERVER_BIN = process.env.PULSE_SERVER_BIN ?? join(ROOT, 'target', 'debug', 'pulse-server');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Takes `--name value` out of `args` (a script's argv), returning the value or `dflt`. */
export function takeOption(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}

/** Whether flag `name` is in `args`; taken out of them. */
export function takeFlag(args, name) {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/**
 * Starts pulse-server on `port` and resolves once it answers /health. Each server gets a
 * fresh data directory (SQLite file, JWT secret) unless `dataDir` is given; `stop()` and
 * `start()` take it down and bring it back on the same port and data, for outage tests.
 * With `log` (a file path) the server's stdout and stderr are appended there instead;
 * `kill(signal)` sends a signal (SIGKILL by default) and resolves once the process is gone.
 */
export async function startServer({ port, env = {}, dataDir, log } = {}) {
  port ??= await freePort();
  dataDir ??= mkdtempSync(join(tmpdir(), 'pulse-data-'));
  const url = `http://127.0.0.1:${port}`;
  let child;
  let exited;
  async function start() {
    const logFd = log ? openSync(log, 'a') : null;
    child = spawn(SERVER_BIN, [], {
      env: {
        ...process.env,
        PULSE_ADDR: `127.0.0.1:${port}`,
        PULSE_DIST: join(ROOT, 'dist'),
        PULSE_DATA_DIR: dataDir,
        // Demo passwords are hashed at seed time; a small cost keeps startup fast in tests.
        PULSE_ARGON2_M_COST_KIB: '1024',
        RUST_LOG: 'warn',
        ...env,
      },
      stdio: log ? ['ignore', logFd, logFd] : ['ignore', 'pipe', 'inherit'],
    });
    if (logFd !== null) closeSync(logFd);
    const c = child;
    exited = new Promise((ok) => c.once('exit', ok));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`pulse-server exited with ${c.exitCode}`);
      try {
        const r = await fetch(`${url}/health`);
        if (r.ok) break;
      } catch {}
      if (Date.now() > deadline) {
        c.kill('SIGKILL'); // not left running behind a failed test
        throw new Error('pulse-server did not come up in 15 s');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await start();
  return {
    url,
    port,
    dataDir,
    start,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export const DEMO = { email: 'admin@pulse.demo', password: 'pulse-demo' };

/** Signs in through the login page and waits for the overview. */
export async function login(page, url, { email, password } = DEMO) {
  await page.goto(`${url}/login`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('kpi-liters').waitFor({ timeout: 15_000 });
}

/** Records a cash payment of 1.50 for customer 4 with `note`, as another client would. */
export async function pay(url, token, note) {
  const r = await fetch(`${url}/api/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ customer_id: 4, amount: 1.5, method: 'CASH', note }),
  });
  if (r.status !== 200) throw new Error(`payment failed: ${r.status} ${await r.text()}`);
}

/** A session over REST, for tests that act as another client. */
export async function apiLogin(url, { email, password } = DEMO) {
  const r = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!r.ok) throw new Error(`login failed: ${r.status}`);
  return r.json();
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/**
 * Serves client-sdk/ as static files, as any web app embedding the SDK would, plus `pages`
 * (`{ '/path.html': html }`) for test pages that import `/pkg/pulse_sdk.js`.
 */
export async function serveSdkFolder(pages = {}) {
  const base = join(ROOT, 'client-sdk');
  const server = createHttpServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (pages[path] !== undefined) {
      return res.writeHead(200, { 'content-type': 'text/html' }).end(pages[path]);
    }
    const file = join(base, path);
    if (!file.startsWith(base) || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/**
 * A page on the SDK's example (`/examples/js/index.html`, from which `/pkg/…` imports), with no
 * server: for tests of the packages themselves. Closed when test `t` ends.
 */
export async function sdkFolderPage(t) {
  const files = await serveSdkFolder();
  t.after(() => files.close());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${files.url}/examples/js/index.html`);
  return page;
}

/**
 * A fresh server (`env` on top of the test defaults; by default no demo data) that lets the
 * SDK's example folder call it, a browser page on `path(serverUrl)` of that folder (by
 * default `/examples/js/index.html`, so `/pkg/pulse_sdk.js` imports), the page's uncaught
 * errors as they come, and the demo admin's token; all closed when test `t` ends.
 */
export async function sdkPageAndServer(t, { env = { PULSE_DEMO: 'false' }, path = () => '/examples/js/index.html' } = {}) {
  const files = await serveSdkFolder();
  t.after(() => files.close());
  const pulse = await startServer({ env: { ...env, PULSE_CORS_ORIGINS: files.url } });
  t.after(() => pulse.stop());
  const { browser, page, errors } = await browserPage(t);
  const { token } = await apiLogin(pulse.url);
  await page.goto(`${files.url}${path(pulse.url)}`);
  return { files, pulse, browser, page, token, errors };
}

/**
 * A DevTools session on `page` with its network emulated: `kbps` down, a quarter of it up,
 * `rtt` ms added to every request (bench/first-load.mjs and bench/first-load-trace.mjs).
 */
export async function emulateLink(browser, page, { kbps, rtt }) {
  const cdp = await browser.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: rtt,
    downloadThroughput: (kbps * 1000) / 8,
    uploadThroughput: (kbps * 1000) / 8 / 4,
  });
  return cdp;
}

/**
 * Waits until live KPIs show: the liters KPI has a figure and the connection indicator says
 * live. Those boot.js shows while the app loads count, unless `app` (the app's own only).
 */
export async function waitForLiveKpis(page, { timeout = 60_000, app = false } = {}) {
  await page.waitForFunction((app) => {
    const pick = (id) => [...document.querySelectorAll(`[data-testid="${id}"]`)].find((e) => !app || !e.closest('#boot'));
    const kpi = pick('kpi-liters');
    const conn = pick('connection');
    return kpi && /\d/.test(kpi.textContent) && conn?.getAttribute('data-state') === 'live';
  }, app, { timeout, polling: 10 });
}

/**
 * Launches headless Chromium with a fresh profile; `args` are added to the usual flags.
 * `serviceWorkers: 'block'` keeps the dashboard's worker out, so `page.route` sees every request.
 */
export async function launchBrowser({ args = [], serviceWorkers = 'allow' } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'pulse-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...args,
    ],
    viewport: { width: 1280, height: 800 },
    serviceWorkers,
  });
}

/**
 * In `page` (which serves `/pkg/pulse_sdk.js`): the JS package's client on `url` with
 * `options`, as `window.client`; waits until it is live, at most `waitMs`, and answers with
 * its state and transport then.
 */
export function startPageClient(page, url, options, waitMs = 15_000) {
  return page.evaluate(
    async ({ url, options, waitMs }) => {
      const { default: init, PulseClient } = await import('/pkg/pulse_sdk.js');
      await init();
      window.client = new PulseClient(url, options);
      const end = Date.now() + waitMs;
      while (window.client.status.state !== 'live' && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      return { state: window.client.status.state, transport: window.client.transport };
    },
    { url, options, waitMs },
  );
}

/**
 * A page in a fresh browser, closed when test `t` ends, and `errors`, which collects the
 * page's uncaught errors as they come.
 */
export async function browserPage(t) {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // A Rust panic reaches the page as `RuntimeError: unreachable`; its message goes to the
  // console first (console_error_panic_hook): keep it beside the error.
  page.on('console', (m) => {
    if (m.type() === 'error' && /panicked at/.test(m.text())) errors.push(`panic: ${m.text()}`);
  });
  return { browser, page, errors };
}

/**
 * A fresh server (`env` on top of the test defaults) and a page in a fresh browser, both
 * closed when test `t` ends; `errors` collects the page's uncaught errors and every
 * Content-Security-Policy violation Chromium reports, so each test that expects no errors
 * also checks that the dashboard runs under its policy.
 */
export async function serverAndPage(t, env = {}) {
  const server = await startServer({ env });
  t.after(() => server.stop());
  const { browser, page, errors } = await browserPage(t);
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) errors.push(`CSP: ${m.text()}`);
  });
  return { server, browser, page, errors };
}

/** The dashboard's connection indicator: `live`, `reconnecting`, `polling` or `offline`. */
export const connectionState = (page) => page.getByTestId('connection').getAttribute('data-state');

/** Polls `fn` until it returns a truthy value, or fails with `what` after `ms`. */
export async function eventually(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
