import test from 'ava';
import type { Auth } from 'firebase-admin/auth';
import { hashEmail } from '../shared/store/signups.ts';
import { startHarness, tokenFromMail, uniqueEmail, type Harness } from './signup-harness.ts';

let h: Harness;
/** Auth calls fail while this is set (an Auth outage), then work again. */
let authDown = false;
test.before(async () => {
  h = await startHarness({
    env: { RATE_LIMIT_PER_HOUR: '1000' },
    overrides: {
      auth: async () => {
        const { createFirebaseAuth } = await import('../shared/auth/firebase.ts');
        const real = await createFirebaseAuth(h.config)();
        if (!authDown) return real;
        return new Proxy(real, {
          get: (target, key) =>
            key === 'createUser' ? () => Promise.reject(new Error('auth is down (staged)')) : Reflect.get(target, key),
        }) as Auth;
      },
    },
  });
});
test.after.always(async () => {
  await h?.close();
});

/** Signs up and returns the token from the mail. */
async function tokenFor(email: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await h.post('/api/signup', { email, ...body });
  if (res.status !== 202) throw new Error(`signup answered ${res.status}`);
  await h.deliverMail();
  return tokenFromMail((await h.mail.waitFor(email)).text);
}

async function expectError(res: Response, status: number, code: string) {
  const body = await res.json();
  if (res.status !== status || body.error?.code !== code || typeof body.error?.message !== 'string') {
    throw new Error(`expected ${status} ${code}, got ${res.status} ${JSON.stringify(body)}`);
  }
  return body.error.message as string;
}

// Activating

test.serial('a valid link activates: a verified Firebase user with role tenant and a custom token to sign in', async (t) => {
  const email = uniqueEmail('ada');
  const token = await tokenFor(email, { name: 'Ada Lovelace' });
  const res = await h.post('/api/activate', { token });
  t.is(res.status, 200);
  const body = await res.json();
  t.like(body, { email, next: '/launch.html' });
  t.is(body.customToken.split('.').length, 3, 'a JWT');
  const user = await (await h.deps.auth()).getUser(body.uid);
  t.is(user.email, email);
  t.true(user.emailVerified);
  t.is(user.displayName, 'Ada Lovelace');
  t.deepEqual(user.customClaims, { role: 'tenant' });
  const signup = await h.deps.db.doc(`signups/${hashEmail(email)}`).get();
  t.like(signup.data(), { status: 'activated', uid: body.uid });
  t.truthy(signup.get('usedAt'));
});

test.serial('GET with the token in the query activates too', async (t) => {
  const token = await tokenFor(uniqueEmail('get'));
  t.is((await h.get(`/api/activate?token=${token}`)).status, 200);
});

test.serial('an admin who activates stays admin, and an unverified address becomes verified', async (t) => {
  const auth = await h.deps.auth();
  const email = uniqueEmail('admin');
  const admin = await auth.createUser({ email, emailVerified: false });
  await auth.setCustomUserClaims(admin.uid, { role: 'admin', team: 'ops' });
  const res = await h.post('/api/activate', { token: await tokenFor(email) });
  t.is(res.status, 200);
  t.is((await res.json()).uid, admin.uid);
  const after = await auth.getUser(admin.uid);
  t.deepEqual(after.customClaims, { role: 'admin', team: 'ops' });
  t.true(after.emailVerified);
});

test.serial('a disabled account is not enabled by an activation link: 403, and it stays disabled', async (t) => {
  const auth = await h.deps.auth();
  const email = uniqueEmail('disabled');
  const token = await tokenFor(email);
  const user = await auth.createUser({ email, disabled: true });
  const res = await h.post('/api/activate', { token });
  t.is(res.status, 403);
  t.regex((await res.json()).error.message, /disabled/);
  t.true((await auth.getUser(user.uid)).disabled);
});

// Refusing

test.serial('a used link answers 409 already_used', async (t) => {
  const token = await tokenFor(uniqueEmail('twice'));
  t.is((await h.post('/api/activate', { token })).status, 200);
  t.regex(await expectError(await h.post('/api/activate', { token }), 409, 'already_used'), /already used/);
});

test.serial('an expired link answers 410 expired and offers to sign up again', async (t) => {
  const token = await tokenFor(uniqueEmail('late'));
  h.advance(24 * 3_600_000 + 1000);
  t.regex(await expectError(await h.post('/api/activate', { token }), 410, 'expired'), /Sign up again/);
});

test.serial('unknown and malformed tokens answer 400 invalid_request', async (t) => {
  for (const token of ['a'.repeat(64), 'A'.repeat(64), 'abc', '', 42, null, undefined]) {
    await t.notThrowsAsync(
      expectError(await h.post('/api/activate', token === undefined ? {} : { token }), 400, 'invalid_request'),
      String(token),
    );
  }
  await t.notThrowsAsync(expectError(await h.get('/api/activate'), 400, 'invalid_request'));
  await t.notThrowsAsync(expectError(await h.post('/api/activate', undefined, { raw: '{bad' }), 400, 'invalid_json'));
});

test.serial('if the account cannot be created, the link is given back and works on a retry', async (t) => {
  const email = uniqueEmail('retry');
  const token = await tokenFor(email);
  authDown = true;
  try {
    await expectError(await h.post('/api/activate', { token }), 503, 'unavailable');
  } finally {
    authDown = false;
  }
  t.is((await h.deps.db.doc(`signups/${hashEmail(email)}`).get()).get('usedAt'), null);
  t.is((await h.post('/api/activate', { token })).status, 200);
});
