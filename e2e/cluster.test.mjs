// The dashboard through a real load balancer in front of a real cluster, in headless Chromium:
// PostgreSQL 15 (its own initdb'd data directory), Redis, three pulse-server nodes sharing
// them (one elected leader runs the demo generator) and HAProxy with deploy/haproxy.cfg, each
// a child of this test on a free loopback port. Through HAProxy: sign in, KPIs change live,
// the System page names the node serving the tab and lists all three nodes, a payment made
// in the UI shows once (and is stored once, read on every node). Then, with the Payments page
// open, the node serving the tab is SIGKILLed and a second payment is made at once on a
// surviving node: the tab comes back live on another node and shows that payment once (it
// can only arrive by the resume from lastSeq), no node answered INTERNAL, the System page
// names the new node, KPIs still move, and the dead node leaves the Nodes list. Last, the JS
// package on a page of another origin, over long-polling alone through HAProxy: with
// `withCredentials` every request carries the balancer's node cookie and the session is live;
// without it none does. Everything it
// starts is stopped and its temporary folder removed at the end, pass or fail; the logs are
// kept in test-artifacts/cluster/ and their tails printed on failure. About 25 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ARTIFACTS, ROOT, connectionState, eventually, freePort, launchBrowser, login, serveSdkFolder, startPageClient, startServer } from './harness.mjs';

const run = promisify(execFile);
const LOGS = join(ARTIFACTS, 'cluster');
const NODES = ['node1', 'node2', 'node3'];

/** The newest PostgreSQL server binaries (Debian: /usr/lib/postgresql/<major>/bin). */
function pgBin() {
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  if (majors.length === 0) throw new Error('PostgreSQL is not installed (scripts/setup --cluster)');
  majors.sort((a, b) => Number(a) - Number(b));
  return join(base, majors.at(-1), 'bin');
}

/** `n` distinct free loopback ports. */
async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** Whether Redis on `port` answers PING. */
function redisPing(port) {
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setTimeout(1000, () => s.destroy());
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      got += d;
      if (got.includes('\r\n')) s.end();
    });
    s.on('close', () => ok(got.startsWith('+PONG')));
    s.on('error', () => {});
  });
}

/** A child process with stdout and stderr appended to `log`. */
function startProcess(name, cmd, args, { env = {}, log }) {
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise((ok) => child.once('exit', ok));
  child.on('error', () => {});
  return {
    name,
    child,
    async stop(ms = 5000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `handle.stop()`, but SIGKILL if it has not ended within `ms`. */
async function stopWithin(handle, ms = 5000) {
  let timer;
  await Promise.race([handle.stop(), new Promise((ok) => (timer = setTimeout(ok, ms)))]);
  clearTimeout(timer);
  await handle.kill('SIGKILL');
}

/** The Socket.IO connections each node has open now, from its own /health (not through HAProxy). */
async function connectionsByNode(nodes) {
  const out = {};
  for (const [name, n] of Object.entries(nodes)) {
    if (n.dead) continue;
    out[name] = (await (await fetch(`${n.url}/health`)).json()).connections;
  }
  return out;
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(no log: ${e.message})`;
  }
}

/** The payments table's rows with this amount (the amount column only), and every row id. */
async function paymentRows(page, amountText) {
  return page.getByTestId('payments-table').locator('tbody tr').evaluateAll(
    (rows, amount) => ({
      matching: rows.filter((r) => r.cells[3]?.textContent.trim() === amount).length,
      ids: rows.map((r) => r.dataset.id),
    }),
    amountText,
  );
}

test('a three-node cluster behind HAProxy: live dashboard, the System page names the node, a SIGKILLed node fails over', { timeout: 150_000 }, async (t) => {
  const started = Date.now();
  const bin = pgBin();
  const haproxy = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find(existsSync);
  assert.ok(haproxy, 'HAProxy is not installed (scripts/setup --cluster)');
  assert.ok(existsSync(join(ROOT, 'dist', 'index.html')), 'no dist/index.html: run trunk build --release first');
  rmSync(LOGS, { recursive: true, force: true });
  mkdirSync(LOGS, { recursive: true });

  // Everything started goes on this stack; the `after` hook undoes it in reverse order.
  const dir = mkdtempSync(join(tmpdir(), 'pulse-cluster-'));
  chmodSync(dir, 0o711); // the postgres user must reach dir/pg
  const undo = [];
  t.after(async () => {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (e) {
        console.error(`cluster cleanup: ${e.message}`);
      }
    }
    try {
      copyFileSync(join(dir, 'pg', 'log'), join(LOGS, 'postgres.log'));
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  });

  // A page of another origin that embeds the JS package (see the end of the test).
  const files = await serveSdkFolder({ '/blank.html': '<!doctype html><title>embedding app</title>' });
  undo.push(() => files.close());

  const asRoot = process.getuid?.() === 0;
  const asPg = (cmd, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  const [pgPort, redisPort, lbPort, ...nodePorts] = await freePorts(6);

  // PostgreSQL: refuses to run as root, so its data directory belongs to postgres.
  const pg = join(dir, 'pg');
  mkdirSync(pg);
  if (asRoot) await run('chown', ['postgres', pg]);
  await run(...asPg(join(bin, 'initdb'), ['-D', pg, '-A', 'trust', '-U', 'pulse']), { timeout: 30_000 });
  await run(...asPg(join(bin, 'pg_ctl'), ['-D', pg, '-l', join(pg, 'log'), '-w', '-t', '20', '-o', `-p ${pgPort} -k ${pg} -c listen_addresses=127.0.0.1`, 'start']), { timeout: 30_000 });
  undo.push(() => run(...asPg(join(bin, 'pg_ctl'), ['-D', pg, '-m', 'immediate', '-w', '-t', '20', 'stop']), { timeout: 30_000 }));
  await eventually('pg_isready', async () => {
    await run(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(pgPort), '-U', 'pulse', '-d', 'postgres'], { timeout: 5000 });
    return true;
  }, 20_000);
  await run(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'pulse', '-d', 'postgres', '-c', 'CREATE DATABASE pulse'], { timeout: 20_000 });

  const redis = startProcess('redis', 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { log: join(LOGS, 'redis.log') });
  undo.push(() => redis.stop());
  await eventually('Redis answers PING', () => redisPing(redisPort), 10_000);

  // Three nodes on one database, one Redis and one JWT secret; node1 first (it migrates and
  // seeds the empty database), then the other two together.
  const secret = randomBytes(32).toString('hex');
  const nodes = {};
  const startNode = async (name, port) => {
    const dataDir = join(dir, name);
    mkdirSync(dataDir);
    const node = await startServer({
      port,
      dataDir,
      log: join(LOGS, `${name}.log`),
      env: {
        PULSE_DATABASE_URL: `postgres://pulse@127.0.0.1:${pgPort}/pulse`,
        PULSE_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        PULSE_NODE_ID: name,
        PULSE_JWT_SECRET: secret,
        PULSE_DEMO: 'true',
        // As scripts/cluster: X-Forwarded-For from HAProxy names the client (per-IP limit).
        PULSE_TRUSTED_PROXIES: '127.0.0.1',
        PULSE_DEMO_RATE: '5',
        PULSE_STATS_INTERVAL_MS: '300',
        PULSE_CORS_ORIGINS: files.url,
        RUST_LOG: 'info',
      },
    });
    nodes[name] = node;
    undo.push(() => stopWithin(node));
  };
  await startNode('node1', nodePorts[0]);
  await Promise.all([startNode('node2', nodePorts[1]), startNode('node3', nodePorts[2])]);

  const lbLog = join(LOGS, 'haproxy.log');
  const lb = startProcess('haproxy', haproxy, ['-f', join(ROOT, 'deploy', 'haproxy.cfg'), '-db'], {
    log: lbLog,
    env: {
      PULSE_LB_BIND: `127.0.0.1:${lbPort}`,
      PULSE_NODE1: `127.0.0.1:${nodePorts[0]}`,
      PULSE_NODE2: `127.0.0.1:${nodePorts[1]}`,
      PULSE_NODE3: `127.0.0.1:${nodePorts[2]}`,
    },
  });
  undo.push(() => lb.stop());
  const url = `http://127.0.0.1:${lbPort}`;
  await eventually('HAProxy forwards /health', async () => (await fetch(`${url}/health`)).ok, 15_000);
  const upAt = Date.now();

  const browser = await launchBrowser();
  undo.push(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const nav = page.getByRole('navigation', { name: 'Main' });

  try {
    // Signed in through the balancer; the leader's demo traffic moves the KPIs.
    await login(page, url);
    await eventually('live', async () => (await connectionState(page)) === 'live');
    const liveKpiChanges = async (what) => {
      const kpi = page.getByTestId('kpi-deliveries').locator('.kpi-value');
      const seen = new Set();
      await eventually(what, async () => {
        const text = (await kpi.innerText()).trim();
        if (text !== '—') seen.add(text);
        return seen.size >= 3;
      });
    };
    await liveKpiChanges('two live KPI changes');

    // The System page: the node serving this tab, and all three nodes.
    await nav.getByRole('link', { name: 'System' }).click();
    const served = page.getByTestId('server-node');
    const peers = page.getByTestId('server-peers');
    const servedName = async () => (/^(node[123])\b/.exec((await served.innerText()).trim()) ?? [])[1];
    const first = await eventually('the System page names a node', servedName);
    const firstLed = (await served.innerText()).includes('(leader)');
    await eventually('the System page lists the three nodes', async () => {
      const text = await peers.innerText();
      return NODES.every((n) => text.includes(n)) && text;
    });
    // The node it names holds the tab's socket (the balancer keeps the tab on one node).
    await eventually(`the tab's socket is on ${first}`, async () => {
      const c = await connectionsByNode(nodes);
      return c[first] === 1 && Object.values(c).reduce((a, b) => a + b, 0) === 1;
    }, 5_000).catch(async (e) => {
      throw new Error(`${e.message}; connections per node: ${JSON.stringify(await connectionsByNode(nodes))}`);
    });

    // A payment in the UI: shown once, and stored once for the whole cluster. Below the
    // large-payment toast threshold, so its toast is the ack's alone.
    await nav.getByRole('link', { name: 'Payments' }).click();
    await page.getByTestId('payment-form').waitFor();
    await eventually('customers loaded', async () => (await page.getByTestId('pay-customer').locator('option').count()) > 10);
    await page.getByTestId('pay-customer').selectOption({ label: 'Carmen Diaz' });
    await page.getByTestId('pay-amount').fill('43.21');
    await page.getByTestId('pay-submit').click();
    await eventually('the payment shown once', async () => (await paymentRows(page, '43.21')).matching === 1, 10_000);
    const toast = page.getByTestId('toast').filter({ hasText: 'Payment recorded' });
    await eventually('its toast', async () => (await toast.count()) === 1);
    const session = await (await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@pulse.demo', password: 'pulse-demo' }),
    })).json();
    const auth = { authorization: `Bearer ${session.token}` };
    const [customer] = (await (await fetch(`${url}/api/customers?limit=1`, { headers: auth })).json()).items;
    for (const [name, n] of Object.entries(nodes)) {
      // Each node read directly, with the token the balancer's node issued.
      const r = await fetch(`${n.url}/api/payments?limit=500`, { headers: auth });
      assert.equal(r.status, 200, `${name} /api/payments`);
      const mine = (await r.json()).items.filter((p) => p.amount === 43.21 && p.customer_name === 'Carmen Diaz');
      assert.equal(mine.length, 1, `${name} lists the payment once`);
    }

    // SIGKILL the node serving the tab while the Payments page is open (its rows were read
    // through REST before; from now on only the socket adds rows). A payment made at once on a
    // surviving node lands while the tab is away: the tab must get it when it resumes from
    // its lastSeq on another node.
    await eventually(`the tab's socket still on ${first}`, async () => (await connectionsByNode(nodes))[first] === 1, 5_000);
    const killedAt = Date.now();
    await nodes[first].kill('SIGKILL');
    nodes[first].dead = true;
    const survivor = NODES.find((n) => n !== first);
    const gap = await fetch(`${nodes[survivor].url}/api/payments`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ customer_id: customer.id, amount: 321.09, method: 'CASH' }),
    });
    const gapAt = Date.now();
    assert.equal(gap.status, 200, `payment on ${survivor} during the fail-over: ${await gap.clone().text()}`);
    const states = new Set();
    await eventually('not live after the kill', async () => {
      states.add(await connectionState(page));
      return [...states].some((s) => s !== 'live') || Date.now() - killedAt > 3000;
    }, 5_000);
    await eventually('live again', async () => (await connectionState(page)) === 'live', 30_000).catch(async (e) => {
      const banner = await page.locator('[role="alert"], .banner').allInnerTexts().catch(() => []);
      throw new Error(`${e.message}: ${Date.now() - killedAt} ms after the SIGKILL of ${first} the indicator says ` +
        `${await connectionState(page)} ("${await page.getByTestId('connection').innerText()}"); page alerts: ${JSON.stringify(banner)}`);
    });
    const liveAgainMs = Date.now() - killedAt;
    const stillAway = [...states].some((s) => s !== 'live');
    let gapShown = true;
    await eventually('the payment made during the fail-over, once, on the open Payments page',
      async () => (await paymentRows(page, '321.09')).matching === 1, 10_000).catch(() => (gapShown = false));
    // An INTERNAL error answered to anything (a refused resume, say) counts here.
    const internal = {};
    for (const n of NODES.filter((n) => n !== first)) {
      const text = await (await fetch(`${nodes[n].url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('pulse_errors_total{code="INTERNAL"}'));
      internal[n] = line ? Number(line.trim().split(/\s+/).pop()) : 0;
    }
    assert.ok(gapShown && Object.values(internal).every((v) => v === 0),
      `after the SIGKILL of ${first}: the payment made on ${survivor} ${gapAt - killedAt} ms after the kill ` +
      `(tab seen ${stillAway ? 'away' : 'still live'} then; live again after ${liveAgainMs} ms) is ` +
      `${gapShown ? 'shown once' : 'NOT shown once'} on the open Payments page; ` +
      `pulse_errors_total{code="INTERNAL"} per surviving node: ${JSON.stringify(internal)}`);
    assert.equal((await paymentRows(page, '43.21')).matching, 1, 'the UI payment still shown once');

    // The System page now names another node, which holds the tab's socket.
    await nav.getByRole('link', { name: 'System' }).click();
    const second = await eventually('the System page names another node', async () => {
      const n = await servedName();
      return n && n !== first && n;
    }, 15_000);
    assert.notEqual(second, first);
    await eventually(`the tab's socket is on ${second}`, async () => (await connectionsByNode(nodes))[second] === 1, 10_000);

    // Still live data (a new leader if the killed node led), and each payment shown once.
    await nav.getByRole('link', { name: 'Overview' }).click();
    await page.getByTestId('kpi-liters').waitFor();
    await liveKpiChanges('two live KPI changes after the fail-over');
    await nav.getByRole('link', { name: 'Payments' }).click();
    await eventually('both payments shown once', async () =>
      (await paymentRows(page, '43.21')).matching === 1 && (await paymentRows(page, '321.09')).matching === 1, 10_000);
    await page.waitForTimeout(1000);
    const { ids } = await paymentRows(page, '43.21');
    assert.equal((await paymentRows(page, '43.21')).matching, 1);
    assert.equal((await paymentRows(page, '321.09')).matching, 1);
    assert.equal(new Set(ids).size, ids.length, `duplicate payment rows: ${ids}`);

    // The killed node drops out of the Nodes list once its heartbeat is 10 s old.
    await nav.getByRole('link', { name: 'System' }).click();
    await eventually(`the Nodes list without ${first}`, async () => {
      const text = await peers.innerText();
      return !text.includes(first) && NODES.filter((n) => n !== first).every((n) => text.includes(n));
    }, 20_000);

    // The JS package on another origin, over long-polling alone, through the balancer. With
    // `withCredentials` the browser sends HAProxy's node cookie with every request after the
    // handshake, so the whole session stays on the node that holds it: live, a ping answered,
    // the demo's events arriving. Without it the browser sends no cookie to another origin
    // (fetch's default), and each request may land on a node that does not know the session.
    // Its own browser profile: cookies are per host, not per port, and the dashboard's tab
    // (still open, and calling the balancer) keeps setting the balancer's cookie in its own.
    const embedder = await launchBrowser();
    undo.push(() => embedder.close());
    const polled = async (withCredentials) => {
      await embedder.clearCookies();
      const sdk = await embedder.newPage();
      sdk.on('pageerror', (e) => errors.push(String(e)));
      // Taken in the order the page sent them; their headers are read afterwards.
      const requests = [];
      sdk.on('request', (r) => {
        if (r.url().includes('transport=polling')) requests.push(r);
      });
      await sdk.goto(`${files.url}/blank.html`);
      const options = { token: session.token, withCredentials, transports: ['polling'], pollInterval: 0 };
      const { state: started } = await startPageClient(sdk, url, options, withCredentials ? 10_000 : 1_500);
      await sdk.evaluate(() => {
        window.seen = 0;
        window.client.on('stats:updated', () => window.seen++);
      });
      const cookies = async () => Promise.all(requests.map(async (r) => (await r.allHeaders()).cookie ?? ''));
      return { sdk, cookies, started };
    };
    const credentialed = await polled(true);
    assert.equal(credentialed.started, 'live', 'live over long-polling through the balancer');
    const pong = await credentialed.sdk.evaluate(() => window.client.emitWithAck('ping', {}));
    assert.ok(pong.ok, JSON.stringify(pong));
    await eventually('live events over long-polling', () => credentialed.sdk.evaluate(() => window.seen >= 2), 10_000);
    assert.equal(await credentialed.sdk.evaluate(() => window.client.transport), 'polling');
    const sent = await credentialed.cookies();
    const [handshake, ...rest] = sent;
    assert.equal(handshake, '', 'the handshake carries no cookie yet');
    assert.ok(rest.length >= 3 && rest.every((c) => /PULSE_NODE=node[123]/.test(c)),
      `every later request carries the node cookie: ${JSON.stringify(sent)}`);
    await credentialed.sdk.evaluate(() => window.client.disconnect());
    await credentialed.sdk.close();
    const plain = await polled(false);
    await plain.sdk.evaluate(() => window.client.disconnect());
    const unsent = await plain.cookies();
    assert.ok(unsent.length >= 1 && unsent.every((c) => c === ''),
      `without withCredentials no request carries a cookie: ${JSON.stringify(unsent)}`);
    await plain.sdk.close();

    assert.deepEqual(errors, [], 'no uncaught errors in the page');
    console.log(`cluster: up in ${((upAt - started) / 1000).toFixed(1)} s; tab on ${first}${firstLed ? ' (the leader)' : ''}, then on ${second} ` +
      `live again ${(liveAgainMs / 1000).toFixed(1)} s after the SIGKILL (states seen: ${[...states].join(', ')}; ` +
      `the payment on ${survivor} ${gapAt - killedAt} ms after it); ` +
      `total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    await page.screenshot({ path: join(LOGS, 'failure.png') }).catch(() => {});
    for (const name of [...NODES, 'haproxy', 'redis']) {
      console.error(`--- ${name}.log (last lines) ---\n${tail(join(LOGS, `${name}.log`))}`);
    }
    console.error(`--- postgres log (last lines) ---\n${tail(join(pg, 'log'))}`);
    throw e;
  }
});
