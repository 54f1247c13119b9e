// A dashboard stays right when the log under it is replaced: the data directory wiped and
// the server restarted, or an older database file restored. The server answers the tab's
// resume with RESYNC_REQUIRED (another epoch, or a position ahead of the log); the tab
// reloads its figures over REST and keeps applying live entries of the new log, although
// their seq numbers are below the ones it had seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  apiLogin, browserPage, connectionState, eventually, login, startServer,
} from './harness.mjs';

// Fixed, as in production: a wiped data directory must not also invalidate every session.
const env = { PULSE_DEMO: 'false', PULSE_JWT_SECRET: 'e2e-epochs-secret-of-more-than-32-characters' };

async function pay(url, token, amount, note) {
  const r = await fetch(`${url}/api/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ customer_id: 3, amount, method: 'CASH', note }),
  });
  assert.equal(r.status, 200, `payment: ${await r.text()}`);
}

const collected = async (page) => {
  const text = await page.getByTestId('kpi-collection').locator('.kpi-value').innerText();
  return Number(text.replace(/[^0-9.]/g, ''));
};

async function shows(page, amount) {
  await eventually(`collected ${amount}`, async () => (await collected(page)) === amount);
}

async function setUp(t) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-epochs-'));
  const server = await startServer({ env, dataDir });
  t.after(() => server.stop());
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const { page, errors } = await browserPage(t);
  await login(page, server.url);
  const { token } = await apiLogin(server.url);
  return { server, dataDir, page, errors, token };
}

async function liveAgain(page) {
  await eventually('live again', async () => (await connectionState(page)) === 'live', 30_000);
}

test('a wiped data directory under a live dashboard: new figures, then live updates', async (t) => {
  const { server, dataDir, page, errors, token } = await setUp(t);
  for (let i = 0; i < 5; i++) await pay(server.url, token, 10, `old-${i}`);
  await shows(page, 50);

  await server.stop();
  for (const f of readdirSync(dataDir)) rmSync(join(dataDir, f), { recursive: true, force: true });
  await server.start();
  await liveAgain(page);
  await shows(page, 0); // the new, empty log's figures, not the old ones

  await pay(server.url, token, 7, 'new-0');
  await shows(page, 7);
  await page.getByTestId('recent-payments').getByText('7.00').first().waitFor({ timeout: 15_000 });
  assert.deepEqual(errors, []);
});

test('an older database restored under a live dashboard: its figures, then live updates', async (t) => {
  const { server, dataDir, page, errors, token } = await setUp(t);
  await pay(server.url, token, 10, 'kept');
  await shows(page, 10);
  await server.stop();
  const backup = mkdtempSync(join(tmpdir(), 'pulse-backup-'));
  t.after(() => rmSync(backup, { recursive: true, force: true }));
  copyFileSync(join(dataDir, 'pulse.db'), join(backup, 'pulse.db'));

  await server.start();
  await liveAgain(page);
  for (let i = 0; i < 5; i++) await pay(server.url, token, 10, `lost-${i}`);
  await shows(page, 60);

  await server.stop();
  for (const f of ['pulse.db-wal', 'pulse.db-shm']) rmSync(join(dataDir, f), { force: true });
  copyFileSync(join(backup, 'pulse.db'), join(dataDir, 'pulse.db'));
  await server.start();
  await liveAgain(page);
  await shows(page, 10); // the restored file's figures

  await pay(server.url, token, 7, 'after-restore');
  await shows(page, 17);
  assert.deepEqual(errors, []);
});
