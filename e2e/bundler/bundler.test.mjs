// The SDK's npm package (scripts/build-js-sdk → client-sdk/pkg) from a bundler: a tiny app
// imports '@pulse-realtime/sdk' by name, Vite (from npm, e2e/bundler/package.json) builds it, the real server serves
// the build, and headless Chromium runs it: live, a ping acked, a payment received.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { build } from 'vite';
import { ROOT, apiLogin, browserPage, eventually, startServer } from '../harness.mjs';

test('the JS package works from a Vite build', async (t) => {
  const pkg = join(ROOT, 'client-sdk/pkg');
  assert.ok(existsSync(join(pkg, 'package.json')), 'run scripts/build-js-sdk first');
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  assert.equal(manifest.name, '@pulse-realtime/sdk');
  assert.equal(manifest.license, 'MIT OR Apache-2.0');
  for (const f of manifest.files) assert.ok(existsSync(join(pkg, f)), `the package lists ${f}`);

  // The app, with the package installed under its name as npm would (a link to the build).
  const app = mkdtempSync(join(tmpdir(), 'pulse-vite-app-'));
  cpSync(join(ROOT, 'e2e/bundler/app'), app, { recursive: true });
  mkdirSync(join(app, 'node_modules/@pulse-realtime'), { recursive: true });
  symlinkSync(pkg, join(app, 'node_modules/@pulse-realtime/sdk'), 'dir');
  await build({
    root: app,
    logLevel: 'warn',
    build: { outDir: join(app, 'dist'), target: 'es2022' },
  });
  const assets = readdirSync(join(app, 'dist/assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `Vite emitted the wasm: ${assets}`);

  const pulse = await startServer({ env: { PULSE_DEMO: 'false', PULSE_DIST: join(app, 'dist') } });
  t.after(() => pulse.stop());
  const { page, errors } = await browserPage(t);
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

  await page.goto(pulse.url);
  await eventually('live', async () => (await page.locator('#status').getAttribute('data-state')) === 'live');
  await eventually('ping acked', async () => (await page.locator('#ping').innerText()) === 'ok');
  const { token } = await apiLogin(pulse.url);
  const res = await fetch(`${pulse.url}/api/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ customer_id: 4, amount: 2.5, method: 'CASH', note: 'from-vite' }),
  });
  assert.equal(res.status, 200);
  await eventually('payment received', async () => (await page.locator('#payment').innerText()).startsWith('from-vite #'));
  assert.deepEqual(errors, []);
});

test("the package README's example type-checks against the declarations (tsc --strict)", () => {
  const pkg = join(ROOT, 'client-sdk/pkg');
  const readme = readFileSync(join(ROOT, 'client-sdk/js/README.md'), 'utf8');
  const example = readme.match(/```js\n([\s\S]*?)```/)[1];
  const app = mkdtempSync(join(tmpdir(), 'pulse-ts-'));
  mkdirSync(join(app, 'node_modules/@pulse-realtime'), { recursive: true });
  symlinkSync(pkg, join(app, 'node_modules/@pulse-realtime/sdk'), 'dir');
  // The example as a module of an app; `token` is the app's.
  writeFileSync(join(app, 'example.ts'), `declare const token: string;\n${example}\nexport {};\n`);
  const tsc = join(ROOT, 'e2e/bundler/node_modules/typescript/bin/tsc');
  const args = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'esnext,dom', 'example.ts'];
  const run = spawnSync(process.execPath, [tsc, ...args], { cwd: app, encoding: 'utf8' });
  assert.equal(run.status, 0, `tsc:\n${run.stdout}${run.stderr}`);
});
