import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { waitForEvent } from '../testing/events.ts';
import { withClient } from '../shared/resources/sql.ts';
import { createCliHome, type CliHome } from './cli-test-kit.ts';

let stack: TestStack;
let owner: TestUser;
let cli: CliHome;
let tenantId: string;
let liveUrl: string;

test.before(async () => {
  stack = await startTestStack();
  owner = await createTestUser(stack.deps);
  cli = createCliHome();
  const login = await cli.run(['login', '--url', stack.url, '--token', owner.token]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  const res = await stack.fetch('/api/v1/tenants', { method: 'POST', token: owner.token, json: { name: 'books', environments: ['live'] } });
  const body = await res.json();
  tenantId = body.tenant.id;
  await waitForEvent(stack.streamUrl, tenantId, owner.token, ['tenant_ready'], 90_000);
  liveUrl = (await (await stack.fetch(body.links.credentials, { token: owner.token })).json()).credentials.LIVE_DATABASE_URL;
});
test.after.always(async () => {
  cli?.remove();
  await stack?.close();
});

const rows = () => withClient(liveUrl, async (c) => (await c.query('SELECT count(*)::int AS n FROM entries')).rows[0].n as number);

test.serial('backups create, list and restore (asking first) round-trip the live database', async (t) => {
  await withClient(liveUrl, (c) => c.query('CREATE TABLE entries (n int); INSERT INTO entries VALUES (1), (2), (3)'));
  const created = await cli.run(['backups', 'create', 'books']);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /backup_created/);
  const listed = await cli.run(['backups', 'list', 'books', '--json']);
  const [backup] = JSON.parse(listed.stdout).backups;
  t.like(backup, { env: 'live', status: 'done', kind: 'manual' });
  await withClient(liveUrl, (c) => c.query('DELETE FROM entries'));
  const declined = await cli.run(['backups', 'restore', 'books', backup.id], { input: 'n\n' });
  t.is(declined.code, 1);
  t.regex(declined.stderr, /Nothing restored/);
  t.is(await rows(), 0, 'nothing changed');
  const restored = await cli.run(['backups', 'restore', 'books', backup.id], { input: 'y\n' });
  t.is(restored.code, 0, restored.stderr);
  t.regex(restored.stdout, /backup_restored/);
  t.is(await rows(), 3);
  const wrong = await cli.run(['backups', 'restore', 'books']);
  t.is(wrong.code, 2, 'a missing backup id is a usage error');
});
