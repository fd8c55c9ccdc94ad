// The desk in a real browser: a wrong password, then the right one, the dashboard with its
// charts, the password page, the switch to Turkish, and signing out; with screenshots of
// every page at a laptop's width (1280) and a phone's (390), and no script, style or
// request the page's policy refuses. Then two-step sign-in: enrolment by the QR code's key,
// a sign-in with the authenticator's code, and one with a recovery code. Then an account
// locked by wrong passwords, a viewer who can change nothing, an editor limited to one list,
// a form posted from another site, a 10,000-row import watched to its end and a bulk action
// on what a filter finds. Last, axe-core audits every page against WCAG 2.1 A and AA.
//
// Run by tests/api/browser.rs. Environment: BASE_URL, USERNAME, PASSWORD, SHOTS, CHROMIUM,
// LOCKED_PASSWORD, VIEWER_PASSWORD, EDITOR_PASSWORD, ADMIN_PASSWORD.

import { check, env, launch } from './common.mjs';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHmac } from 'node:crypto';

// The code an authenticator app shows for a base32 secret, `ahead` 30-second steps from now
// (RFC 6238 with SHA-1 and six digits).
function authenticator(secret, ahead) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + ahead));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[19] & 0xf;
  const value = (mac.readUInt32BE(at) & 0x7fffffff) % 1000000;
  return String(value).padStart(6, '0');
}

// axe-core, the accessibility engine browsers' own audits use, run on each page.
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// The page's violations of WCAG 2.1 A and AA (labels, contrast, names, structure), as lines.
async function accessibilityProblems(page, name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  return result.violations.map((v) => `${name}: ${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

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
    await page.click('header a:has-text("Readers")');
    await page.waitForSelector('h1:has-text("Readers")');
    await shot('4-readers');
    await page.click('main table tbody a');
    await page.waitForSelector('h2:has-text("@")');
    await shot('4-reader');
    await page.click('header a:has-text("Lists")');
    await page.waitForSelector('h1:has-text("Lists")');
    await shot('4-lists');
    await page.click('main table a');
    await page.waitForSelector('h2:has-text("Edit the list")');
    await shot('4-list');
    await page.click('header a:has-text("Import")');
    await page.waitForSelector('h1:has-text("Import")');
    await page.setInputFiles('#file', { name: 'okurlar.csv', mimeType: 'text/csv', buffer: Buffer.from(`email,name\ne2e-${width}@okur.example,E2E\nnot-an-address,Bad\n`) });
    await page.locator('input[name=list]').first().check();
    await page.click('form[enctype="multipart/form-data"] button[type=submit]');
    await page.waitForSelector('.notice');
    await page.goto(`${base}/admin/import`);
    await page.waitForSelector('text=Finished.');
    await shot('4-import');
    await page.click('header a:has-text("Accounts")');
    await page.waitForSelector('h1:has-text("Accounts")');
    // A sports editor, limited to one list: the limits editor, opened.
    await page.fill('#new-username', `spor-${width}`);
    await page.click('button:has-text("Add")');
    await page.waitForSelector('code.secret');
    await page.click('a:has-text("Back to the accounts")');
    await page.waitForSelector('h1:has-text("Accounts")');
    const card = page.locator('article.account-card', { hasText: `spor-${width}` });
    await card.locator('details.limits summary').click();
    await card.locator('input[name=scope][value=some]').check();
    await card.locator('details.limits select').first().selectOption('manage');
    await card.locator('details.limits button[type=submit]').click();
    await page.waitForSelector('.notice');
    const limited = page.locator('article.account-card', { hasText: `spor-${width}` });
    check((await limited.locator('details.limits summary').textContent()).includes('read and change'), 'the limits are saved and shown');
    await limited.locator('details.limits summary').click();
    await shot('4-accounts');
    await page.click('header a:has-text("Audit log")');
    await page.waitForSelector('h1:has-text("Audit log")');
    await shot('4-audit');
    // Settings: rename the publisher, test the relay, read the DNS records.
    await page.click('header a:has-text("Settings")');
    await page.waitForSelector('h1:has-text("Settings")');
    await page.fill('#s-brand_name', `Haber ${width}`);
    await page.click('button:has-text("Save the settings")');
    await page.waitForSelector('.notice');
    check((await page.locator('header .brand').textContent()).includes(`Haber ${width}`), 'the new name is in force at once');
    await page.click('button:has-text("Test the connection")');
    await page.waitForSelector('text=The relay answered');
    await shot('4-settings');
    await page.click('a:has-text("DNS records")');
    await page.waitForSelector('h1:has-text("DNS records")');
    check(await page.locator('code:has-text("ed2026._domainkey.haber.example")').count() > 0, 'the DKIM record is named');
    await shot('4-settings-dns');
    await page.click('header button:has-text("Türkçe")');
    await page.waitForSelector('html[lang=tr]');
    // Every page in Turkish too.
    for (const [name, path] of [['dashboard', '/admin/'], ['password', '/admin/password'], ['readers', '/admin/subscribers'],
      ['reader', '/admin/subscribers/1'], ['lists', '/admin/lists'], ['import', '/admin/import'], ['accounts', '/admin/users'],
      ['audit', '/admin/audit'], ['settings', '/admin/settings'], ['settings-dns', '/admin/settings/dns'], ['second-factor', '/admin/second-factor']]) {
      await page.goto(`${base}${path}`);
      check(await page.locator('html[lang=tr]').count() === 1, `${path} is in Turkish`);
      await shot(`tr-${name}`);
    }
    await page.goto(`${base}/admin/`);
    await page.waitForSelector('h1:has-text("Pano")');
    await shot('5-dashboard-tr');
    await page.click('header button:has-text("English")');
    await page.waitForSelector('h1:has-text("Dashboard")');
    await page.click('header button:has-text("Sign out")');
    await page.waitForSelector('h1:has-text("Sign in")');
    check(problems.length === 0, `the pages ran cleanly: ${problems.join('; ')}`);
    await context.close();
  }
  // Two-step sign-in, on a phone: enrol, then sign in with a code, then with a recovery code.
  {
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const shot = (name) => page.screenshot({ path: `${shots}/desk-390-${name}.png`, fullPage: true });
    const signIn = async () => {
      await page.goto(`${base}/admin/login`);
      await page.fill('#username', username);
      await page.fill('#password', password);
      await page.click('button[type=submit]');
    };
    await signIn();
    await page.waitForSelector('h1:has-text("Dashboard")');
    await page.click('header a:has-text("Two-step sign-in")');
    await page.click('button:has-text("Set up two-step sign-in")');
    await page.waitForSelector('.qr svg');
    await shot('6-twofa-enrol');
    const secret = (await page.textContent('code.secret')).replace(/\s+/g, '');
    await page.fill('#code', authenticator(secret, 0));
    await page.click('button:has-text("Turn on")');
    await page.waitForSelector('.codes');
    await shot('7-twofa-codes');
    const recovery = (await page.locator('.codes code').allTextContents()).map((c) => c.trim());
    check(recovery.length === 10, 'ten recovery codes');
    await page.click('header button:has-text("Sign out")');

    await signIn();
    await page.waitForSelector('#code');
    await shot('8-login-code');
    await page.fill('#code', authenticator(secret, 1));
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:has-text("Dashboard")');
    await page.click('header button:has-text("Sign out")');

    await signIn();
    await page.waitForSelector('#code');
    await page.fill('#code', recovery[0]);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:has-text("Dashboard")');
    await page.goto(`${base}/admin/second-factor`);
    check((await page.textContent('main')).includes('Recovery codes left: 9.'), 'the recovery code was spent');
    await shot('9-twofa-on');
    await context.close();
  }
  // Lockout, roles and list limits, a form from another site, a 10,000-row import watched to
  // its end, and a bulk action on what a filter finds.
  {
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => {
      const text = m.text();
      if (m.type() === 'error' && !/status of (401|403|429)/.test(text)) problems.push(`console: ${text}`);
    });
    page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
    const shot = (name) => page.screenshot({ path: `${shots}/desk-1280-${name}.png`, fullPage: true });
    const signIn = async (user, pass) => {
      await page.goto(`${base}/admin/login`);
      await page.fill('#username', user);
      await page.fill('#password', pass);
      await page.click('button[type=submit]');
    };
    const signOut = async () => { await page.click('header button:has-text("Sign out")'); await page.waitForSelector('h1:has-text("Sign in")'); };

    // The account locks after `login_lockout_per_account` (3 here) wrong passwords, and
    // then the right one is refused too.
    for (let i = 0; i < 3; i++) {
      await signIn('kilitli', 'not-the-password');
      await page.waitForSelector('.error');
    }
    // Past the growing delay, so what answers is the lock.
    await page.waitForTimeout(2500);
    await signIn('kilitli', env('LOCKED_PASSWORD'));
    await page.waitForSelector('.error');
    check((await page.textContent('.error')).includes('Signing in is locked'), 'the account is locked');
    await shot('10-locked');

    // A viewer reads and changes nothing: no forms to change, and a change posted anyway
    // is refused.
    await signIn('izleyici', env('VIEWER_PASSWORD'));
    await page.waitForSelector('h1:has-text("Dashboard")');
    await page.goto(`${base}/admin/subscribers`);
    check(await page.locator('form.bulk').count() === 0, 'a viewer has no bulk actions');
    await page.click('main table tbody a');
    await page.waitForSelector('h2:has-text("@")');
    check(await page.locator('main form[method=post]').count() === 0, "a viewer's reader page changes nothing");
    const csrf = await page.getAttribute('header input[name=_csrf]', 'value');
    const posted = await page.request.post(`${base}/admin/lists`, { form: { _csrf: csrf, name: 'Viewer list' }, headers: { Origin: base, 'Sec-Fetch-Site': 'same-origin' } });
    check(posted.status() === 403, `a viewer's post is refused (${posted.status()})`);
    await shot('11-viewer-reader');
    await signOut();

    // An editor limited to the sports list sees only its readers.
    await signIn('spor-editoru', env('EDITOR_PASSWORD'));
    await page.waitForSelector('h1:has-text("Dashboard")');
    await page.goto(`${base}/admin/subscribers`);
    const listed = await page.textContent('main table');
    check(listed.includes('taraftar@okur.example') && !listed.includes('okur@example.com'), 'the sports editor sees only sports readers');
    await shot('12-limited-readers');
    await signOut();

    // An admin (without the second factor the first one enrolled above): a change posted
    // from another site is refused, session or not.
    await signIn('yonetici', env('ADMIN_PASSWORD'));
    await page.waitForSelector('h1:has-text("Dashboard")');
    const token = await page.getAttribute('header input[name=_csrf]', 'value');
    const forged = await page.request.post(`${base}/admin/lists`, { form: { _csrf: token, name: 'Forged' }, headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' } });
    check(forged.status() === 403, `a cross-site form is refused (${forged.status()})`);

    // A 10,000-row import, watched until its progress bar is full.
    let rows = 'email,name\n';
    for (let i = 0; i < 10000; i++) rows += `toplu-${i}@okur.example,Toplu ${i}\n`;
    await page.goto(`${base}/admin/import`);
    await page.setInputFiles('#file', { name: 'toplu.csv', mimeType: 'text/csv', buffer: Buffer.from(rows) });
    await page.locator('input[name=list]').first().check();
    await page.click('form[enctype="multipart/form-data"] button[type=submit]');
    await page.waitForSelector('.notice');
    await page.waitForSelector('text=Finished.', { timeout: 60000 });
    check(await page.getAttribute('progress', 'value') === '100', 'the progress bar is full');
    check((await page.textContent('main')).includes('10000'), 'every row is counted');
    await shot('13-import-10000');

    // A filter finds them, and one bulk action adds them all to the sports list.
    await page.goto(`${base}/admin/subscribers`);
    await page.click('details.wide summary');
    await page.fill('#query', "subscribers.email LIKE 'toplu-%'");
    await page.click('button:has-text("Find")');
    await page.waitForSelector('text=10000 readers match.');
    await page.selectOption('#bulk-action', 'add');
    await page.selectOption('#bulk-list', { label: 'Spor' });
    await page.click('button:has-text("Next…")');
    await page.waitForSelector('text=Add 10000 readers to Spor, confirmed?');
    await shot('14-bulk-confirm');
    await page.click('button:has-text("Yes, do it")');
    await page.waitForSelector('text=Done: the readers found are changed.');
    await page.goto(`${base}/admin/lists`);
    check((await page.textContent('main table')).includes('10001'), 'the sports list has its reader and the 10,000');
    await shot('15-lists-after-bulk');
    check(problems.length === 0, `the pages ran cleanly: ${problems.join('; ')}`);
    await context.close();
  }
  // Accessibility: every page of the desk, in English and in Turkish, at both widths, passes
  // axe-core's WCAG 2.1 A and AA rules. The audit injects its script, which the desk's own
  // policy would refuse, so this context alone sets the policy aside.
  {
    const found = [];
    for (const [width, height] of [[1280, 900], [390, 844]]) {
      const context = await browser.newContext({ locale: 'en-GB', viewport: { width, height }, bypassCSP: true });
      const page = await context.newPage();
      await page.goto(`${base}/admin/login`);
      found.push(...await accessibilityProblems(page, `${width} login`));
      await page.fill('#username', 'yonetici');
      await page.fill('#password', env('ADMIN_PASSWORD'));
      await page.click('button[type=submit]');
      await page.waitForSelector('main h1');
      // The language chosen at the other width is remembered: start in English again.
      if (await page.locator('header button:has-text("English")').count() > 0) {
        await page.click('header button:has-text("English")');
        await page.waitForSelector('html[lang=en]');
      }
      const pages = ['/admin/', '/admin/password', '/admin/second-factor', '/admin/subscribers', '/admin/subscribers/1',
        '/admin/subscribers/new', '/admin/lists', '/admin/lists/1', '/admin/import', '/admin/users', '/admin/audit',
        '/admin/settings', '/admin/settings/dns'];
      for (const lang of ['en', 'tr']) {
        if (lang === 'tr') {
          await page.click('header button:has-text("Türkçe")');
          await page.waitForSelector('html[lang=tr]');
        }
        for (const path of pages) {
          await page.goto(`${base}${path}`);
          found.push(...await accessibilityProblems(page, `${width} ${lang} ${path}`));
        }
      }
      await context.close();
    }
    check(found.length === 0, `every page passes WCAG 2.1 AA in axe-core:\n${found.join('\n')}`);
  }
  process.stdout.write('DONE\n');
} finally {
  await browser.close();
}
process.exit(0);
