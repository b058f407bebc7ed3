/**
 * The visitor's whole path in a real browser against the real local stack:
 * home → signup → the mail's link → activation → Launch → live provisioning
 * events → the environment's own page; then "My tenants" (suspend, resume,
 * secrets, logs, costs, delete) and sign-out. Screenshots at desktop and
 * phone width go to test-output/screenshots/.
 */
import test from 'ava';
import { startTestStack, type TestStack } from '../shared/testing/stack.ts';
import { screenshotBothWidths, startBrowser, type TestBrowser } from './web-browser.ts';
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

const email = uniqueEmail('web');
let tenantId = '';
let liveUrl = '';

// Signup and activation

test.serial('the home page says what the product is and leads to signup and sign-in', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/`);
  await page.getByRole('heading', { name: 'Your product, one click per customer.' }).waitFor();
  t.is(await page.getByRole('link', { name: 'Sign up', exact: true }).getAttribute('href'), '/signup.html');
  t.is(await page.getByRole('link', { name: 'Sign in with an email link' }).getAttribute('href'), '/signup.html?mode=signin');
  t.true((await screenshotBothWidths(page, 'index')).phoneOverflow <= 0, 'nothing scrolls sideways at 375 px');
});

test.serial('signing up sends a mail whose link activates the account and offers Launch', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/signup.html`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Company').fill('Acme Shop');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByText('Check your inbox').waitFor();
  t.true((await page.getByRole('status').innerText()).includes(email));
  t.true((await screenshotBothWidths(page, 'signup')).phoneOverflow <= 0);

  const mail = await stack.mail.waitFor(email, { timeoutMs: 30_000 });
  const link = /https?:\/\/\S+\/activate\.html\?token=[0-9a-f]{64}/.exec(mail.text)?.[0];
  t.truthy(link, 'the mail carries the activation link');
  await page.goto(link!);
  await page.getByRole('heading', { name: 'Your account is active' }).waitFor();
  t.false(page.url().includes('token='), 'the token leaves the address bar');
  t.true((await screenshotBothWidths(page, 'activate')).phoneOverflow <= 0);
  await page.getByRole('link', { name: 'Launch' }).click();
  await page.waitForURL(/\/launch\.html/);
});

// Launch

test.serial('Launch signs in with the activation, suggests a name, and shows every provisioning step until the environments answer', async (t) => {
  const { page, context } = web;
  const name = page.getByLabel('Name');
  await name.waitFor();
  t.is(await name.inputValue(), 'acme-shop', 'the name comes from the company given at signup');
  t.true(await page.getByRole('checkbox', { name: 'Live' }).isChecked());
  await page.getByRole('button', { name: 'Launch', exact: true }).click();

  const progress = page.getByRole('progressbar');
  await progress.waitFor();
  const log = page.getByRole('log', { name: 'Provisioning events' });
  await page.getByRole('heading', { name: 'Your environments are ready' }).waitFor({ timeout: 90_000 });
  t.is(await progress.getAttribute('aria-valuenow'), '100');
  const steps = await log.innerText();
  t.regex(steps, /Provisioning demo, test, live/);
  t.regex(steps, /Every environment is ready\./);
  tenantId = new URL(page.url()).searchParams.get('tenant') ?? '';
  t.regex(tenantId, /^t-[a-z2-7]{10}$/, 'the page address names the tenant, so a reload keeps watching it');

  const links = page.getByRole('link', { name: /^Open (Demo|Test|Live)$/ });
  t.is(await links.count(), 3);
  liveUrl = (await page.getByRole('link', { name: 'Open Live' }).getAttribute('href')) ?? '';
  const tenantPage = await context.newPage();
  await tenantPage.goto(liveUrl);
  t.regex(await tenantPage.locator('body').innerText(), new RegExp(tenantId), "the environment's own page answers");
  await tenantPage.close();
  t.true((await screenshotBothWidths(page, 'launch')).phoneOverflow <= 0);
});

test.serial('a second launch with the same name shows the conflict in words, not JSON', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/launch.html`);
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  const message = page.getByText('You already have a tenant named "acme-shop"');
  await message.waitFor();
  t.false((await page.locator('main').innerText()).includes('{"error"'));
});

// My tenants

test.serial('My tenants suspends and resumes with progress, and the environment follows', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/tenants.html`);
  const card = page.getByRole('article').filter({ hasText: tenantId });
  await card.getByText('Live: ready').waitFor();
  await card.getByRole('button', { name: 'Suspend' }).click();
  await card.getByRole('button', { name: 'Resume' }).waitFor({ timeout: 60_000 });
  await card.getByText('Live: suspended').waitFor();
  await t.throwsAsync(fetch(liveUrl), undefined, 'a suspended environment does not answer');
  await card.getByRole('button', { name: 'Resume' }).click();
  await card.getByRole('button', { name: 'Suspend' }).waitFor({ timeout: 60_000 });
  t.is((await fetch(liveUrl)).status, 200, 'resumed at the same URL');
});

test.serial('Manage shows secrets by key only, adds a third-party key, and shows logs and costs', async (t) => {
  const { page } = web;
  const card = page.getByRole('article').filter({ hasText: tenantId });
  await card.getByRole('button', { name: 'Manage' }).click();
  await card.getByText('JWT_SECRET').waitFor();
  await card.getByLabel('Key').fill('GEMINI_API_KEY');
  await card.getByLabel('Value').fill('sk-test-value-never-shown');
  await card.getByRole('button', { name: 'Save secret' }).click();
  await card.getByText('Added GEMINI_API_KEY').waitFor();
  await card.getByRole('button', { name: 'Delete secret GEMINI_API_KEY' }).waitFor();
  t.false((await page.content()).includes('sk-test-value-never-shown'), 'the value is never shown back');
  t.false(await card.getByRole('button', { name: 'Delete secret JWT_SECRET' }).isVisible(), 'generated secrets cannot be deleted here');
  await card.getByText(/listening on/).first().waitFor();
  await card.getByRole('figure').or(card.getByText('No costs recorded in this period yet.')).first().waitFor();
  t.true((await screenshotBothWidths(page, 'tenants')).phoneOverflow <= 0);
});

test.serial('deleting asks for the name, then removes the tenant', async (t) => {
  const { page } = web;
  const card = page.getByRole('article').filter({ hasText: tenantId });
  await card.getByRole('button', { name: 'Delete', exact: true }).click();
  const dialog = page.getByRole('dialog');
  const confirm = dialog.getByRole('button', { name: 'Delete for good' });
  t.true(await confirm.isDisabled(), 'nothing happens until the name is typed');
  await dialog.getByLabel('Type acme-shop to confirm').fill('acme-shop');
  await confirm.click();
  await page.getByText('You have no tenants yet.').waitFor({ timeout: 120_000 });
  const res = await stack.fetch(`/api/v1/tenants/${tenantId}`, { token: await idToken() });
  t.is((await res.json()).tenant.state, 'deleted');
});

test.serial('signing out ends the session: the tenants page asks to sign in again', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/tenants.html`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${stack.url}/`);
  await page.goto(`${stack.url}/tenants.html`);
  await page.getByText('Please sign in').waitFor();
  t.is(await page.getByRole('link', { name: 'Email me a sign-in link' }).getAttribute('href'), '/signup.html?mode=signin');
});

async function idToken(): Promise<string> {
  const { idTokenFor } = await import('../shared/testing/users.ts');
  const user = await (await stack.deps.auth()).getUserByEmail(email);
  return idTokenFor(stack.deps, user.uid);
}
