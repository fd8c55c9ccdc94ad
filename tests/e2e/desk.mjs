// The desk in a real browser: a wrong password, then the right one, the dashboard with its
// charts, the password page, the switch to Turkish, and signing out; with screenshots of
// every page at a laptop's width (1280) and a phone's (390), and no script, style or
// request the page's policy refuses.
//
// Run by tests/api/browser.rs. Environment: BASE_URL, USERNAME, PASSWORD, SHOTS, CHROMIUM.

import { check, env, launch } from './common.mjs';
import { mkdirSync } from 'node:fs';

const base = env('BASE_URL');
const username = env('USERNAME');
const password = env('PASSWORD');
const shots = env('SHOTS');
mkdirSync(shots, { recursive: true });

const browser = await launch();
try {
  for (const [width, height] of [[1280, 900], [390, 844]]) {
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width, height } });
    const page = await context.newPage();
    const problems = [];
    // The wrong password's answer is a 401, which Chromium reports on the console.
    page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('status of 401')) problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
    const shot = (name) => page.screenshot({ path: `${shots}/desk-${width}-${name}.png`, fullPage: true });

    await page.goto(`${base}/admin/`);
    check(page.url().startsWith(`${base}/admin/login`), 'a stranger is sent to sign in');
    await shot('1-login');
    await page.fill('#username', username);
    await page.fill('#password', 'not-the-password');
    await page.press('#password', 'Enter');
    await page.waitForSelector('.error');
    await shot('2-login-wrong');
    await page.fill('#password', password);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:has-text("Dashboard")');
    check(await page.locator('svg.chart').count() === 4, 'four charts are drawn');
    await shot('3-dashboard');
    await page.goto(`${base}/admin/password`);
    await shot('4-password');
    await page.click('header button:has-text("Türkçe")');
    await page.waitForSelector('h1:has-text("Pano")');
    await shot('5-dashboard-tr');
    await page.click('header button:has-text("English")');
    await page.waitForSelector('h1:has-text("Dashboard")');
    await page.click('header button:has-text("Sign out")');
    await page.waitForSelector('h1:has-text("Sign in")');
    check(problems.length === 0, `the pages ran cleanly: ${problems.join('; ')}`);
    await context.close();
  }
  process.stdout.write('DONE\n');
} finally {
  await browser.close();
}
process.exit(0);
