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
  stack = await startTestStack({ env: { CHAT_MODEL: 'offline' } });
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
  actorId?: string;
  source: string;
  action: string;
  target: { type: string; id?: string };
  requestId: string;
  outcome: { status: number; code?: string };
};
const auditOf = async (user: TestUser, query = '') => {
  const res = await stack.fetch(`/api/v1/audit${query}`, { token: user.token });
  if (res.status !== 200) throw new Error(`audit answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { entries: Entry[] }).entries;
};

test.serial('a change through the API is recorded with who, where from, what, the request id and the outcome', async (t) => {
  const entries = await auditOf(owner);
  const created = entries.find((e) => e.requestId === createRequestId);
  t.like(created, { actorId: owner.uid, source: 'cli', action: 'POST /api/v1/tenants', outcome: { status: 202 } });
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
  for (const query of ['?tenantId=../x', '?pageSize=lots', '?pageToken=a%2Fb']) {
    t.is((await stack.fetch(`/api/v1/audit${query}`, { token: owner.token })).status, 400, query);
  }
});
