/**
 * The deletion grace period (issue 21) on the real local PostgreSQL and
 * storage emulator: a deleted tenant keeps its data and name and can be
 * restored with it; a day before the end its owner is reminded once; after
 * it the sweeper drops the data and a restore is refused. The platform's
 * clock is moved forward for the sweeper and the API (no waiting 7 days).
 */
import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { latestEventId, readEvents, waitForEvent } from '../testing/events.ts';
import { withClient } from '../shared/resources/sql.ts';
import { sweepDeletedTenants } from '../shared/tenants/grace.ts';

const DAY = 86_400_000;
let stack: TestStack;
let owner: TestUser;
let stranger: TestUser;
/** How far the platform's clock runs ahead of the real one. */
let offset = 0;

test.before(async () => {
  stack = await startTestStack({ env: { TENANT_DATA_GRACE_DAYS: '7' }, deps: { now: () => new Date(Date.now() + offset) } });
  owner = await createTestUser(stack.deps);
  stranger = await createTestUser(stack.deps);
});
test.after.always(async () => {
  await stack?.close();
});

const api = (user: TestUser, method: string, path: string, json?: unknown) =>
  stack.fetch(`/api/v1/tenants${path}`, { method, token: user.token, json });
const admin = (sql: string, params: unknown[] = []) => withClient(stack.data!.adminUrl, async (c) => (await c.query(sql, params)).rows);
const databasesOf = async (id: string) =>
  (await admin('SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1', [`tp_${id.replace('-', '_')}_%`])).map((r) => r.datname);
const rolesOf = async (id: string) =>
  (await admin('SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1', [`tp_${id.replace('-', '_')}_%`])).map((r) => r.rolname);
async function bucketsOf(id: string): Promise<string[]> {
  const res = await fetch(`${stack.data!.storageUrl}/storage/v1/b`, { headers: { authorization: `Bearer ${stack.data!.storageToken}` } });
  return ((await res.json()) as { items?: Array<{ name: string }> }).items?.map((b) => b.name).filter((n) => n.includes(id)) ?? [];
}

async function launch(name: string): Promise<{ id: string; live: string }> {
  const res = await api(owner, 'POST', '', { name, environments: ['live'] });
  const { tenant } = await res.json();
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_ready', 'provisioning_failed'], 90_000);
  const live = (await (await api(owner, 'GET', `/${tenant.id}`)).json()).tenant.urls.live;
  return { id: tenant.id, live };
}

async function remove(id: string): Promise<void> {
  const after = await latestEventId(stack.streamUrl, id, owner.token);
  const res = await api(owner, 'DELETE', `/${id}`);
  if (res.status !== 202) throw new Error(`delete answered ${res.status}: ${await res.text()}`);
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_deleted', 'delete_failed'], 90_000, after);
}

test.serial('a deleted tenant keeps its data and name, and a restore brings it back running with its data', async (t) => {
  const { id, live } = await launch('keeper');
  t.deepEqual(await (await fetch(`${live}/data/visits`, { method: 'POST' })).json(), { visits: 1 });
  t.deepEqual(await (await fetch(`${live}/data/visits`, { method: 'POST' })).json(), { visits: 2 });
  t.is((await fetch(`${live}/data/files/note.txt`, { method: 'PUT', body: 'kept through deletion' })).status, 201);

  await remove(id);
  const deleted = (await (await api(owner, 'GET', `/${id}`)).json()).tenant;
  t.is(deleted.state, 'deleted');
  const keptFor = Date.parse(deleted.restorableUntil) - Date.now();
  t.true(keptFor > 6.9 * DAY && keptFor <= 7 * DAY, `kept for 7 days, got ${deleted.restorableUntil}`);
  await t.throwsAsync(fetch(live), undefined, 'the environment is stopped');
  t.deepEqual(await databasesOf(id), [`tp_${id.replace('-', '_')}_live`], 'the database is kept');
  t.is((await bucketsOf(id)).length, 1, 'the bucket is kept');
  const events = (await readEvents(stack.streamUrl, id, owner.token)).map((e) => e.type);
  t.true(events.includes('data_kept'));

  // Listed only among the restorable ones; the name stays taken.
  const listed = async (query: string) =>
    ((await (await api(owner, 'GET', query)).json()).tenants as Array<{ id: string }>).some((x) => x.id === id);
  t.false(await listed(''));
  t.true(await listed('?deleted=true'));
  t.is((await api(owner, 'POST', '', { name: 'keeper', environments: ['live'] })).status, 409, 'the name is reserved');

  // A stranger learns nothing; the owner restores, and a repeat is the same restore.
  t.is((await api(stranger, 'POST', `/${id}/restore`)).status, 404);
  const first = await api(owner, 'POST', `/${id}/restore`);
  t.is(first.status, 202, await first.clone().text());
  t.is((await first.json()).tenant.state, 'provisioning');
  const again = await api(owner, 'POST', `/${id}/restore`);
  t.is(again.status, 202);
  t.is((await again.json()).tenant.operation, 'undelete');
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_restored', 'undelete_failed'], 90_000);

  const restored = (await (await api(owner, 'GET', `/${id}`)).json()).tenant;
  t.like(restored, { state: 'ready', restorableUntil: null });
  t.deepEqual(await (await fetch(`${restored.urls.live}/data/visits`, { method: 'POST' })).json(), { visits: 3 }, 'the counter went on');
  t.is(await (await fetch(`${restored.urls.live}/data/files/note.txt`)).text(), 'kept through deletion');
  t.is((await api(owner, 'POST', `/${id}/restore`)).status, 409, 'a tenant that is not deleted has nothing to restore');
});

test.serial('the owner is reminded once a day before the end; then the sweeper drops the data and a restore is refused', async (t) => {
  const { id, live } = await launch('leaver');
  t.is((await fetch(`${live}/data/files/note.txt`, { method: 'PUT', body: 'going away' })).status, 201);
  await remove(id);
  const before = (await stack.mail.messages()).length;

  // Five days on: nothing is due yet.
  offset = 5 * DAY;
  t.like(await sweepDeletedTenants(stack.deps), { reminded: 0, purged: 0 });
  // Six and a half days on: the reminder, once however often the sweeper runs.
  offset = 6.5 * DAY;
  const sweeps = await Promise.all([sweepDeletedTenants(stack.deps), sweepDeletedTenants(stack.deps)]);
  t.is(sweeps[0].reminded + sweeps[1].reminded, 1);
  t.is((await sweepDeletedTenants(stack.deps)).reminded, 0);
  const mail = await stack.mail.waitFor(owner.email, { timeoutMs: 30_000 });
  t.regex(mail.subject, /Your data of leaver will be deleted on/);
  t.true(mail.text.includes(`/api/v1/tenants/${id}/restore`) && mail.text.includes('tenantplane restore leaver'), mail.text);
  t.true(mail.text.includes('/tenants.html#deleted'));
  await new Promise((r) => setTimeout(r, 1000));
  t.is((await stack.mail.messages()).filter((m) => m.subject.includes('leaver')).length, 1, 'one reminder');
  t.true((await stack.mail.messages()).length >= before + 1);

  // Past the grace period: the API refuses a restore even before the sweeper ran.
  offset = 7 * DAY + 60_000;
  const late = await api(owner, 'POST', `/${id}/restore`);
  t.is(late.status, 409);
  t.regex((await late.json()).error.message, /grace period of leaver ended/);
  t.like(await sweepDeletedTenants(stack.deps), { purged: 1 });
  t.deepEqual(await databasesOf(id), []);
  t.deepEqual(await rolesOf(id), []);
  t.deepEqual(await bucketsOf(id), []);
  const tenant = (await (await api(owner, 'GET', `/${id}`)).json()).tenant;
  t.like(tenant, { state: 'deleted', restorableUntil: null });
  t.truthy(tenant.dataPurgedAt);
  t.true((await readEvents(stack.streamUrl, id, owner.token)).some((e) => e.type === 'data_purged'));
  const audit = await (await stack.fetch(`/api/v1/audit?tenantId=${id}&source=system`, { token: owner.token })).json();
  t.deepEqual(
    audit.entries.map((e: { actorId: string; action: string }) => `${e.actorId} ${e.action}`),
    ['system:grace-sweep PURGE_TENANT_DATA'],
    'the purge is in the audit trail once, as the system',
  );
  t.is((await api(owner, 'POST', `/${id}/restore`)).status, 409);
  t.like(await sweepDeletedTenants(stack.deps), { purged: 0 }, 'nothing left to drop');
  // The name is free again.
  t.is((await api(owner, 'POST', '', { name: 'leaver', environments: ['live'] })).status, 202);
});
