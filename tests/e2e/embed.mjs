// The embedded signup form on a publisher's page, in a real browser: the page is served by
// another origin than bulten (the test's second server), holds the snippet exactly as
// bulten's embed page shows it, and the reader signs up from there.
//
// Run by tests/api/browser.rs. Environment: PAGE_URL (the publisher's page), BASE_URL
// (bulten), EMAIL, SHOTS (a directory for screenshots), CHROMIUM (the browser binary).

import { check, env, launch, solve } from './common.mjs';
import { mkdirSync } from 'node:fs';

const pageUrl = env('PAGE_URL');
const base = env('BASE_URL');
const email = env('EMAIL');
const shots = env('SHOTS');
mkdirSync(shots, { recursive: true });

const browser = await launch();
try {
  const context = await browser.newContext({ locale: 'tr-TR' });
  const page = await context.newPage();
  const failed = [];
  page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`browser: ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`browser: ${e.message}`));

  await page.goto(pageUrl);
  check(new URL(pageUrl).origin !== new URL(base).origin, 'the publisher\'s page is on another origin');
  check(!(await page.isVisible('#nonce')) || (await page.evaluate(() => document.querySelector('#nonce').getBoundingClientRect().right < 0)),
    'the honeypot stays out of sight on the publisher\'s page, without bulten\'s stylesheet');
  await page.fill('#email', email);
  await page.check('form.bulten-signup input[name=l]');
  // The widget's script and its challenge come from bulten, across origins.
  await solve(page);
  await page.screenshot({ path: `${shots}/embed-1-solved.png`, fullPage: true });
  await page.click('form.bulten-signup button[type=submit]');
  await page.waitForSelector('h1:has-text("Gelen kutunuzu kontrol edin")');
  check(page.url().startsWith(base), 'the form posts to bulten');
  await page.screenshot({ path: `${shots}/embed-2-check-inbox.png`, fullPage: true });
  check(failed.length === 0, `requests failed: ${failed}`);
  process.stdout.write('DONE\n');
} finally {
  await browser.close();
}
process.exit(0);
