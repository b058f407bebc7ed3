/**
 * Tenant data end to end (issue 21) on the real local PostgreSQL and the
 * storage emulator: each environment's own database and bucket, reached with
 * its own credentials only; rotation, suspend, a rollout and its rollback,
 * reset and delete.
 */
import test from 'ava';
import { Storage } from '@google-cloud/storage';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { latestEventId, readEvents, waitForEvent } from '../testing/events.ts';
import { withClient } from '../shared/resources/sql.ts';
import { createSecretStore } from '../shared/secrets/store.ts';
import { createRelease, pushImage, waitForRolloutEvent } from '../testing/rollouts.ts';
import { makeNodeApp } from '../testing/tar.ts';

let stack: TestStack;
let owner: TestUser;
let attacker: TestUser;
const tenants: Record<string, { id: string; credentials: Record<string, string> }> = {};

async function launch(user: TestUser, name: string, environments: string[]) {
  const res = await stack.fetch('/api/v1/tenants', { method: 'POST', token: user.token, json: { name, environments } });
  const body = await res.json();
  await waitForEvent(stack.streamUrl, body.tenant.id, user.token, ['tenant_ready', 'provisioning_failed'], 90_000);
  const credentials = (await (await stack.fetch(body.links.credentials, { token: user.token })).json()).credentials;
  return { id: body.tenant.id as string, credentials };
}

test.before(async () => {
  // No grace period here: deletion drops the data at once (test/tenant-grace.test.ts covers the grace period).
  stack = await startTestStack({ env: { TENANT_DATA_GRACE_DAYS: '0' } });
  owner = await createTestUser(stack.deps);
  attacker = await createTestUser(stack.deps);
  [tenants.shop, tenants.evil] = await Promise.all([launch(owner, 'shop', ['demo', 'test', 'live']), launch(attacker, 'evil', ['live'])]);
});
test.after.always(async () => {
  await stack?.close();
});

const call = (method: string, path: string, json?: unknown) =>
  stack.fetch(`/api/v1/tenants/${tenants.shop.id}${path}`, { method, token: owner.token, json });
const query = (url: string, sql: string) => withClient(url, async (c) => (await c.query(sql)).rows);
const admin = (sql: string, params: unknown[] = []) => withClient(stack.data!.adminUrl, async (c) => (await c.query(sql, params)).rows);
const otherDb = (url: string, database: string) => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};
/** The unmodified storage client as a tenant's app would use it locally: the emulator's address and the environment's token. */
function storageFor(creds: Record<string, string>, env: string): Storage {
  const storage = new Storage({ apiEndpoint: creds[`${env}_STORAGE_EMULATOR_HOST`], projectId: 'tenant' });
  storage.interceptors.push({
    request: (opts) => {
      opts.headers = { ...opts.headers, Authorization: `Bearer ${creds[`${env}_STORAGE_ACCESS_TOKEN`]}` };
      return opts as typeof opts & { uri: string };
    },
  });
  return storage;
}

// Provisioning

test.serial('each environment gets its own database and bucket, announced by events, before it starts', async (t) => {
  const events = await readEvents(stack.streamUrl, tenants.shop.id, owner.token);
  for (const env of ['demo', 'test', 'live']) {
    const ofEnv = events.filter((e) => e.env === env).map((e) => e.type);
    t.true(ofEnv.indexOf('database_ready') >= 0 && ofEnv.indexOf('database_ready') < ofEnv.indexOf('deploy_started'), env);
    t.true(ofEnv.includes('bucket_ready'), env);
  }
  const creds = tenants.shop.credentials;
  t.regex(creds.LIVE_DATABASE_URL, /^postgres:\/\/tp_t_[a-z2-7]{10}_live:[^@]+@127\.0\.0\.1:\d+\/tp_t_[a-z2-7]{10}_live$/);
  t.not(creds.LIVE_DATABASE_URL, creds.TEST_DATABASE_URL);
  t.false('DATABASE_URL' in creds, 'no placeholder URL beside the real ones');
  t.is(creds.LIVE_BUCKET_NAME, `${stack.config.resources.bucketPrefix}-${tenants.shop.id}-live`);
  t.false(JSON.stringify(events).includes(new URL(creds.LIVE_DATABASE_URL).password), 'no password in events');
});

test.serial('demo starts with the sample data; live starts empty; the role owns its database', async (t) => {
  const creds = tenants.shop.credentials;
  t.is((await query(creds.DEMO_DATABASE_URL, 'SELECT count(*)::int AS n FROM sample_customers'))[0].n, 3);
  t.deepEqual(await query(creds.LIVE_DATABASE_URL, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), []);
  await query(creds.LIVE_DATABASE_URL, 'CREATE TABLE visits (n int); INSERT INTO visits VALUES (1), (2)');
  t.is((await query(creds.LIVE_DATABASE_URL, 'SELECT count(*)::int AS n FROM visits'))[0].n, 2);
});

test.serial('the app stores files in its own bucket with the unmodified storage client', async (t) => {
  const creds = tenants.shop.credentials;
  const bucket = storageFor(creds, 'LIVE').bucket(creds.LIVE_BUCKET_NAME);
  await bucket.file('uploads/logo.txt').save('shop logo');
  t.is((await bucket.file('uploads/logo.txt').download())[0].toString(), 'shop logo');
});

test.serial("the tenant's own app counts visits in its database and keeps files in its bucket", async (t) => {
  // As root the app runs behind the tenant firewall: only the data servers' ports are let through.
  if (process.getuid?.() === 0) t.true(stack.deps.runtime().flags.isolatedNetwork, 'the tenant network is isolated');
  const live = (await (await call('GET', '')).json()).tenant.urls.live;
  const first = await fetch(`${live}/data/visits`, { method: 'POST' });
  t.is(first.status, 200, await first.clone().text());
  t.deepEqual(await first.json(), { visits: 1 });
  t.deepEqual(await (await fetch(`${live}/data/visits`, { method: 'POST' })).json(), { visits: 2 });
  t.is((await fetch(`${live}/data/files/note.txt`, { method: 'PUT', body: 'kept in the bucket' })).status, 201);
  t.is(await (await fetch(`${live}/data/files/note.txt`)).text(), 'kept in the bucket');
  const creds = tenants.shop.credentials;
  t.is((await query(creds.LIVE_DATABASE_URL, 'SELECT count(*)::int AS n FROM app_visits'))[0].n, 2, 'in the database itself');
});

// The tenant boundary

test.serial("one environment's credentials reach neither another tenant's database nor its bucket", async (t) => {
  const mine = tenants.evil.credentials.LIVE_DATABASE_URL;
  const victim = tenants.shop.credentials;
  const victimDb = new URL(victim.LIVE_DATABASE_URL).pathname.slice(1);
  await t.throwsAsync(query(otherDb(mine, victimDb), 'SELECT 1'), { message: /permission denied for database/ });
  await t.throwsAsync(query(otherDb(mine, 'postgres'), 'SELECT 1'), { message: /permission denied for database/ });
  await t.throwsAsync(query(otherDb(mine, 'template1'), 'SELECT 1'), { message: /permission denied for database/ });
  // Nor may a role make itself a member of another tenant's role.
  await t.throwsAsync(query(mine, `GRANT ${victimDb} TO CURRENT_USER`), { message: /permission denied|must have admin option/ });
  await t.throwsAsync(query(mine, 'CREATE DATABASE stolen'), { message: /permission denied/ });
  // Another environment of the same tenant is another tenant too.
  await t.throwsAsync(query(otherDb(victim.TEST_DATABASE_URL, victimDb), 'SELECT 1'), { message: /permission denied for database/ });
  const evil = storageFor(tenants.evil.credentials, 'LIVE');
  await t.throwsAsync(evil.bucket(victim.LIVE_BUCKET_NAME).file('uploads/logo.txt').download(), { message: /storage.objects.get/ });
  await t.throwsAsync(evil.bucket(victim.LIVE_BUCKET_NAME).file('x.txt').save('defaced', { resumable: false }), {
    message: /storage.objects.create/,
  });
  await t.throwsAsync(storageFor(victim, 'TEST').bucket(victim.LIVE_BUCKET_NAME).getFiles(), { message: /storage.objects.list/ });
});

test.serial('a tenant cannot store a secret under a platform-managed name', async (t) => {
  for (const key of ['BUCKET_NAME', 'STORAGE_ACCESS_TOKEN', 'DATABASE_URL']) {
    const res = await call('POST', `/secrets/${key}`, { value: 'postgres://elsewhere' });
    t.is(res.status, 403, key);
  }
});

// Lifecycle

test.serial('rotation gives the role a new password: the old one stops working, the new one reaches the same data', async (t) => {
  const old = tenants.shop.credentials.LIVE_DATABASE_URL;
  const after = await latestEventId(stack.streamUrl, tenants.shop.id, owner.token);
  const res = await call('POST', '/rotate-credentials');
  t.is(res.status, 202);
  const link = (await res.json()).links.credentials;
  await waitForEvent(stack.streamUrl, tenants.shop.id, owner.token, ['credentials_rotated', 'rotate_failed'], 90_000, after);
  const fresh = (await (await stack.fetch(link, { token: owner.token })).json()).credentials;
  t.not(fresh.LIVE_DATABASE_URL, old);
  await t.throwsAsync(query(old, 'SELECT 1'), { message: /password authentication failed/ });
  t.is((await query(fresh.LIVE_DATABASE_URL, 'SELECT count(*)::int AS n FROM visits'))[0].n, 2);
  tenants.shop.credentials = fresh;
});

test.serial('suspend and resume keep the data', async (t) => {
  for (const [op, done] of [
    ['suspend', 'tenant_suspended'],
    ['resume', 'tenant_resumed'],
  ]) {
    const after = await latestEventId(stack.streamUrl, tenants.shop.id, owner.token);
    t.is((await call('POST', `/${op}`)).status, 202);
    await waitForEvent(stack.streamUrl, tenants.shop.id, owner.token, [done, `${op}_failed`], 90_000, after);
  }
  const creds = tenants.shop.credentials;
  t.is((await query(creds.LIVE_DATABASE_URL, 'SELECT count(*)::int AS n FROM visits'))[0].n, 2);
  t.is((await storageFor(creds, 'LIVE').bucket(creds.LIVE_BUCKET_NAME).file('uploads/logo.txt').download())[0].toString(), 'shop logo');
  // The restarted app finds both, with the password rotation gave it.
  const live = (await (await call('GET', '')).json()).tenant.urls.live;
  t.deepEqual(await (await fetch(`${live}/data/visits`, { method: 'POST' })).json(), { visits: 3 });
  t.is(await (await fetch(`${live}/data/files/note.txt`)).text(), 'kept in the bucket');
});

test.serial('a rollout to another release and its rollback keep the data the sample app wrote', async (t) => {
  const admin = await createTestUser(stack.deps, { role: 'admin' });
  const live = (await (await call('GET', '')).json()).tenant.urls.live;
  const before = (await (await fetch(`${live}/data/visits`, { method: 'POST' })).json()).visits as number;
  await createRelease(
    stack,
    admin.token,
    'data-v2',
    await pushImage(stack, admin.token, makeNodeApp({ name: 'shop-app', version: '2.0.0' })),
  );
  const res = await stack.fetch('/api/v1/rollouts', {
    method: 'POST',
    token: admin.token,
    json: { release: 'data-v2', target: { ids: [tenants.shop.id] }, strategy: { waves: ['100%'], soakSeconds: 1 } },
  });
  t.is(res.status, 202);
  const rolloutId = (await res.json()).rollout.id as string;
  const ended = await waitForRolloutEvent(
    stack,
    rolloutId,
    admin.token,
    ['rollout_succeeded', 'rollout_paused', 'rollout_failed'],
    120_000,
  );
  t.is(ended.at(-1)!.type, 'rollout_succeeded');
  t.regex(await (await fetch(live)).text(), /^app 2\.0\.0/, 'the other release serves the live URL');
  // The app changed; its database and bucket did not.
  const creds = tenants.shop.credentials;
  t.is((await query(creds.LIVE_DATABASE_URL, 'SELECT count(*)::int AS n FROM app_visits'))[0].n, before);
  t.is((await storageFor(creds, 'LIVE').bucket(creds.LIVE_BUCKET_NAME).file('note.txt').download())[0].toString(), 'kept in the bucket');

  t.is((await stack.fetch(`/api/v1/rollouts/${rolloutId}/rollback`, { method: 'POST', token: admin.token })).status, 200);
  await waitForRolloutEvent(stack, rolloutId, admin.token, ['rollout_rolled_back'], 120_000);
  // The sample app is back and carries on from the data it left.
  t.deepEqual(await (await fetch(`${live}/data/visits`, { method: 'POST' })).json(), { visits: before + 1 });
  t.is(await (await fetch(`${live}/data/files/note.txt`)).text(), 'kept in the bucket');
});

test.serial('reset recreates demo from its seed and test empty; live refuses', async (t) => {
  const creds = tenants.shop.credentials;
  await query(creds.DEMO_DATABASE_URL, 'DELETE FROM sample_orders; DELETE FROM sample_customers');
  await query(creds.TEST_DATABASE_URL, 'CREATE TABLE scratch (x int)');
  t.is((await call('POST', '/environments/live/reset')).status, 403);
  for (const env of ['demo', 'test']) {
    const after = await latestEventId(stack.streamUrl, tenants.shop.id, owner.token);
    t.is((await call('POST', `/environments/${env}/reset`)).status, 202);
    await waitForEvent(stack.streamUrl, tenants.shop.id, owner.token, ['environment_reset', 'reset_failed'], 90_000, after);
  }
  const values = createSecretStore(stack.deps.db, stack.config.secrets.key);
  const demoUrl = (await values.envValues(tenants.shop.id, 'demo')).DATABASE_URL;
  const testUrl = (await values.envValues(tenants.shop.id, 'test')).DATABASE_URL;
  t.is((await query(demoUrl, 'SELECT count(*)::int AS n FROM sample_customers'))[0].n, 3);
  t.deepEqual(await query(testUrl, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), []);
  t.is((await query(creds.LIVE_DATABASE_URL, 'SELECT count(*)::int AS n FROM visits'))[0].n, 2, 'live untouched');
});

test.serial('without a grace period, deletion drops every database, role and bucket of the tenant', async (t) => {
  const id = tenants.shop.id;
  t.is((await call('DELETE', '')).status, 202);
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_deleted', 'delete_failed'], 90_000);
  const prefix = `tp_${id.replace('-', '_')}_%`;
  t.deepEqual(await admin('SELECT datname FROM pg_database WHERE datname LIKE $1', [prefix]), []);
  t.deepEqual(await admin('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [prefix]), []);
  const buckets = await fetch(`${stack.data!.storageUrl}/storage/v1/b`, {
    headers: { authorization: `Bearer ${stack.data!.storageToken}` },
  });
  t.false(((await buckets.json()) as { items: Array<{ name: string }> }).items.some((b) => b.name.includes(id)));
  // The other tenant keeps its data.
  t.deepEqual(await query(tenants.evil.credentials.LIVE_DATABASE_URL, 'SELECT 1 AS one'), [{ one: 1 }]);
});
