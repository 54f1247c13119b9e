// Takes the README's screenshots of the dashboard: a demo server with its generator on (the
// figures are live, a minute old at most), the release build in dist/, headless Chromium,
// desktop and phone sizes. Run by scripts/screenshots; writes docs/images/*.png.
import { join } from 'node:path';
import { ROOT, launchBrowser, login, startServer } from '../e2e/harness.mjs';

const OUT = join(ROOT, 'docs/images');
const server = await startServer({ env: { PULSE_DEMO: 'true', PULSE_DEMO_RATE: '4' } });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  // Let the generator record a little history, so tables and the chart are not empty.
  await new Promise((r) => setTimeout(r, 8000));
  await login(page, server.url);
  await new Promise((r) => setTimeout(r, 3000));
  await page.screenshot({ path: join(OUT, 'overview.png') });
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const [name, file] of [['Deliveries', 'deliveries.png'], ['Payments', 'payments.png'], ['Customers', 'customers.png']]) {
    await nav.getByRole('link', { name }).click();
    await new Promise((r) => setTimeout(r, 1500));
    await page.screenshot({ path: join(OUT, file) });
  }
  await nav.getByRole('link', { name: 'Overview' }).click();
  await page.setViewportSize({ width: 390, height: 844 });
  await new Promise((r) => setTimeout(r, 1500));
  await page.screenshot({ path: join(OUT, 'phone.png') });
  console.log(`screenshots in ${OUT}`);
} finally {
  await browser.close();
  await server.stop();
}
