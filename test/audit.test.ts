/**
 * The audit trail (R-AUDIT-1): every state change through the API, the CLI, the
 * pages or the chat is recorded with actor, source, target, request id and
 * outcome; admins see every entry, owners their own.
 */
import test from 'ava';
import { postChat } from '../testing/chat.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

let stack: TestStack;
let owner: TestUser;
let stranger: TestUser;
let admin: TestUser;
let tenantId: string;
let createRequestId: string;

test.before(async () => {
  stack = await startTestStack({ env: { CHAT_MODEL: 'offline', AUDIT_RETENTION_DAYS: '30' } });
  [owner, stranger, admin] = await Promise.all([
    createTestUser(stack.deps),
    createTestUser(stack.deps),
    createTestUser(stack.deps, { role: 'admin' }),
  ]);
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'audited', environments: ['live'] },
    headers: { 'X-Tenantplane-Client': 'cli' },
  });
  createRequestId = res.headers.get('x-request-id')!;
  tenantId = (await res.json()).tenant.id;
});
test.after.always(async () => {
  await stack?.close();
});

type Entry = {
  id: string;
  at: string;
  actorId?: string;
  actorEmail?: string;
  actorRole?: string;
  ip?: string;
  expireAt?: string;
  source: string;
  action: string;
  target: { type: string; id?: string };
  requestId: string;
  outcome: { status: number; code?: string };
};
const auditOf = async (user: TestUser, query = '') => {
  return (await pageOf(user, query)).entries;
};
const pageOf = async (user: TestUser, query = '') => {
  const res = await stack.fetch(`/api/v1/audit${query}`, { token: user.token });
  if (res.status !== 200) throw new Error(`audit answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { entries: Entry[]; nextPageToken?: string };
};

test.serial('a change through the API is recorded with who, where from, what, the request id and the outcome', async (t) => {
  const entries = await auditOf(owner);
  const created = entries.find((e) => e.requestId === createRequestId);
  t.like(created, {
    actorId: owner.uid,
    actorEmail: owner.email,
    actorRole: 'tenant',
    source: 'cli',
    action: 'POST /api/v1/tenants',
    target: { type: 'tenant', id: tenantId },
    outcome: { status: 202 },
  });
  t.truthy(created?.ip, 'the caller address is kept');
  // AUDIT_RETENTION_DAYS=30 here: the TTL field is the entry's time plus 30 days.
  t.is(Date.parse(created?.expireAt ?? '') - Date.parse(created?.at ?? ''), 30 * 86_400_000);
  const refused = await stack.fetch(`/api/v1/tenants/${tenantId}`, { method: 'PATCH', token: owner.token, json: { memoryMb: 3 } });
  t.is(refused.status, 400);
  const failed = (await auditOf(owner)).find((e) => e.requestId === refused.headers.get('x-request-id'));
  t.like(failed, {
    actorId: owner.uid,
    source: 'api',
    target: { type: 'tenant', id: tenantId },
    outcome: { status: 400, code: 'validation_failed' },
  });
  t.is((await auditOf(owner)).filter((e) => e.action.startsWith('GET ')).length, 0, 'reads are not state changes');
});

test.serial("a stranger's probe is seen by admins, not by the owner, and the stranger sees only their own entries", async (t) => {
  const probe = await stack.fetch(`/api/v1/tenants/${tenantId}/suspend`, { method: 'POST', token: stranger.token });
  t.is(probe.status, 404);
  const id = probe.headers.get('x-request-id');
  t.like(
    (await auditOf(admin)).find((e) => e.requestId === id),
    { actorId: stranger.uid, outcome: { status: 404 } },
  );
  t.falsy((await auditOf(owner)).find((e) => e.requestId === id));
  const theirs = await auditOf(stranger);
  t.true(theirs.some((e) => e.requestId === id));
  t.false(
    theirs.some((e) => e.actorId === owner.uid),
    "nothing of the owner's",
  );
});

test.serial("an admin's change to a tenant shows in its owner's trail", async (t) => {
  const res = await stack.fetch(`/api/v1/tenants/${tenantId}`, { method: 'PATCH', token: admin.token, json: { name: 'audited-two' } });
  t.is(res.status, 200);
  t.like(
    (await auditOf(owner, `?tenantId=${tenantId}`)).find((e) => e.requestId === res.headers.get('x-request-id')),
    { actorId: admin.uid, outcome: { status: 200 } },
  );
});

test.serial('a change the chat makes is recorded with the chat as its source', async (t) => {
  const asked = await postChat(stack.url, stranger.token, { message: 'create a tenant called from-chat' });
  const [confirmation] = asked.of('confirmation_required');
  const confirmed = await postChat(stack.url, stranger.token, { confirm: confirmation.id, conversationId: asked.conversationId });
  t.is(confirmed.status, 200);
  const entry = (await auditOf(stranger)).find((e) => e.source === 'chat');
  t.like(entry, { actorId: stranger.uid, action: 'CREATE_SITE', outcome: { status: 202 } });
  t.regex(entry?.target.id ?? '', /^t-/);
});

test.serial('a bad audit query is a 400', async (t) => {
  for (const [query, field] of [
    ['?tenantId=../x', 'tenantId'],
    ['?pageSize=lots', 'pageSize'],
    ['?pageSize=0', 'pageSize'],
    ['?pageToken=a%2Fb', 'pageToken'],
    ['?from=yesterday', 'from'],
    ['?to=2026-13-45', 'to'],
    ['?source=email', 'source'],
    ['?actor=a%2Fb', 'actor'],
    [`?action=${'x'.repeat(201)}`, 'action'],
  ]) {
    const res = await stack.fetch(`/api/v1/audit${query}`, { token: owner.token });
    t.is(res.status, 400, query);
    t.is((await res.json()).error.details?.field, field, query);
  }
});

test.serial('admins filter the trail by actor (uid or email), tenant, action, source and time, page by page', async (t) => {
  const byUid = await auditOf(admin, `?actor=${owner.uid}`);
  t.true(byUid.length >= 2, JSON.stringify(byUid));
  t.true(byUid.every((e) => e.actorId === owner.uid));
  t.deepEqual(
    (await auditOf(admin, `?actor=${encodeURIComponent(owner.email)}`)).map((e) => e.id),
    byUid.map((e) => e.id),
  );
  const created = await auditOf(admin, `?action=${encodeURIComponent('POST /api/v1/tenants')}&source=cli`);
  t.true(created.some((e) => e.requestId === createRequestId));
  t.true(created.every((e) => e.action === 'POST /api/v1/tenants' && e.source === 'cli'));
  const ofTenant = await auditOf(admin, `?tenantId=${tenantId}`);
  t.true(ofTenant.length >= 2 && ofTenant.every((e) => e.target.id === tenantId));
  const newest = ofTenant[0];
  t.deepEqual(
    await auditOf(admin, `?tenantId=${tenantId}&from=${encodeURIComponent(new Date(Date.parse(newest.at) + 1).toISOString())}`),
    [],
  );
  t.true((await auditOf(admin, `?tenantId=${tenantId}&to=${encodeURIComponent(newest.at)}`)).every((e) => e.at < newest.at));
  // Paging: one entry a page, newest first, no repeats, the same entries as one page.
  const seen: string[] = [];
  let token: string | undefined;
  do {
    const page = await pageOf(admin, `?tenantId=${tenantId}&pageSize=1${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
    seen.push(...page.entries.map((e) => e.id));
    token = page.nextPageToken;
  } while (token);
  t.deepEqual(
    seen,
    ofTenant.map((e) => e.id),
  );
  // An owner filtering by someone else's actions sees only those about what they own.
  t.true((await auditOf(owner, `?actor=${admin.uid}`)).every((e) => e.target.id === tenantId));
});

test.serial('no API edits or deletes an entry, and asking is refused without changing the trail', async (t) => {
  const before = await auditOf(admin, `?tenantId=${tenantId}`);
  const id = before[0].id;
  for (const method of ['PUT', 'PATCH', 'DELETE', 'POST']) {
    for (const path of ['/api/v1/audit', `/api/v1/audit/${id}`]) {
      const res = await stack.fetch(path, { method, token: admin.token, json: method === 'DELETE' ? undefined : { action: 'nothing' } });
      t.true([404, 405].includes(res.status), `${method} ${path} answered ${res.status}`);
    }
  }
  const after = await auditOf(admin, `?tenantId=${tenantId}`);
  t.deepEqual(
    after.filter((e) => before.some((b) => b.id === e.id)),
    before,
  );
});
