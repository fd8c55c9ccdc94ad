// The reader's path in a real browser: open the signup page, let the proof-of-work widget
// solve its challenge, sign up, confirm from the mailed link, change topics, unsubscribe.
//
// Run by tests/api/browser.rs, which starts bulten and answers this script's questions on
// stdin (`ASK confirm-link EMAIL` → the link from the confirmation mail in the outbox).
// Environment: BASE_URL, READER_LANG (tr|en), EMAIL, TOPIC_ON, TOPIC_OFF, SHOTS (a directory
// for screenshots), CHROMIUM (the browser binary).

import { check, env, launch, solve as solveOn } from './common.mjs';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';

const base = env('BASE_URL');
const lang = env('READER_LANG');
const email = env('EMAIL');
const topicOn = env('TOPIC_ON');
const topicOff = env('TOPIC_OFF');
const shots = env('SHOTS');
mkdirSync(shots, { recursive: true });

const TEXT = {
  tr: {
    submit: 'Abone ol',
    done: 'Gelen kutunuzu kontrol edin',
    confirm: 'Aboneliği onayla',
    confirmed: 'Abonelik onaylandı',
    manage: 'Tüm tercihlerinizi yönetin',
    save: 'Tercihleri kaydet',
    saved: 'Tercihleriniz kaydedildi.',
    leave: 'Tüm aboneliklerimden çık',
    left: 'Tüm aboneliklerinizden çıktınız.',
    emailError: 'Lütfen geçerli bir e-posta adresi girin.',
  },
  en: {
    submit: 'Subscribe',
    done: 'Check your inbox',
    confirm: 'Confirm subscription',
    confirmed: 'Subscription confirmed',
    manage: 'Manage all your preferences',
    save: 'Save preferences',
    saved: 'Your preferences are saved.',
    leave: 'Unsubscribe from everything',
    left: 'You are unsubscribed from everything.',
    emailError: 'Please enter a valid email address.',
  },
}[lang];

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(question) {
  process.stdout.write(`ASK ${question}\n`);
  const { value } = await lines.next();
  return value.trim();
}

const browser = await launch();
try {
  const context = await browser.newContext({ locale: lang === 'tr' ? 'tr-TR' : 'en-GB' });
  const page = await context.newPage();
  const outside = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith('data:') && !request.url().startsWith('blob:')) {
      outside.push(request.url());
    }
  });
  // What the browser complains about goes to stderr, for the test's failure message.
  page.on('console', (m) => { if (m.type() === 'error') console.error(`browser: ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`browser: ${e.message}`));
  const shot = (name) => page.screenshot({ path: `${shots}/${lang}-${name}.png`, fullPage: true });

  await page.goto(`${base}/subscription/form`);
  check((await page.getAttribute('html', 'lang')) === lang, 'the page speaks the browser\'s language');

  // Every visible field has a label; the keyboard reaches the address right after the
  // header's language switch.
  const unlabelled = await page.$$eval('form input:not([type=hidden])', (inputs) =>
    inputs.filter((i) => !i.closest('.hp') && !i.closest('altcha-widget') && i.labels.length === 0).map((i) => i.name));
  check(unlabelled.length === 0, `inputs without labels: ${unlabelled}`);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.id) === 'email', 'Tab reaches the address field second');

  // The widget solves the proof of work in the browser, from bulten's own challenge; the
  // reader ticks it from the keyboard.
  const solve = () => solveOn(page);

  // A wrong address is told next to its field, and the topic chosen stays chosen.
  await page.fill('#email', 'not an address');
  await page.check(`label:has-text("${topicOff}") >> xpath=preceding-sibling::input`);
  await solve();
  await page.click(`button:has-text("${TEXT.submit}")`);
  await page.waitForSelector('#email-error');
  check((await page.textContent('#email-error')).includes(TEXT.emailError), 'the error is tied to the field');
  check(await page.getAttribute('#email', 'aria-describedby') === 'email-error', 'screen readers read the error with the field');
  check(await page.isChecked(`label:has-text("${topicOff}") >> xpath=preceding-sibling::input`), 'the topic is still chosen');
  await shot('1-error');

  await page.fill('#email', email);
  await page.fill('#name', lang === 'tr' ? 'Işıl İnce' : 'Reader');
  await solve();
  await shot('2-solved');
  await page.click(`button:has-text("${TEXT.submit}")`);
  await page.waitForSelector(`h1:has-text("${TEXT.done}")`);
  await shot('3-check-inbox');

  const confirm = await ask(`confirm-link ${email}`);
  await page.goto(confirm);
  await shot('4-confirm');
  await page.click(`button:has-text("${TEXT.confirm}")`);
  await page.waitForSelector(`h1:has-text("${TEXT.confirmed}")`);
  await shot('5-confirmed');

  await page.click(`a:has-text("${TEXT.manage}")`);
  await page.waitForSelector('#topics');
  await page.uncheck(`label:has-text("${topicOff}") >> xpath=preceding-sibling::input`);
  await page.check(`label:has-text("${topicOn}") >> xpath=preceding-sibling::input`);
  await page.click(`button:has-text("${TEXT.save}")`);
  await page.waitForSelector(`.notice:has-text("${TEXT.saved}")`);
  await shot('6-topics');

  await page.click(`button:has-text("${TEXT.leave}")`);
  await page.waitForSelector(`p:has-text("${TEXT.left}")`);
  await shot('7-unsubscribed');

  check(outside.length === 0, `requests left bulten: ${outside}`);
  process.stdout.write('DONE\n');
} finally {
  await browser.close();
}
process.exit(0);
