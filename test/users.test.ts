/**
 * Users and roles (R-AUTH-1, R-USERS-1) through the gateway with real
 * Auth-emulator users, and `npm run create-admin` run as a real process.
 * The Auth emulator is shared by every test file; each stack has its own
 * Firestore project, so the role mirror (and the last-admin guard) is ours alone.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, idTokenFor, type TestUser } from '../testing/users.ts';

let stack: TestStack;
let admin: TestUser;
let tenant: TestUser;
let carol: TestUser;
test.before(async () => {
  stack = await startTestStack({ tasks: false });
  [admin, tenant, carol] = await Promise.all([
    createTestUser(stack.deps, { role: 'admin' }),
    createTestUser(stack.deps),
    createTestUser(stack.deps),
  ]);
});
test.after.always(async () => {
  await stack?.close();
});

const call = (method: string, path: string, token?: string, json?: unknown) => stack.fetch(path, { method, token, json });
const roleInToken = async (token: string) => (await (await stack.deps.auth()).verifyIdToken(token)).role;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

// Listing

type Listed = { uid: string; email: string; role: string; createdAt: string; disabled: boolean; lastSignInAt: string | null };
const list = async (query: string, token = admin.token) => {
  const res = await call('GET', `/api/v1/users?${query}`, token);
  if (res.status !== 200) throw new Error(`users answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { users: Listed[]; total: number; nextPageToken?: string };
};

test.serial('admins list the user directory page by page, each user with role, state and dates, and the total', async (t) => {
  const first = await list('pageSize=2');
  t.is(first.users.length, 2);
  t.is(first.total, 3, 'each stack has its own Firestore, so the directory holds our three users');
  t.truthy(first.nextPageToken);
  const second = await list(`pageSize=2&pageToken=${encodeURIComponent(first.nextPageToken!)}`);
  t.is(second.users.length, 1);
  t.is(second.nextPageToken, undefined);
  const all = [...first.users, ...second.users];
  t.deepEqual(
    all.map((u) => u.email),
    [admin.email, tenant.email, carol.email].sort(),
    'sorted by email by default, no repeats',
  );
  const listedAdmin = all.find((u) => u.uid === admin.uid)!;
  t.deepEqual(Object.keys(listedAdmin).sort(), ['createdAt', 'disabled', 'email', 'lastSignInAt', 'role', 'uid']);
  t.like(listedAdmin, { email: admin.email, role: 'admin', disabled: false });
  t.regex(String(listedAdmin.createdAt), ISO);
  t.like(
    all.find((u) => u.uid === tenant.uid),
    { role: 'tenant' },
  );
});

test.serial('admins search users by email prefix (any case) or whole uid, filter by role and sort either way', async (t) => {
  const prefix = tenant.email.slice(0, 6).toUpperCase();
  t.deepEqual(
    (await list(`q=${encodeURIComponent(prefix)}`)).users.map((u) => u.uid),
    [tenant.uid],
  );
  const byUid = await list(`q=${encodeURIComponent(carol.uid)}`);
  t.deepEqual(
    byUid.users.map((u) => u.uid),
    [carol.uid],
  );
  t.is(byUid.total, 1);
  const admins = await list('role=admin');
  t.deepEqual(
    admins.users.map((u) => u.uid),
    [admin.uid],
  );
  t.is(admins.total, 1);
  t.is((await list(`role=admin&q=${encodeURIComponent(tenant.uid)}`)).total, 0, 'the uid match obeys the role filter');
  const descending = (await list('sort=-email')).users.map((u) => u.email);
  t.deepEqual(descending, [admin.email, tenant.email, carol.email].sort().reverse());
  const newest = (await list('sort=-createdAt')).users.map((u) => u.createdAt);
  t.deepEqual(newest, [...newest].sort().reverse());
  // A token carries its sort: reusing it under another sort is refused, not misread.
  const token = (await list('pageSize=1&sort=createdAt')).nextPageToken!;
  const mixed = await call('GET', `/api/v1/users?pageSize=1&sort=email&pageToken=${encodeURIComponent(token)}`, admin.token);
  t.is(mixed.status, 400);
  t.is((await mixed.json()).error.details.field, 'pageToken');
});

test.serial('a malformed users query is a 400 naming the parameter, not a 500', async (t) => {
  const forged = Buffer.from(JSON.stringify(['email', 'x', 'a/b'])).toString('base64url');
  for (const [query, field] of [
    ['pageSize=0', 'pageSize'],
    ['pageSize=5000', 'pageSize'],
    ['pageSize=abc', 'pageSize'],
    ['role=owner', 'role'],
    ['sort=password', 'sort'],
    [`q=${'a'.repeat(201)}`, 'q'],
    ['q=%00x', 'q'],
    ['pageToken=garbage', 'pageToken'],
    [`pageToken=${forged}`, 'pageToken'],
  ]) {
    const res = await call('GET', `/api/v1/users?${query}`, admin.token);
    t.is(res.status, 400, query);
    const { error } = await res.json();
    t.is(error.code, 'validation_failed', query);
    t.is(error.details?.field, field, query);
  }
});

// Reading

test.serial("a tenant reads their own user record but neither lists users nor reads anyone else's", async (t) => {
  t.is((await call('GET', '/api/v1/users', tenant.token)).status, 403);
  const own = await call('GET', `/api/v1/users/${tenant.uid}`, tenant.token);
  t.is(own.status, 200);
  t.like((await own.json()).user, { uid: tenant.uid, role: 'tenant' });
  t.is((await call('GET', `/api/v1/users/${carol.uid}`, tenant.token)).status, 403);
  t.is((await call('GET', '/api/v1/users/no-such-user', admin.token)).status, 404);
  t.is((await call('GET', '/api/v1/users')).status, 401);
});

// Roles

test.serial("an admin promotes a user, and the role arrives with the user's next ID token", async (t) => {
  const res = await call('PATCH', `/api/v1/users/${carol.uid}`, admin.token, { role: 'admin' });
  t.is(res.status, 200);
  t.is((await res.json()).user.role, 'admin');
  t.is(await roleInToken(carol.token), 'tenant');
  t.is((await call('GET', '/api/v1/users', carol.token)).status, 403, 'the old token still says tenant');
  carol.token = await idTokenFor(stack.deps, carol.uid);
  t.is(await roleInToken(carol.token), 'admin');
  t.is((await call('GET', '/api/v1/users', carol.token)).status, 200);
  t.is((await stack.deps.db.doc(`users/${carol.uid}`).get()).data()?.role, 'admin', 'the role is mirrored in Firestore');
});

test.serial("demoting ends the user's sessions at once: the old admin token stops working", async (t) => {
  // Auth records revocation in whole seconds and keeps tokens signed in during that same second; let it tick over.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const res = await call('PATCH', `/api/v1/users/${carol.uid}`, admin.token, { role: 'tenant' });
  t.is(res.status, 200);
  t.is((await call('GET', '/api/v1/users', carol.token)).status, 401);
  carol.token = await idTokenFor(stack.deps, carol.uid);
  t.is(await roleInToken(carol.token), 'tenant');
  t.is((await call('GET', '/api/v1/users', carol.token)).status, 403);
});

test.serial('bad role changes are refused and change nothing', async (t) => {
  for (const body of [{ role: 'root' }, { role: 'admin', extra: 1 }, {}, { role: ['admin'] }]) {
    const res = await call('PATCH', `/api/v1/users/${carol.uid}`, admin.token, body);
    t.is(res.status, 400, JSON.stringify(body));
    t.is((await res.json()).error.code, 'validation_failed');
  }
  t.is((await call('PATCH', '/api/v1/users/no-such-user', admin.token, { role: 'admin' })).status, 404);
  t.is((await call('PATCH', `/api/v1/users/${tenant.uid}`, tenant.token, { role: 'admin' })).status, 403);
  const auth = await stack.deps.auth();
  t.is((await auth.getUser(carol.uid)).customClaims?.role, 'tenant');
  t.is((await auth.getUser(tenant.uid)).customClaims?.role, 'tenant');
});

// The last admin

test.serial('the last admin cannot demote themself; once there is another admin they can', async (t) => {
  // A mirrored "admin" Auth does not know is stale and must not count as the other admin.
  await stack.deps.db.doc('users/ghost-admin').set({ uid: 'ghost-admin', email: null, role: 'admin', updatedAt: new Date().toISOString() });
  const alone = await call('PATCH', `/api/v1/users/${admin.uid}`, admin.token, { role: 'tenant' });
  t.is(alone.status, 409);
  t.regex((await alone.json()).error.message, /last admin/);
  t.is((await stack.deps.db.doc('users/ghost-admin').get()).data()?.role, 'tenant', 'the stale mirror entry is corrected');
  t.is(await roleInToken(await idTokenFor(stack.deps, admin.uid)), 'admin');

  t.is((await call('PATCH', `/api/v1/users/${carol.uid}`, admin.token, { role: 'admin' })).status, 200);
  t.is((await call('PATCH', `/api/v1/users/${admin.uid}`, admin.token, { role: 'tenant' })).status, 200);
  carol.token = await idTokenFor(stack.deps, carol.uid);
  const last = await call('PATCH', `/api/v1/users/${carol.uid}`, carol.token, { role: 'tenant' });
  t.is(last.status, 409);
  t.is(await roleInToken(await idTokenFor(stack.deps, carol.uid)), 'admin');
});

// The first admin

const execFileAsync = promisify(execFile);
const createAdmin = (email: string) =>
  execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/create-admin.ts', email], {
    env: {
      PATH: process.env.PATH,
      GCP_PROJECT_ID: stack.config.projectId,
      FIREBASE_PROJECT_ID: stack.config.authProjectId,
      FIREBASE_AUTH_EMULATOR_HOST: stack.config.emulators.auth,
      FIRESTORE_EMULATOR_HOST: stack.config.emulators.firestore,
    },
    timeout: 60_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({
      code: err.code ?? 1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }),
  );

test.serial('create-admin makes a new address an admin who can then use the admin API, and a second run changes nothing', async (t) => {
  const email = `first-admin-${randomBytes(4).toString('hex')}@example.com`;
  // A user made straight in Auth (before the directory existed, or by another tool) has no directory entry yet.
  const outsider = await (await stack.deps.auth()).createUser({ email: `Outsider-${randomBytes(4).toString('hex')}@Example.com` });
  t.false((await stack.deps.db.doc(`users/${outsider.uid}`).get()).exists);
  const run = await createAdmin(email);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /created and made an admin/);
  t.regex(run.stdout, /Sign in: open .*\/signup\.html and enter/);
  const user = await (await stack.deps.auth()).getUserByEmail(email);
  t.is(user.customClaims?.role, 'admin');
  t.is((await stack.deps.db.doc(`users/${user.uid}`).get()).data()?.role, 'admin');
  t.is((await call('GET', '/api/v1/users?pageSize=1', await idTokenFor(stack.deps, user.uid))).status, 200);
  t.like((await stack.deps.db.doc(`users/${outsider.uid}`).get()).data(), {
    email: outsider.email,
    emailLower: outsider.email?.toLowerCase(),
    role: 'tenant',
  });
  t.regex(run.stdout, /to the portal's user directory/);
  const again = await createAdmin(email);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /was already an admin/);
});

test.serial('create-admin refuses something that is not an email address, with the usage', async (t) => {
  const run = await createAdmin('not-an-email');
  t.is(run.code, 2);
  t.regex(run.stderr, /Usage: npm run create-admin -- <email>/);
});
