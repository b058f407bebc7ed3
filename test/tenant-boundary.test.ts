/**
 * The tenant boundary tried as someone who signed up five minutes ago would
 * (issue #13, R-ISO-*, R-PLAN-1): other users' tenants, reserved secret names,
 * unverified and disabled accounts, paid plans without payment, quotas,
 * hostile ids, what anonymous callers learn, and what the logs keep.
 * This stack runs the product's own plans (PLANS unset), not the test default.
 */
import test from 'ava';
import { listEvents } from '../shared/store/tenants.ts';
import { recordSubscription, tenantCountsPath } from '../shared/tenants/entitlements.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

let stack: TestStack;
let owner: TestUser;
let stranger: TestUser;
let admin: TestUser;
let tenantId: string;

test.before(async () => {
  stack = await startTestStack({ env: { PLANS: '' } });
  [owner, stranger, admin] = await Promise.all([
    createTestUser(stack.deps),
    createTestUser(stack.deps),
    createTestUser(stack.deps, { role: 'admin' }),
  ]);
  const res = await create(owner, { name: 'mine' });
  if (res.status !== 202) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  tenantId = (await res.json()).tenant.id;
});
test.after.always(async () => {
  await stack?.close();
});

const create = (user: { token: string }, json: Record<string, unknown>) =>
  stack.fetch('/api/v1/tenants', { method: 'POST', token: user.token, json });
const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string; details?: Record<string, unknown> } }).error;

/** Signs up straight with Firebase Auth (password, never activated) and returns its ID token. */
async function passwordAccountToken(email: string): Promise<string> {
  const host = stack.config.emulators.auth;
  const res = await fetch(`http://${host}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: 'correct horse battery', returnSecureToken: true }),
  });
  const body = (await res.json()) as { idToken?: string };
  if (!body.idToken) throw new Error(`password signup failed: ${JSON.stringify(body)}`);
  return body.idToken;
}

// Another user's tenant

test("another user's tenant answers exactly like a tenant that does not exist", async (t) => {
  const unknown = 't-aaaaaaaaaa';
  for (const [method, path] of [
    ['GET', ''],
    ['GET', '/status'],
    ['GET', '/secrets'],
    ['GET', '/logs'],
    ['POST', '/suspend'],
    ['DELETE', ''],
    ['GET', '/registry-token'],
    ['POST', '/rotate-credentials'],
  ] as const) {
    const theirs = await stack.fetch(`/api/v1/tenants/${tenantId}${path}`, { method, token: stranger.token });
    const none = await stack.fetch(`/api/v1/tenants/${unknown}${path}`, { method, token: stranger.token });
    t.is(theirs.status, 404, `${method} ${path}`);
    t.is(none.status, 404, `${method} ${path}`);
    const [a, b] = [await errorOf(theirs), await errorOf(none)];
    t.deepEqual(
      { ...a, message: a.message.replace(tenantId, 'ID') },
      { ...b, message: b.message.replace(unknown, 'ID') },
      `${method} ${path}`,
    );
  }
  t.is((await stack.fetch(`/api/v1/tenants/${tenantId}`, { token: owner.token })).status, 200);
});

// Secrets

test('reserved secret names are refused with the rule, and nothing is stored', async (t) => {
  for (const key of [
    'NODE_OPTIONS',
    'LD_PRELOAD',
    'PATH',
    'PORT',
    'HOME',
    'K_SERVICE',
    'GOOGLE_APPLICATION_CREDENTIALS',
    'FIREBASE_CONFIG',
    'CLOUD_RUN_JOB',
    'TP_ENV',
    'lower',
  ]) {
    const res = await stack.fetch(`/api/v1/tenants/${tenantId}/secrets/${key}`, {
      method: 'POST',
      token: owner.token,
      json: { value: '--import=data:text/javascript,1' },
    });
    t.is(res.status, 400, key);
    const error = await errorOf(res);
    t.is(error.code, 'validation_failed', key);
    t.regex(error.message, /\^\[A-Z\]\[A-Z0-9_\]\{0,63\}\$/, key);
  }
  const listed = await (await stack.fetch(`/api/v1/tenants/${tenantId}/secrets`, { token: owner.token })).json();
  t.false(listed.secrets.some((s: { origin: string }) => s.origin === 'user'));
  t.is(
    (await stack.fetch(`/api/v1/tenants/${tenantId}/secrets/GEMINI_API_KEY`, { method: 'POST', token: owner.token, json: { value: 'k' } }))
      .status,
    201,
  );
});

// Accounts

test('an account registered with a password and never activated cannot act', async (t) => {
  const token = await passwordAccountToken(`pw-${Date.now()}@example.com`);
  const res = await create({ token }, { name: 'sneaky' });
  t.is(res.status, 403);
  t.regex((await errorOf(res)).message, /not activated/);
  t.is((await stack.fetch('/api/v1/tenants', { token })).status, 403);
});

test('a disabled account stays disabled: signing up again sends nothing, and an old link does not enable it', async (t) => {
  const email = `gone-${Date.now()}@example.com`;
  const signup = () => stack.fetch('/api/signup', { method: 'POST', json: { email } });
  t.is((await signup()).status, 202);
  const mail = await stack.mail.waitFor(email, { timeoutMs: 20_000 });
  const token = /token=([0-9a-f]{64})/.exec(mail.text ?? mail.html ?? '')![1];
  const auth = await stack.deps.auth();
  const user = await auth.createUser({ email, emailVerified: true });
  await auth.updateUser(user.uid, { disabled: true });

  const activated = await stack.fetch(`/api/activate?token=${token}`);
  t.is(activated.status, 403);
  t.true((await auth.getUser(user.uid)).disabled);

  const before = (await stack.mail.messagesTo(email)).length;
  const again = await signup();
  t.is(again.status, 202);
  t.deepEqual(await again.json(), { status: 'pending_activation' });
  const outbox = await stack.deps.db.collection('outbox').get();
  t.is(outbox.docs.filter((d) => JSON.stringify(d.data()).includes(email)).length, 1, 'only the mail from before the account was disabled');
  t.is((await stack.mail.messagesTo(email)).length, before);
  t.true((await auth.getUser(user.uid)).disabled);
});

// Plans and quotas

test('a paid plan needs an active subscription: 402 until the webhook records one', async (t) => {
  const buyer = await createTestUser(stack.deps);
  const refused = await create(buyer, { name: 'paid', plan: 'pro' });
  t.is(refused.status, 402);
  t.like(await errorOf(refused), { code: 'payment_required', details: { plan: 'pro' } });
  t.false((await stack.deps.db.doc(tenantCountsPath(buyer.uid)).get()).exists, 'a refused request changes nothing stored');
  await recordSubscription(stack.deps.db, {
    provider: 'stripe',
    subscriptionId: 'sub_test_pro',
    uid: buyer.uid,
    plan: 'pro',
    active: true,
    at: new Date(),
  });
  const allowed = await create(buyer, { name: 'paid', plan: 'pro', memoryMb: 2048 });
  t.is(allowed.status, 202);
  t.like((await allowed.json()).tenant, { plan: 'pro', memoryMb: 2048 });
  await recordSubscription(stack.deps.db, {
    provider: 'stripe',
    subscriptionId: 'sub_test_pro',
    uid: buyer.uid,
    plan: 'pro',
    active: false,
    at: new Date(),
  });
  t.is((await create(buyer, { name: 'paid-two', plan: 'pro' })).status, 402);
});

test('the free plan is the default and allows one tenant of at most 512 MB; a deletion gives the slot back', async (t) => {
  const user = await createTestUser(stack.deps);
  const big = await create(user, { name: 'big', memoryMb: 1024 });
  t.is(big.status, 403);
  t.like(await errorOf(big), { code: 'quota_exceeded', details: { plan: 'free', limit: 'memoryMb', allowed: 512 } });

  const first = await create(user, { name: 'first' });
  t.is(first.status, 202);
  const tenant = (await first.json()).tenant;
  t.like(tenant, { plan: 'free', memoryMb: 256 });
  t.deepEqual(tenant.environments, ['demo', 'test', 'live']);

  const second = await create(user, { name: 'second' });
  t.is(second.status, 403);
  t.like(await errorOf(second), { code: 'quota_exceeded', details: { plan: 'free', limit: 'tenants', allowed: 1, used: 1 } });
  t.is((await stack.fetch(`/api/v1/tenants/${tenant.id}`, { method: 'PATCH', token: user.token, json: { memoryMb: 2048 } })).status, 403);

  t.is((await stack.fetch(`/api/v1/tenants/${tenant.id}`, { method: 'DELETE', token: user.token })).status, 202);
  const deadline = Date.now() + 60_000;
  let state = '';
  while (Date.now() < deadline && state !== 'deleted') {
    state = (await (await stack.fetch(`/api/v1/tenants/${tenant.id}`, { token: user.token })).json()).tenant?.state;
    if (state !== 'deleted') await new Promise((r) => setTimeout(r, 200));
  }
  t.is(state, 'deleted');
  t.is((await create(user, { name: 'second' })).status, 202);
});

test('two creations at once cannot both take the last free slot', async (t) => {
  const user = await createTestUser(stack.deps);
  const results = await Promise.all(['race-a', 'race-b', 'race-c'].map((name) => create(user, { name })));
  t.deepEqual(results.map((r) => r.status).sort(), [202, 403, 403]);
});

test('a burst of creations for one owner is answered one by one: a repeated name gets 409, the others are counted once each', async (t) => {
  const target = await createTestUser(stack.deps);
  const names = ['burst-a', 'burst-b', 'burst-c', 'burst-a', 'burst-d', 'burst-e'];
  // Sent at once, they are written together (one transaction per group, shared/tenants/service.ts).
  const results = await Promise.all(names.map((name) => create(admin, { name, ownerId: target.uid, environments: ['live'] })));
  t.deepEqual(results.map((r) => r.status).sort(), [202, 202, 202, 202, 202, 409]);
  const refused = results.find((r) => r.status === 409)!;
  t.regex((await errorOf(refused)).message, /burst-a/);
  const created = await Promise.all(results.filter((r) => r.status === 202).map(async (r) => (await r.json()).tenant));
  t.deepEqual(created.map((c) => c.name).sort(), ['burst-a', 'burst-b', 'burst-c', 'burst-d', 'burst-e']);
  t.deepEqual((await stack.deps.db.doc(tenantCountsPath(target.uid)).get()).get('plans'), { free: 5 });
  for (const tenant of created) {
    const requested = (await listEvents(stack.deps.db, tenant.id)).filter((e) => e.type === 'provisioning_requested');
    t.is(requested.length, 1, `${tenant.name} was created once`);
  }
});

test('admins are not held to plans, and may create for others', async (t) => {
  const res = await create(admin, { name: 'operator-made', plan: 'pro', ownerId: stranger.uid, memoryMb: 2048 });
  t.is(res.status, 202);
});

// Hostile input

const HOSTILE_IDS = [
  '%2F',
  'a%2Fb',
  't-aaaaaaaaaa%2F..',
  '__proto__',
  'constructor',
  'prototype',
  '..',
  '%2E%2E',
  '%00',
  'x'.repeat(2000),
  't-AAAAAAAAAA',
  '%E2%80%AE',
  '%25',
];

test('hostile tenant ids, plans and page tokens get a 4xx, never a 5xx', async (t) => {
  const paths: Array<[string, string]> = [];
  for (const id of HOSTILE_IDS) {
    for (const suffix of [
      '',
      '/status',
      '/events?follow=false',
      '/secrets',
      '/secrets/API_KEY',
      '/credentials/abc',
      '/logs',
      '/metrics',
      '/metrics/history',
      '/billing',
      '/environments',
      '/registry-token',
    ])
      paths.push(['GET', `/api/v1/tenants/${id}${suffix}`]);
    for (const suffix of ['/suspend', '/resume', '/deploy', '/rotate-credentials', '/environments/test/reset', `/secrets/${id}`])
      paths.push(['POST', `/api/v1/tenants/${id}${suffix}`]);
    paths.push(
      ['GET', `/api/v1/tenants/${tenantId}/secrets/${id}`],
      ['GET', `/api/v1/tenants?pageToken=${id}`],
      ['GET', `/api/v1/users/${id}`],
      ['GET', `/api/v1/users/${id}/projects`],
      ['GET', `/api/v1/users/${owner.uid}/projects/${id}`],
    );
  }
  const tokens = [['x', 'a/b'], ['2026-01-01T00:00:00Z', 'a/b'], ['__proto__', 't-aaaaaaaaaa'], [1, 2], { a: 1 }].map((v) =>
    Buffer.from(JSON.stringify(v)).toString('base64url'),
  );
  for (const token of tokens) paths.push(['GET', `/api/v1/tenants?pageToken=${token}`]);
  // fetch resolves a last segment of ".." (or "%2E%2E") against the path, reaching another endpoint on purpose: not hostile input.
  for (const [method, path] of paths.filter(([, p]) => !/\/(\.\.|%2E%2E)$/.test(p))) {
    for (const user of [owner, admin]) {
      const res = await stack.fetch(path, { method, token: user.token, json: method === 'POST' ? { value: 'v', image: 'x' } : undefined });
      // A user id is anyone's to choose, so an admin may get an empty list there; a tenant id never names a tenant.
      const ok = path.startsWith('/api/v1/users/') ? res.status < 500 : res.status >= 400 && res.status < 500;
      t.true(ok, `${method} ${path.slice(0, 120)} as ${user.role} answered ${res.status}`);
      await res.body?.cancel();
    }
  }
  for (const plan of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '', 'x'.repeat(500)]) {
    const res = await create(owner, { name: 'hostile-plan', plan });
    t.is(res.status, 400, `plan ${JSON.stringify(plan.slice(0, 20))}`);
  }
});

// What anonymous callers and the logs learn

test('anonymous health says only ok or unavailable; admins see each dependency', async (t) => {
  const anonymous = await (await stack.fetch('/api/health')).json();
  t.deepEqual(Object.keys(anonymous), ['status']);
  t.true(['ok', 'unavailable'].includes(anonymous.status));
  t.deepEqual(Object.keys(await (await stack.fetch('/api/health', { token: owner.token })).json()), ['status']);
  const detailed = await (await stack.fetch('/api/health', { token: admin.token })).json();
  t.truthy(detailed.dependencies?.store);
});

test('pages forbid being framed and carry a content security policy', async (t) => {
  for (const page of ['/', '/signup.html', '/launch.html', '/portal.html']) {
    const res = await stack.fetch(page);
    t.is(res.status, 200);
    t.regex(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, page);
    t.is(res.headers.get('x-frame-options'), 'DENY');
    await res.body?.cancel();
  }
});
