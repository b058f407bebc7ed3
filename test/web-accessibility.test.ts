/**
 * Accessibility of the pages (issue #22): each page — home, signup, sign-in,
 * activate, launch, My tenants, chat, device approval — passes axe-core's
 * automated checks at desktop and phone widths with zero violations, in the
 * states a person sees them; and the launch and chat pages do their main
 * action from the keyboard alone (Tab to the control, type, Enter). My
 * tenants' keyboard path is in web-tenants-experience.test.ts.
 */
import test from 'ava';
import { waitForEvent } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { idTokenFor } from '../testing/users.ts';
import { axeAtBothWidths } from './axe.ts';
import { uniqueEmail } from './signup-harness.ts';
import { startBrowser, type TestBrowser } from './web-browser.ts';

let stack: TestStack;
let web: TestBrowser;
const email = uniqueEmail('a11y');
test.before(async () => {
  [stack, web] = await Promise.all([startTestStack(), startBrowser()]);
});
test.after.always(async () => {
  // The tenant launched from the keyboard runs as real processes: delete it.
  const user = await stack?.deps
    .auth()
    .then((auth) => auth.getUserByEmail(email))
    .catch(() => undefined);
  if (user) {
    const token = await idTokenFor(stack.deps, user.uid);
    const { tenants = [] } = await (await stack.fetch('/api/v1/tenants', { token })).json();
    for (const tenant of tenants as { id: string }[]) {
      await stack.fetch(`/api/v1/tenants/${tenant.id}`, { method: 'DELETE', token });
      await waitForEvent(stack.streamUrl, tenant.id, token, ['tenant_deleted'], 60_000).catch(() => undefined);
    }
  }
  await web?.close();
  await stack?.close();
});

/** The page's violations at both widths, after its main heading is there. */
async function checkPage(heading: string | RegExp): Promise<string[]> {
  const { page } = web;
  await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
  return axeAtBothWidths(page, () => page.waitForTimeout(200));
}

/** Presses Tab until `selector`'s element has the focus (at most 60 presses). */
async function tabTo(selector: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if (await selector()) return;
    await web.page.keyboard.press('Tab');
  }
  throw new Error('Tab never reached the control.');
}
const hasFocus = (locator: ReturnType<TestBrowser['page']['getByLabel']>) => () =>
  locator.evaluate((el) => el === document.activeElement).catch(() => false);

test.serial('the home, signup and sign-in pages pass axe at both widths', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/`);
  t.deepEqual(await checkPage('Your product, one click per customer.'), [], 'home');
  await page.goto(`${stack.url}/signup.html`);
  t.deepEqual(await checkPage('Create your account'), [], 'signup');
  await page.goto(`${stack.url}/signup.html?mode=signin`);
  t.deepEqual(await checkPage('Sign in'), [], 'sign-in');
});

test.serial('the activation page passes axe once it activated the account from the mailed link', async (t) => {
  const { page } = web;
  t.is((await stack.fetch('/api/signup', { method: 'POST', json: { email } })).status, 202);
  const mail = await stack.mail.waitFor(email, { timeoutMs: 30_000 });
  const link = /https?:\/\/\S+activate\.html\?token=[\w-]+/.exec(mail.text)?.[0];
  t.truthy(link, mail.text);
  await page.goto(link!);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  t.deepEqual(await checkPage('Your account is active'), []);
});

test.serial('launch passes axe, and the keyboard alone launches a tenant', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/launch.html`);
  t.deepEqual(await checkPage('Launch your tenant'), [], 'before launching');
  const name = page.getByLabel('Name');
  await page.locator('body').focus();
  await tabTo(hasFocus(name));
  await page.keyboard.type('keyboard-shop');
  const launch = page.getByRole('button', { name: 'Launch', exact: true });
  await tabTo(hasFocus(launch));
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'keyboard-shop is ready', level: 1 }).waitFor({ timeout: 120_000 });
  t.deepEqual(await axeAtBothWidths(page, () => page.waitForTimeout(200)), [], 'once ready');
});

test.serial('My tenants passes axe with a tenant listed', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/tenants.html`);
  await page.getByRole('article').filter({ hasText: 'keyboard-shop' }).waitFor();
  t.deepEqual(await checkPage('My tenants'), []);
});

test.serial('chat passes axe, and the keyboard alone sends a message and gets the answer', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/chat.html`);
  const log = page.getByRole('log', { name: 'Conversation' });
  await log.getByText('Ask me to manage your tenants.').waitFor();
  t.deepEqual(await checkPage('Chat'), [], 'empty conversation');
  await page.locator('body').focus();
  const message = page.getByLabel('Message');
  await tabTo(hasFocus(message));
  await page.keyboard.type('list my tenants');
  await page.keyboard.press('Enter');
  await log.getByText('keyboard-shop').first().waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Send' }).and(page.locator(':not([aria-busy])')).waitFor();
  t.deepEqual(await axeAtBothWidths(page, () => page.waitForTimeout(200)), [], 'with an answer');
});

test.serial('the device approval page passes axe', async (t) => {
  const { page } = web;
  const start = await (await stack.fetch('/api/v1/device/code', { method: 'POST', json: {} })).json();
  await page.goto(start.verification_uri_complete.replace(/^https?:\/\/[^/]+/, stack.url));
  t.deepEqual(await checkPage('Approve a CLI sign-in'), []);
});
