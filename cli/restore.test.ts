import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { waitForEvent } from '../testing/events.ts';
import { createCliHome, type CliHome } from './cli-test-kit.ts';

let stack: TestStack;
let owner: TestUser;
let cli: CliHome;
test.before(async () => {
  stack = await startTestStack({ env: { TENANT_DATA_GRACE_DAYS: '7' } });
  owner = await createTestUser(stack.deps);
  cli = createCliHome();
  const login = await cli.run(['login', '--url', stack.url, '--token', owner.token]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
});
test.after.always(async () => {
  cli?.remove();
  await stack?.close();
});

test.serial('restore brings a deleted tenant back by name, follows it until it runs, and refuses one that is not deleted', async (t) => {
  const created = await cli.run(['create', 'phoenix', '--env', 'live']);
  t.is(created.code, 0, created.stderr);
  const deleted = await cli.run(['delete', 'phoenix'], { input: 'phoenix\n' });
  t.is(deleted.code, 0, deleted.stderr);
  t.regex(deleted.stderr, /tenantplane restore phoenix/, 'the confirmation says how to undo it');
  t.regex(deleted.stdout, /data_kept/);

  const restored = await cli.run(['restore', 'phoenix']);
  t.is(restored.code, 0, restored.stderr);
  t.regex(restored.stdout, /undelete_requested/);
  t.regex(restored.stdout, /tenant restored: phoenix \(t-[a-z2-7]{10}\) is ready\./);
  t.regex(restored.stdout, /^ {2}live {2}http:\/\/\S+$/m);
  const { tenants } = await (await stack.fetch('/api/v1/tenants', { token: owner.token })).json();
  const tenant = tenants.find((x: { name: string }) => x.name === 'phoenix');
  t.is(tenant?.state, 'ready');
  t.is((await fetch(tenant.urls.live)).status, 200);

  const again = await cli.run(['restore', 'phoenix']);
  t.is(again.code, 1);
  t.regex(again.stderr, /No deleted tenant named "phoenix" can be restored/);
  const byId = await cli.run(['restore', tenant.id]);
  t.is(byId.code, 1);
  t.regex(byId.stderr, /is not deleted/);
  await stack.fetch(`/api/v1/tenants/${tenant.id}`, { method: 'DELETE', token: owner.token });
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_deleted'], 60_000).catch(() => undefined);
});
