/**
 * The whole signup flow as a visitor meets it: the gateway (firebase.json's
 * rewrites), the real Cloud Tasks emulator delivering the mail task, the mail
 * catcher, the Auth emulator, and the pages in a headless Chromium.
 */
import { existsSync } from 'node:fs';
import test from 'ava';
import { waitFor } from '../scripts/dev/processes.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { tokenFromMail, uniqueEmail } from './signup-harness.ts';

const CHROMIUM = '/usr/bin/chromium';
let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
});
test.after.always(async () => {
  stack?.mail.setFailing(false);
  await stack?.close();
});

// Through the platform

test.serial('signup → mail through the task queue → link → activation → a tenant who can sign in', async (t) => {
  const email = uniqueEmail('flow');
  const res = await stack.fetch('/api/signup?migration=enhance', { method: 'POST', json: { email, name: 'Flo' } });
  t.is(res.status, 202);
  t.deepEqual(await res.json(), { status: 'pending_activation' });
  const mail = await stack.mail.waitFor(email, { timeoutMs: 30_000 });
  const token = tokenFromMail(mail.text);
  t.true(mail.text.includes(`${stack.config.publicUrl}/activate.html?token=${token}`));

  const page = await stack.fetch(`/activate.html?token=${token}`);
  t.is(page.status, 200);
  t.regex(await page.text(), /<script type="module" src="\/js\/activate.js">/);

  const activated = await stack.fetch('/api/activate', { method: 'POST', json: { token } });
  t.is(activated.status, 200);
  const { uid, customToken, next } = await activated.json();
  t.is(next, '/launch.html');
  const auth = await stack.deps.auth();
  t.deepEqual((await auth.getUser(uid)).customClaims, { role: 'tenant' });

  // The page signs in with the custom token; the Auth emulator speaks the same REST API as Firebase Auth.
  const signIn = await fetch(
    `http://${stack.config.emulators.auth}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken?key=emulator`,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: customToken, returnSecureToken: true }),
    },
  );
  t.is(signIn.status, 200);
  const decoded = await auth.verifyIdToken((await signIn.json()).idToken);
  t.is(decoded.uid, uid);
  t.is(decoded.role, 'tenant');
  t.is((await stack.fetch('/api/activate', { method: 'POST', json: { token } })).status, 409);
});

test.serial('a provider outage delays the mail; the queue retries until it is delivered', async (t) => {
  const email = uniqueEmail('outage');
  stack.mail.setFailing(true);
  t.is((await stack.fetch('/api/signup', { method: 'POST', json: { email } })).status, 202);
  // Silence for a while proves nothing; the outbox shows that a delivery was tried and refused.
  const outbox = async () => (await stack.deps.db.collection('outbox').where('to', '==', email).get()).docs.map((d) => d.data());
  await waitFor('a refused delivery in the outbox', async () => (await outbox()).some((m) => m.lastError && m.attempts >= 1), 30_000);
  t.like((await outbox())[0], { status: 'pending' });
  t.is((await stack.mail.messagesTo(email)).length, 0);
  stack.mail.setFailing(false);
  const mail = await stack.mail.waitFor(email, { timeoutMs: 30_000 });
  t.truthy(tokenFromMail(mail.text));
  await waitFor('the outbox message marked sent', async () => (await outbox())[0]?.status === 'sent', 10_000);
  t.true((await outbox())[0].attempts >= 2, 'sent by a retry');
});

// In a browser

test.serial('in a browser: the signup page says to check the inbox, the link activates and offers Launch', async (t) => {
  if (!existsSync(CHROMIUM)) return t.fail(`Install Chromium (apt-get install chromium) at ${CHROMIUM} to run the browser test.`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    const email = uniqueEmail('browser');
    await page.goto(`${stack.url}/signup.html`);
    await page.getByLabel('Email address').fill('not-an-address');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('Enter your email address').waitFor();
    t.is(await page.getByLabel('Email address').getAttribute('aria-invalid'), 'true');

    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Your name').fill('<b>Bea</b>');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('Check your inbox').waitFor();
    t.true((await page.getByRole('status').innerText()).includes(email));

    const mail = await stack.mail.waitFor(email, { timeoutMs: 30_000 });
    t.true(mail.html.includes('&lt;b&gt;Bea&lt;/b&gt;'));
    const link = `${stack.url}/activate.html?token=${tokenFromMail(mail.text)}`;
    await page.goto(link);
    await page.getByRole('heading', { name: 'Your account is active' }).waitFor();
    t.is(await page.getByRole('link', { name: 'Launch' }).getAttribute('href'), '/launch.html');
    t.false(page.url().includes('token='), 'the token is removed from the address bar');
    // The link signs the visitor in on the spot (Firebase Auth keeps the session across closed tabs).
    t.regex(await page.getByRole('main').innerText(), new RegExp(`Welcome, ${email.replace(/[.+]/g, '\\$&')}\\. You are signed in`));

    await page.goto(link);
    await page.getByRole('heading', { name: 'Already activated' }).waitFor();
    await page.goto(`${stack.url}/activate.html?token=${'a'.repeat(64)}`);
    await page.getByRole('heading', { name: 'This link is not valid' }).waitFor();
    t.is(await page.getByRole('link', { name: 'Sign up again' }).getAttribute('href'), '/signup.html');
  } finally {
    await browser.close();
  }
});
