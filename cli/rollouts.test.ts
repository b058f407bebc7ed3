import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { createCliHome, type CliHome } from './cli-test-kit.ts';

let stack: TestStack;
let admin: TestUser;
let cli: CliHome;
let folder: string;
let tenant: { id: string; urls: { live: string } };

test.before(async () => {
  stack = await startTestStack();
  admin = await createTestUser(stack.deps, { role: 'admin' });
  cli = createCliHome();
  const login = await cli.run(['login', '--url', stack.url, '--token', admin.token]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  folder = await mkdtemp(join(tmpdir(), 'tp-release-app-'));
  await writeFile(
    join(folder, 'package.json'),
    JSON.stringify({ name: 'cli-app', version: '4.0.0', scripts: { start: 'node server.js' } }),
  );
  await writeFile(
    join(folder, 'server.js'),
    `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end(JSON.stringify({ version: '4.0.0' })); }).listen(Number(process.env.PORT), process.env.HOST);`,
  );
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: admin.token,
    json: { name: 'cli-fleet', environments: ['live'] },
  });
  const id = (await res.json()).tenant.id;
  await waitForEvent(stack.streamUrl, id, admin.token, ['tenant_ready', 'provisioning_failed'], 90_000);
  tenant = (await (await stack.fetch(`/api/v1/tenants/${id}`, { token: admin.token })).json()).tenant;
});
test.after.always(async () => {
  if (tenant) {
    await stack.fetch(`/api/v1/tenants/${tenant.id}`, { method: 'DELETE', token: admin.token });
    await waitForEvent(stack.streamUrl, tenant.id, admin.token, ['tenant_deleted'], 60_000).catch(() => undefined);
  }
  cli?.remove();
  await rm(folder, { recursive: true, force: true });
  await stack?.close();
});

const version = async () =>
  fetch(`${tenant.urls.live}/health`)
    .then((r) => r.json())
    .then((b) => b.version)
    .catch(() => 'down');

test.serial('push, release and roll out from the CLI, following the waves to the end, then roll back', async (t) => {
  const push = await cli.run(['images', 'push', folder]);
  t.is(push.code, 0, push.stderr);
  const image = push.stdout.trim();
  const created = await cli.run(['releases', 'create', 'v4', '--image', image, '--notes', 'first CLI release']);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /Release v4: local\/cli-app@sha256:/);
  const listed = await cli.run(['releases', 'list']);
  t.regex(listed.stdout, /^v4 +local\/cli-app@sha256:\S+ +\S+ +\S+ +first CLI release$/m);

  const refused = await cli.run(['rollouts', 'start', 'v4'], { input: 'n\n' });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /Nothing done/);
  t.not(await version(), '4.0.0');

  const started = await cli.run(['rollouts', 'start', 'v4', '--target', tenant.id, '--waves', '100%', '--soak', '1', '--yes'], {
    timeoutMs: 120_000,
  });
  t.is(started.code, 0, started.stderr);
  t.regex(started.stdout, /environment_updated +\[t-\w+ live\]/);
  t.regex(started.stdout, /rollout_succeeded/);
  t.regex(started.stdout, /wave 1 +\[#{20}\] +1 tenant\(s\) +done +1\/1 healthy/);
  t.is(await version(), '4.0.0');

  const id = /Rollout (ro-\w+)/.exec(started.stdout)![1];
  const status = await cli.run(['rollouts', 'status', id]);
  t.regex(status.stdout, new RegExp(`Rollout ${id} of release v4: succeeded`));
  const back = await cli.run(['rollouts', 'rollback', id, '--yes'], { timeoutMs: 120_000 });
  t.is(back.code, 0, back.stderr);
  t.regex(back.stdout, /rollout_rolled_back/);
  t.not(await version(), '4.0.0');
  const bad = await cli.run(['rollouts', 'start', 'v4', '--target', 'nonsense', '--yes']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--target is all/);
});

test.serial(
  'labels and a pin set from the CLI: a rollout to a label reaches the labelled tenant, and a pinned one is skipped',
  async (t) => {
    const labelled = await cli.run(['releases', 'settings', tenant.id, '--labels', 'ring=early']);
    t.is(labelled.code, 0, labelled.stderr);
    t.regex(labelled.stdout, /not pinned; labels: ring=early/);
    const started = await cli.run(['rollouts', 'start', 'v4', '--target', 'label:ring=early', '--waves', '100%', '--soak', '1', '--yes'], {
      timeoutMs: 120_000,
    });
    t.is(started.code, 0, started.stderr);
    t.regex(started.stdout, /rollout_succeeded/);
    const pinned = await cli.run(['releases', 'settings', tenant.id, '--pin', 'v4']);
    t.regex(pinned.stdout, /pinned to v4; labels: ring=early/);
    const skipped = await cli.run(['rollouts', 'start', 'v4', '--target', 'label:ring=early', '--yes']);
    t.not(skipped.code, 0);
    t.regex(skipped.stderr, /No tenant of the target/);
    const shown = await cli.run(['releases', 'settings', tenant.id, '--unpin']);
    t.regex(shown.stdout, /not pinned; labels: ring=early/);
    const bad = await cli.run(['releases', 'settings', tenant.id, '--labels', 'ring']);
    t.is(bad.code, 2);
  },
);
