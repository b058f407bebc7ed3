import test from 'ava';
import { hashEmail, hashToken } from '../shared/store/signups.ts';
import { startHarness, tokenFromMail, uniqueEmail, type Harness } from './signup-harness.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness({ env: { RATE_LIMIT_PER_HOUR: '1000' } });
});
test.after.always(async () => {
  await h?.close();
});

const MINUTE = 60_000;
const signupDoc = (email: string) => h.deps.db.doc(`signups/${hashEmail(email)}`).get();

/** Signs up, delivers the queued mail, and returns the mail that arrived. */
async function signUpAndReadMail(email: string, body: Record<string, unknown> = {}, ip?: string) {
  const before = (await h.mail.messages()).map((m) => m.id);
  const res = await h.post('/api/signup', { email, ...body }, { ip });
  if (res.status !== 202) throw new Error(`signup answered ${res.status}: ${await res.text()}`);
  await h.deliverMail();
  return h.mail.waitFor(email, { except: before, timeoutMs: 10_000 });
}

// Accepting a signup

test.serial('a signup answers 202 pending_activation, mails a link, and stores only the hash of its token', async (t) => {
  const email = uniqueEmail('ada');
  const res = await h.post('/api/signup', { email, name: 'Ada', company: 'Analytical Engines', plan: 'starter', migration: 'enhance' });
  t.is(res.status, 202);
  t.deepEqual(await res.json(), { status: 'pending_activation' });
  t.is(h.queue.pending.at(-1)?.options.name?.startsWith('mail-'), true);
  await h.deliverMail();
  const mail = await h.mail.waitFor(email);
  const token = tokenFromMail(mail.text);
  t.true(mail.text.includes(`${h.config.publicUrl}/activate.html?token=${token}`));
  const doc = await signupDoc(email);
  t.is(doc.get('tokenHash'), hashToken(token));
  t.false(JSON.stringify(doc.data()).includes(token), 'the token itself is not stored');
  t.like(doc.data(), {
    email,
    name: 'Ada',
    company: 'Analytical Engines',
    plan: 'starter',
    migration: 'enhance',
    status: 'pending',
    usedAt: null,
  });
  t.is(doc.get('tokenExpiresAt').toMillis() - doc.get('createdAt').toMillis(), 24 * 3_600_000);
  const outbox = (await h.deps.db.collection('outbox').where('to', '==', email).get()).docs;
  t.is(outbox.length, 1);
  t.is(outbox[0].get('status'), 'sent');
  t.false(JSON.stringify(outbox[0].data()).includes(token), 'a sent message drops its content');
  t.false(h.logs.join('\n').includes(token), 'the token is never logged');
});

test.serial('the address is trimmed and lowercased, and migration may come as a query parameter', async (t) => {
  const email = uniqueEmail('grace');
  const res = await h.post('/api/signup?migration=full', { email: `  ${email.toUpperCase()} ` });
  t.is(res.status, 202);
  const doc = await signupDoc(email);
  t.is(doc.get('email'), email);
  t.is(doc.get('migration'), 'full');
  await h.deliverMail();
  t.truthy(await h.mail.waitFor(email));
});

test.serial('migration defaults to fresh', async (t) => {
  const email = uniqueEmail('fresh');
  t.is((await h.post('/api/signup', { email })).status, 202);
  t.is((await signupDoc(email)).get('migration'), 'fresh');
  await h.deliverMail();
});

// Rotation

test.serial('a repeated signup issues a fresh token and the old one stops working', async (t) => {
  const email = uniqueEmail('rotate');
  const first = tokenFromMail((await signUpAndReadMail(email)).text);
  h.advance(MINUTE + 1000);
  const second = tokenFromMail((await signUpAndReadMail(email)).text);
  t.not(first, second);
  const old = await h.post('/api/activate', { token: first });
  t.is(old.status, 400);
  t.is((await old.json()).error.code, 'invalid_request');
  t.is((await h.post('/api/activate', { token: second })).status, 200);
});

// No account enumeration

test.serial('new, pending and activated addresses get byte-identical answers; only the mail differs', async (t) => {
  const [fresh, pending, activated] = [uniqueEmail('new'), uniqueEmail('pending'), uniqueEmail('active')];
  await signUpAndReadMail(pending);
  const token = tokenFromMail((await signUpAndReadMail(activated)).text);
  t.is((await h.post('/api/activate', { token })).status, 200);
  h.advance(MINUTE + 1000);

  const outboxBefore = (await h.deps.db.collection('outbox').get()).size;
  const answers = [];
  for (const email of [fresh, pending, activated]) {
    const res = await h.post('/api/signup', { email });
    const headers = [...res.headers].filter(([name]) => !['x-request-id', 'date'].includes(name));
    answers.push({ status: res.status, headers, body: Buffer.from(await res.arrayBuffer()).toString('hex') });
  }
  t.deepEqual(answers[1], answers[0]);
  t.deepEqual(answers[2], answers[0]);
  t.is((await h.deps.db.collection('outbox').get()).size - outboxBefore, 3, 'each took the same path: one outbox message');

  const before = (await h.mail.messages()).map((m) => m.id);
  await h.deliverMail();
  const [toFresh, toActivated] = await Promise.all([
    h.mail.waitFor(fresh, { except: before }),
    h.mail.waitFor(activated, { except: before }),
  ]);
  t.regex(toFresh.text, /Confirm your email address to activate/);
  t.notRegex(toFresh.text, /already have an account/);
  t.regex(toActivated.text, /you already have an account/);
  t.regex(toActivated.subject, /sign-in link/);
  t.true(toActivated.text.includes('/activate.html?token='), 'with a one-time sign-in link');
});

test.serial('an address that already has a Firebase account (made by an operator) gets the "already have an account" mail', async (t) => {
  const email = uniqueEmail('operator-made');
  await (await h.deps.auth()).createUser({ email });
  const mail = await signUpAndReadMail(email);
  t.regex(mail.text, /you already have an account/);
});

// Mail bombing

test.serial('a second signup within 60 s answers the same, sends nothing, and is logged by hash and counted', async (t) => {
  const email = uniqueEmail('bomb');
  await signUpAndReadMail(email);
  const token = (await signupDoc(email)).get('tokenHash');
  const metricsBefore = (await h.deps.db.doc('metrics/signup').get()).get('mailSuppressedPerMinute') ?? 0;
  const res = await h.post('/api/signup', { email });
  t.is(res.status, 202);
  t.deepEqual(await res.json(), { status: 'pending_activation' });
  t.is(h.queue.pending.length, 0, 'no mail task');
  t.is((await signupDoc(email)).get('tokenHash'), token, 'the mailed link stays valid');
  t.is((await h.deps.db.doc('metrics/signup').get()).get('mailSuppressedPerMinute'), metricsBefore + 1);
  const line = h.logs.find((l) => l.includes('signup mail suppressed') && l.includes(hashEmail(email)));
  t.truthy(line);
  t.false(h.logs.join('\n').includes(email), 'the address is never logged in clear');
});

test.serial('at most five mails per address in 24 hours; the sixth waits for the day to pass', async (t) => {
  const email = uniqueEmail('daily');
  for (let i = 0; i < 5; i++) {
    await signUpAndReadMail(email);
    h.advance(MINUTE + 1000);
  }
  t.is((await h.mail.messagesTo(email)).length, 5);
  t.is((await h.post('/api/signup', { email })).status, 202);
  t.is(h.queue.pending.length, 0);
  t.true((await h.deps.db.doc('metrics/signup').get()).get('mailSuppressedPerDay') >= 1);
  h.advance(24 * 3_600_000);
  await signUpAndReadMail(email);
  t.is((await h.mail.messagesTo(email)).length, 6);
});

// Concurrency

test.serial('a burst of parallel signups for one address sends one mail', async (t) => {
  const email = uniqueEmail('burst');
  const answers = await Promise.all(Array.from({ length: 20 }, () => h.post('/api/signup', { email })));
  t.true(answers.every((r) => r.status === 202));
  t.is(h.queue.pending.length, 1);
  const before = (await h.mail.messages()).map((m) => m.id);
  t.deepEqual(await h.deliverMail(), [200]);
  const mail = await h.mail.waitFor(email, { except: before, timeoutMs: 10_000 });
  t.is((await h.mail.messagesTo(email)).length, 1, 'one mail arrived');
  t.is((await signupDoc(email)).get('tokenHash'), hashToken(tokenFromMail(mail.text)), 'and its link is the one stored');
});
