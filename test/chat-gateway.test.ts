import test from 'ava';
import { postChat } from '../testing/chat.ts';
import { readEvents, waitForEvent } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

// The chat as deployed: behind the gateway at /api/chat, on the real tenants service.
let stack: TestStack;
let owner: TestUser;
let other: TestUser;
test.before(async () => {
  stack = await startTestStack({ env: { CHAT_MODEL: 'offline' } });
  owner = await createTestUser(stack.deps);
  other = await createTestUser(stack.deps);
});
test.after.always(async () => {
  await stack?.close();
});

const say = (user: TestUser, message: string, conversationId?: string) => postChat(stack.url, user.token, { message, conversationId });
const getTenant = async (id: string, user = owner) => stack.fetch(`/api/v1/tenants/${id}`, { token: user.token });

test.serial('a site created by chat is a real tenant that provisions, and lists, status and logs answer for it', async (t) => {
  const asked = await say(owner, 'create a site called corner-shop with live');
  t.is(asked.status, 200);
  const [confirmation] = asked.of('confirmation_required');
  t.like(confirmation, { action: 'CREATE_SITE' }, JSON.stringify(asked.events));
  const created = await postChat(stack.url, owner.token, { confirm: confirmation.id, conversationId: asked.conversationId });
  t.is(created.status, 200);
  const tenant = created.of('result')[0]?.data;
  t.truthy(tenant, JSON.stringify(created.events));
  t.like(tenant, { name: 'corner-shop', ownerId: owner.uid, environments: ['live'] });
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_ready', 'provisioning_failed'], 90_000);
  t.is((await (await getTenant(tenant.id)).json()).tenant.state, 'ready');
  t.regex((await say(owner, 'list my sites')).of('result')[0].display, /corner-shop/);
  t.regex((await say(owner, 'status of corner-shop')).text, /corner-shop is ready/);
  const logs = await say(owner, 'show the logs of corner-shop');
  t.is(logs.of('result').length, 1, JSON.stringify(logs.events));
});

test.serial('another user asking about the site is refused exactly as for a site that does not exist', async (t) => {
  const theirs = await say(other, 'status of corner-shop');
  const missing = await say(other, 'status of nowhere-shop');
  t.is(theirs.of('result').length, 0);
  t.is(theirs.of('error')[0].error.code, 'not_found');
  t.is(theirs.text.replace('corner-shop', 'X'), missing.text.replace('nowhere-shop', 'X'));
});

test.serial('deleting by chat waits for a confirmation, which runs once and only for its user', async (t) => {
  const asked = await say(owner, 'delete corner-shop');
  const [confirmation] = asked.of('confirmation_required');
  t.like(confirmation, { action: 'DELETE_SITE' });
  const id = confirmation.args.site as string;
  t.is((await (await getTenant(id)).json()).tenant.state, 'ready', 'nothing happens before the confirmation');

  const stranger = await postChat(stack.url, other.token, { confirm: confirmation.id, conversationId: asked.conversationId });
  t.is(stranger.status, 404);
  const confirmed = await postChat(stack.url, owner.token, { confirm: confirmation.id, conversationId: asked.conversationId });
  t.is(confirmed.status, 200);
  t.is(confirmed.of('result')[0]?.action, 'DELETE_SITE', JSON.stringify(confirmed.events));
  const again = await postChat(stack.url, owner.token, { confirm: confirmation.id, conversationId: asked.conversationId });
  t.is(again.status, 409);
  t.is(again.json.error.code, 'already_used');
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_deleted', 'delete_failed'], 60_000);
  // waitForEvent stops at the first match; count over the whole history once the deletion settled.
  const settled = (await (await getTenant(id)).json()).tenant;
  t.like(settled, { state: 'deleted' });
  t.falsy(settled.operation);
  const types = (await readEvents(stack.url, id, owner.token)).map((e) => e.type);
  t.is(types.filter((type) => type === 'delete_requested').length, 1, 'the confirmation asked for the deletion once');
  t.is(types.filter((type) => type === 'tenant_deleted').length, 1, 'the worker deleted it once');
});
