// What every browser script needs: its settings from the environment, a failing check,
// and Debian's Chromium started headless (CHROMIUM names another binary).

import { chromium } from 'playwright-core';

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Ticks the proof-of-work widget from the keyboard and waits until it has solved its
// challenge into the signup form's `altcha` field.
export async function solve(page) {
  await page.focus('altcha-widget input[type=checkbox]');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => {
    const field = document.querySelector('form.bulten-signup input[name=altcha]');
    return field && field.value.length > 20;
  }, null, { timeout: 60000 });
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}
