/**
 * Backups and restore end to end (R-DATA-2) on the real local PostgreSQL:
 * on demand and nightly, listed with their retention, restored only when
 * confirmed, into the same environment or from live into test.
 */
import test from 'ava';
import { sweepDeletedTenants } from '../shared/tenants/grace.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { latestEventId, waitForEvent } from '../testing/events.ts';
import { withClient } from '../shared/resources/sql.ts';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';

let stack: TestStack;
let owner: TestUser;
let stranger: TestUser;
let tenantId: string;
let creds: Record<string, string>;

test.before(async () => {
  stack = await startTestStack();
  owner = await createTestUser(stack.deps);
  stranger = await createTestUser(stack.deps);
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'ledger', environments: ['test', 'live'] },
  });
  const body = await res.json();
  tenantId = body.tenant.id;
  await waitForEvent(stack.streamUrl, tenantId, owner.token, ['tenant_ready', 'provisioning_failed'], 90_000);
  creds = (await (await stack.fetch(body.links.credentials, { token: owner.token })).json()).credentials;
});
test.after.always(async () => {
  await stack?.close();
});

const call = (method: string, path: string, json?: unknown, token = owner.token) =>
  stack.fetch(`/api/v1/tenants/${tenantId}${path}`, { method, token, json });
const query = (url: string, sql: string) => withClient(url, async (c) => (await c.query(sql)).rows);
const count = async (url: string) => (await query(url, 'SELECT count(*)::int AS n FROM invoices'))[0].n as number;
async function settle(start: () => Promise<Response>, done: string, failed: string) {
  const after = await latestEventId(stack.streamUrl, tenantId, owner.token);
  const res = await start();
  const body = await res.json();
  if (res.status !== 202) throw new Error(`${res.status} ${JSON.stringify(body)}`);
  const events = await waitForEvent(stack.streamUrl, tenantId, owner.token, [done, failed], 90_000, after);
  if (events.at(-1)!.type !== done) throw new Error(events.at(-1)!.message);
  return body;
}
type Backup = { id: string; env: string; kind: string; status: string; createdAt: string; expiresAt: string; sizeBytes: number };
const backups = async () => (await (await call('GET', '/backups')).json()).backups as Backup[];

test.serial('an on-demand backup is listed with its size and the plan’s 7-day retention', async (t) => {
  await query(creds.LIVE_DATABASE_URL, 'CREATE TABLE invoices (n int); INSERT INTO invoices SELECT generate_series(1, 50)');
  const body = await settle(() => call('POST', '/backups', { env: 'live' }), 'backup_created', 'backup_failed');
  t.is(body.backups.length, 1);
  const [backup] = await backups();
  t.like(backup, { id: body.backups[0], env: 'live', kind: 'manual', status: 'done' });
  t.true(backup.sizeBytes > 0);
  t.is(Date.parse(backup.expiresAt) - Date.parse(backup.createdAt), 7 * 86_400_000);
  t.true(existsSync(join(stack.dataDir, 'backups', tenantId, 'live', `${backup.id}.dump`)));
});

test.serial('a restore without confirmation, into a wrong environment, or of an unknown backup changes nothing', async (t) => {
  const [backup] = await backups();
  await query(creds.LIVE_DATABASE_URL, 'DELETE FROM invoices WHERE n > 10');
  const refused = await call('POST', `/backups/${backup.id}/restore`, {});
  t.is(refused.status, 400);
  t.regex((await refused.json()).error.message, /confirm/);
  t.is((await call('POST', `/backups/${backup.id}/restore`, { env: 'demo', confirm: true })).status, 400);
  t.is((await call('POST', '/backups/b-nope-live/restore', { confirm: true })).status, 404);
  t.is((await call('POST', `/backups/${backup.id}/restore`, { confirm: true }, stranger.token)).status, 404);
  t.is((await call('GET', '/backups', undefined, stranger.token)).status, 404);
  t.is(await count(creds.LIVE_DATABASE_URL), 10);
  t.is((await (await call('GET', '')).json()).tenant.operation, undefined);
});

test.serial('a confirmed restore brings live back to the backup and the app answers again', async (t) => {
  const [backup] = await backups();
  await settle(() => call('POST', `/backups/${backup.id}/restore`, { confirm: true }), 'backup_restored', 'restore_failed');
  t.is(await count(creds.LIVE_DATABASE_URL), 50);
  const live = (await (await call('GET', '')).json()).tenant.urls.live;
  t.is((await fetch(`${live}/health`)).status, 200);
});

test.serial('a live backup restores into test', async (t) => {
  const [backup] = await backups();
  await settle(() => call('POST', `/backups/${backup.id}/restore`, { env: 'test', confirm: true }), 'backup_restored', 'restore_failed');
  t.is(await count(creds.TEST_DATABASE_URL), 50);
  t.is(await count(creds.LIVE_DATABASE_URL), 50, 'live untouched');
});

test.serial('the nightly run backs up every environment of every ready tenant', async (t) => {
  const after = await latestEventId(stack.streamUrl, tenantId, owner.token);
  const res = await fetch(`${stack.url}/__fn/provision/tasks/backups-nightly`, {
    method: 'POST',
    headers: { [TASK_SECRET_HEADER]: stack.config.tasks.secret },
  });
  t.is(res.status, 200);
  t.true(((await res.json()) as { started: number }).started >= 1);
  await waitForEvent(stack.streamUrl, tenantId, owner.token, ['backup_created', 'backup_failed'], 90_000, after);
  const nightly = (await backups()).filter((b) => b.kind === 'nightly');
  t.deepEqual(nightly.map((b) => b.env).sort(), ['live', 'test']);
  t.true(nightly.every((b) => b.status === 'done'));
  // The owner's audit trail shows the platform's own backup, as the system.
  const audit = await (await stack.fetch(`/api/v1/audit?tenantId=${tenantId}&source=system`, { token: owner.token })).json();
  t.like(audit.entries[0], {
    source: 'system',
    actorId: 'system:backups',
    action: 'NIGHTLY_BACKUP',
    target: { type: 'tenant', id: tenantId },
  });
  t.is((await fetch(`${stack.url}/__fn/provision/tasks/backups-nightly`, { method: 'POST' })).status, 403, 'only the scheduler runs it');
});

test.serial('a new backup prunes those past their retention, dump and record', async (t) => {
  const [expired, ...rest] = await backups();
  // The retention ran out: the record says so, as 7 days from now would.
  await stack.deps.db.doc(`tenants/${tenantId}/backups/${expired.id}`).update({ expiresAt: new Date(Date.now() - 1000).toISOString() });
  const file = join(stack.dataDir, 'backups', tenantId, expired.env, `${expired.id}.dump`);
  t.true(existsSync(file));
  await settle(() => call('POST', '/backups', { env: 'test' }), 'backup_created', 'backup_failed');
  const ids = (await backups()).map((b) => b.id);
  t.false(ids.includes(expired.id));
  t.false(existsSync(file));
  t.true(
    rest.every((b) => ids.includes(b.id)),
    'the others stay',
  );
});

test.serial('deleting the tenant keeps its backups for the grace period; the end of it deletes them', async (t) => {
  const ids = (await backups()).map((b) => b.id);
  const fileOf = (id: string) => join(stack.dataDir, 'backups', tenantId, id.endsWith('live') ? 'live' : 'test', `${id}.dump`);
  t.true(ids.length >= 3 && ids.every((id) => existsSync(fileOf(id))), 'the dumps exist before');
  await settle(() => call('DELETE', ''), 'tenant_deleted', 'delete_failed');
  t.true(
    ids.every((id) => existsSync(fileOf(id))),
    'kept while the tenant can be restored',
  );
  const later = new Date(Date.now() + (stack.config.resources.graceDays + 1) * 86_400_000);
  t.like(await sweepDeletedTenants({ ...stack.deps, now: () => later }), { purged: 1 });
  for (const id of ids) t.false(existsSync(fileOf(id)));
});
