/**
 * The README's tour, followed literally in a real browser against the real
 * local stack: sign up, open the mail in the local inbox and click its button,
 * Launch (with a reload half-way), credentials shown once, a deploy, suspend
 * and resume, secrets, logs, rotation, sign-in again by mail, delete and
 * sign-out. Every step is screenshotted at desktop and phone width into
 * test-output/screenshots/tour-*.png.
 */
import test from 'ava';
import type { Page } from 'playwright-core';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { screenshotBothWidths, startBrowser, streamsThroughHosting, type TestBrowser } from './web-browser.ts';
import { uniqueEmail } from './signup-harness.ts';

let stack: TestStack;
let web: TestBrowser;
test.before(async () => {
  [stack, web] = await Promise.all([startTestStack(), startBrowser()]);
});
test.after.always(async () => {
  await web?.close();
  await stack?.close();
});
test.afterEach('no page opened a stream through Hosting, which would deliver it only at its end', (t) => {
  t.deepEqual(streamsThroughHosting(web, stack.url), []);
  web.streams.length = 0;
});

const email = uniqueEmail('web');
let tenantId = '';
let liveUrl = '';
let step = 0;

/** Screenshots the page as tour step N at both widths; nothing may scroll sideways on a phone. */
async function shot(t: { true(v: boolean, m?: string): void }, name: string): Promise<void> {
  step += 1;
  const { phoneOverflow } = await screenshotBothWidths(web.page, `tour-${String(step).padStart(2, '0')}-${name}`);
  t.true(phoneOverflow <= 0, `${name}: nothing scrolls sideways at 375 px`);
}

const card = () => web.page.getByRole('article').filter({ hasText: tenantId });

// Step 1 and 2: signup, then the mail's button in the local inbox

test.serial('the home page leads to signup and sign-in', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/`);
  await page.getByRole('heading', { name: 'Your product, one click per customer.' }).waitFor();
  t.is(await page.getByRole('link', { name: 'Sign up', exact: true }).getAttribute('href'), '/signup.html');
  t.is(await page.getByRole('link', { name: 'Sign in with an email link' }).getAttribute('href'), '/signup.html?mode=signin');
  await shot(t, 'home');
});

test.serial('1. signing up says a link was sent, and counts down before another can be', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/signup.html`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Company').fill('Acme Shop');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByText('Check your inbox').waitFor();
  t.true((await page.getByRole('status').innerText()).includes(email));
  t.true(await page.getByRole('button', { name: 'Send another link' }).isDisabled(), 'a second link within the minute would not be sent');
  t.regex(await page.getByText(/you can ask again in \d+ s/).innerText(), /in \d+ s/);
  await shot(t, 'signup-sent');
});

test.serial('2. the button in the mail, opened from the MailDev inbox, opens the activation page and signs in', async (t) => {
  const { page } = web;
  await stack.mail.waitFor(email, { timeoutMs: 30_000 });
  await page.goto(`${stack.mail.url}/`);
  await page
    .getByRole('button', { name: /Activate your tenantplane account/ })
    .first()
    .click();
  await page.getByRole('heading', { name: /Activate your tenantplane account/ }).waitFor();
  // MailDev's own page: screenshots of the tour, but its layout at phone width is MailDev's, not ours to hold to 375 px.
  step += 1;
  await screenshotBothWidths(page, `tour-${String(step).padStart(2, '0')}-inbox-message`);
  // MailDev shows the mail in a sandboxed frame, where our pages (which refuse framing) cannot open: a person
  // opens the link in a new tab; the test follows the link the frame shows.
  await page.goto(await linkInMailDev(page, 'Activate my account'));
  await page.waitForURL(/\/activate\.html/);
  await page.getByRole('heading', { name: 'Your account is active' }).waitFor();
  t.false(page.url().includes('token='), 'the token leaves the address bar');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  t.true((await page.locator('header').innerText()).includes(email), 'the header knows who is signed in');
  await shot(t, 'activated');
});

// Step 3: Launch, with a reload half-way

test.serial('3. Launch shows each step, survives a reload mid-launch, and links to the environments', async (t) => {
  const { page, context } = web;
  await page.getByRole('link', { name: 'Launch' }).click();
  await page.waitForURL(/\/launch\.html/);
  const name = page.getByLabel('Name');
  await name.waitFor();
  t.is(await name.inputValue(), 'acme-shop', 'the name comes from the company given at signup');
  t.true(await page.getByRole('checkbox', { name: 'Live' }).isChecked());
  await page.getByText(/It starts on the plan: Free \(free\): \d+ tenants?, demo, test and live/).waitFor();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.getByRole('progressbar').waitFor();
  await page.waitForURL(/\?tenant=t-/);
  tenantId = new URL(page.url()).searchParams.get('tenant') ?? '';
  t.regex(tenantId, /^t-[a-z2-7]{10}$/);
  await page.reload();
  await page.getByRole('heading', { name: 'Your environments are ready' }).waitFor({ timeout: 90_000 });
  t.is(await page.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
  const steps = await page.getByRole('log', { name: 'Provisioning events' }).innerText();
  t.regex(steps, /Every environment is ready\./);
  t.true(
    web.streams.some((url) => url.startsWith(`${stack.streamUrl}/api/v1/tenants/${tenantId}/events`)),
    "the progress came from the api function's own URL",
  );
  t.is(await page.getByRole('link', { name: /^Open (Demo|Test|Live)$/ }).count(), 3);
  liveUrl = (await page.getByRole('link', { name: 'Open Live' }).getAttribute('href')) ?? '';
  const tenantPage = await context.newPage();
  await tenantPage.goto(liveUrl);
  t.regex(await tenantPage.locator('body').innerText(), new RegExp(tenantId), "the environment's own page answers");
  await tenantPage.close();
  await shot(t, 'launch-ready');
});

test.serial('the credentials survive the reload, show once with copy buttons, then say they were shown', async (t) => {
  const { page } = web;
  await page.getByRole('button', { name: 'Show my credentials once' }).click();
  await page.getByText('Copy them now: they are shown only this once.').waitFor();
  t.true(await page.getByRole('button', { name: 'Copy JWT_SECRET' }).isVisible());
  await shot(t, 'credentials-shown');
  await page.reload();
  await page.getByText(/were already shown once and cannot be shown again/).waitFor();
  await page.getByRole('button', { name: 'Rotate credentials…' }).waitFor();
  await shot(t, 'credentials-already-shown');
});

test.serial('a second launch with the same name shows the conflict in words, not JSON', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/launch.html`);
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.getByText('You already have a tenant named "acme-shop"').waitFor();
  t.false((await page.locator('main').innerText()).includes('{"error"'));
});

test.serial('the session survives closing the tab', async (t) => {
  await web.page.close();
  web.page = await web.context.newPage();
  await web.page.goto(`${stack.url}/tenants.html`);
  await card().getByText('Live: ready').waitFor();
  await card()
    .getByText(/Plan: Free \(free\)/)
    .waitFor();
  t.pass();
});

// Step 4: My tenants

test.serial('4. a deploy explains images, asks before touching live, and its result stays', async (t) => {
  const { page } = web;
  await card().getByRole('button', { name: 'Manage' }).click();
  await card().getByText('How do I push my own image?').click();
  await card()
    .getByText(/docker push/)
    .waitFor();
  await card().getByRole('button', { name: 'Deploy…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Deploy to acme-shop?' });
  t.regex(await dialog.innerText(), /Live is included/);
  await shot(t, 'deploy-confirm');
  await dialog.getByRole('button', { name: 'Deploy, live included' }).click();
  await card()
    .getByText(/^Finished at .*: Deployed /)
    .waitFor({ timeout: 90_000 });
  await page.waitForTimeout(1500);
  t.true(
    await card()
      .getByText(/^Finished at .*: Deployed /)
      .isVisible(),
    'the outcome stays on the card',
  );
  await shot(t, 'deployed');
});

test.serial('4. suspend says live stops and asks first; resume brings it back at the same URL', async (t) => {
  const { page } = web;
  await card().getByRole('button', { name: 'Suspend…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Suspend acme-shop?' });
  t.regex(await dialog.innerText(), /live stops answering your customers/);
  await shot(t, 'suspend-confirm');
  await dialog.getByRole('button', { name: 'Suspend, live included' }).click();
  await card().getByRole('button', { name: 'Resume' }).waitFor({ timeout: 60_000 });
  await card().getByText('Live: suspended').waitFor();
  const paused = await fetch(liveUrl).then(
    (r) => r.text(),
    () => 'no answer',
  );
  t.true(
    paused === 'no answer' || /paused|suspended/i.test(paused),
    `a suspended environment does not serve the app (${paused.slice(0, 80)})`,
  );
  await shot(t, 'suspended');
  await card().getByRole('button', { name: 'Resume' }).click();
  await card().getByRole('button', { name: 'Suspend…' }).waitFor({ timeout: 60_000 });
  t.is((await fetch(liveUrl)).status, 200, 'resumed at the same URL');
});

test.serial('4. saving a secret says live restarts and asks first; logs show newest first', async (t) => {
  const { page } = web;
  await card().getByLabel('Key').fill('GEMINI_API_KEY');
  await card().getByLabel('Value').fill('sk-test-value-never-shown');
  await card().getByRole('button', { name: 'Save secret' }).click();
  const dialog = page.getByRole('dialog', { name: 'Save GEMINI_API_KEY?' });
  t.regex(await dialog.innerText(), /live is briefly unavailable/);
  await dialog.getByRole('button', { name: 'Save and restart' }).click();
  await card().getByText('Added GEMINI_API_KEY').waitFor();
  await card()
    .getByText(/^Finished at /)
    .waitFor({ timeout: 60_000 });
  t.false((await page.content()).includes('sk-test-value-never-shown'), 'the value is never shown back');
  await card()
    .getByText(/listening on/)
    .first()
    .waitFor({ timeout: 30_000 });
  const times = (await card().getByLabel('Log lines of live').innerText())
    .split('\n')
    .map((l) => l.slice(0, 8))
    .filter((x) => /^\d\d:\d\d:\d\d$/.test(x));
  t.deepEqual(times, [...times].sort().reverse(), 'newest line first');
  await shot(t, 'manage');
});

test.serial('rotating the credentials asks first, then offers the new ones once', async (t) => {
  const { page } = web;
  await card().getByRole('button', { name: 'Rotate credentials…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Rotate the credentials of acme-shop?' });
  t.regex(await dialog.innerText(), /live included/);
  await dialog.getByRole('button', { name: 'Rotate and restart' }).click();
  await card().getByRole('button', { name: 'Show my credentials once' }).waitFor({ timeout: 60_000 });
  await shot(t, 'rotated');
});

// Signing in again

test.serial('signing in again by mail: a sign-in mail, and a returning user lands on their tenants', async (t) => {
  const { page } = web;
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${stack.url}/`);
  await page.getByRole('link', { name: 'Sign in with an email link' }).click();
  const before = (await stack.mail.messages()).map((m) => m.id);
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.getByText('Check your inbox').waitFor();
  await shot(t, 'signin-sent');
  // After a send the page counts down the per-address minute. Within a minute of an earlier send it sends
  // nothing and says "We already sent"; then the link comes through the resend button once it is free.
  const resend = page.getByRole('button', { name: 'Send another link' });
  t.true(await resend.isDisabled(), 'the resend button waits out the minute');
  if (/We already sent a link to/.test(await page.getByRole('status').innerText())) {
    await page.waitForFunction(
      () => [...document.querySelectorAll('button')].some((b) => b.textContent === 'Send another link' && !b.disabled),
      undefined,
      { timeout: 70_000 },
    );
    await resend.click();
    await page.getByText(/We sent a link to/).waitFor();
  }
  const mail = await stack.mail.waitFor(email, { except: before, timeoutMs: 30_000 });
  t.regex(mail.subject, /sign-in link/);
  await page.goto(`${stack.mail.url}/#/email/${mail.id}`);
  await page.goto(await linkInMailDev(page, 'Sign in'));
  await page.getByRole('heading', { name: 'You are signed in' }).waitFor();
  await shot(t, 'signed-in-again');
  await page.getByRole('link', { name: 'Go to my tenants' }).click();
  await card().getByText('Live: ready').waitFor();
});

test.serial('the chat speaks of tenants, answers once, and keeps the conversation across a reload', async (t) => {
  const { page } = web;
  await page.getByRole('link', { name: 'Chat' }).click();
  const log = page.getByRole('log', { name: 'Conversation' });
  await log.getByText('Ask me to manage your tenants.').waitFor();
  await page.getByLabel('Message').fill('list my tenants');
  await page.getByRole('button', { name: 'Send' }).click();
  await log.getByText('acme-shop').first().waitFor();
  await page.getByRole('button', { name: 'Send' }).and(page.locator(':not([aria-busy])')).waitFor();
  const said = await log.innerText();
  t.notRegex(said, /[A-Z]+_[A-Z]+/, 'no internal action names');
  t.true(
    web.streams.includes(`${stack.config.streams.url.replace('{name}', 'chat')}/api/chat`),
    "the reply streamed from the chat function's own URL",
  );
  await page.reload();
  await log.getByText('list my tenants').waitFor();
  t.is(await log.innerText(), said, 'the same conversation after a reload');
  await shot(t, 'chat');
  await page.getByRole('link', { name: 'My tenants' }).click();
});

test.serial('deleting asks for the name, then removes the tenant; signing out ends the session', async (t) => {
  const { page } = web;
  await card().getByRole('button', { name: 'Delete', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete acme-shop?' });
  const confirm = dialog.getByRole('button', { name: 'Delete for good' });
  t.true(await confirm.isDisabled(), 'nothing happens until the name is typed');
  await dialog.getByLabel('Type acme-shop to confirm').fill('acme-shop');
  await confirm.click();
  await page.getByText('You have no tenants yet.').waitFor({ timeout: 120_000 });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${stack.url}/`);
  await page.goto(`${stack.url}/tenants.html`);
  await page.getByText('Please sign in').waitFor();
  t.is(await page.getByRole('link', { name: 'Email me a sign-in link' }).getAttribute('href'), '/signup.html?mode=signin');
});

/** The address of the link named `name` in the message MailDev shows (its frame holds the mail's HTML). */
async function linkInMailDev(page: Page, name: string): Promise<string> {
  const link = page.frameLocator('main iframe').getByRole('link', { name });
  const href = await link.getAttribute('href');
  if (!href) throw new Error(`No link "${name}" in the message MailDev shows.`);
  return href;
}
