import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { waitForEvent } from '../testing/events.ts';
import { createCliHome, type CliHome } from './cli-test-kit.ts';

let stack: TestStack;
let owner: TestUser;
let cli: CliHome;
test.before(async () => {
  stack = await startTestStack();
  owner = await createTestUser(stack.deps);
  cli = createCliHome();
  const login = await cli.run(['login', '--url', stack.url, '--token', owner.token]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
});
test.after.always(async () => {
  // Tenant processes outlive the stack, so whatever a failed test left running is deleted here.
  const left = stack
    ? await stack
        .fetch('/api/v1/tenants', { token: owner.token })
        .then((r) => r.json())
        .catch(() => ({ tenants: [] }))
    : { tenants: [] };
  for (const tenant of left.tenants ?? []) {
    await stack.fetch(`/api/v1/tenants/${tenant.id}`, { method: 'DELETE', token: owner.token });
    await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_deleted'], 60_000).catch(() => undefined);
  }
  cli?.remove();
  await stack?.close();
});

const tenantByName = async (name: string) => {
  const { tenants } = await (await stack.fetch('/api/v1/tenants', { token: owner.token })).json();
  return tenants.find((t: { name: string }) => t.name === name) as { id: string; state: string; urls: { live: string } } | undefined;
};

// Create and read

test.serial('create follows provisioning event by event until the tenant is ready, then prints its URL', async (t) => {
  const res = await cli.run(['create', 'shop', '--env', 'live']);
  t.is(res.code, 0, res.stderr);
  const types = [...res.stdout.matchAll(/^\d\d:\d\d:\d\d {2}(\w+)/gm)].map((m) => m[1]);
  t.deepEqual(
    types.filter((x) =>
      ['provisioning_requested', 'provisioning_started', 'deploy_started', 'environment_ready', 'tenant_ready'].includes(x),
    ),
    ['provisioning_requested', 'provisioning_started', 'deploy_started', 'environment_ready', 'tenant_ready'],
  );
  const tenant = await tenantByName('shop');
  t.is(tenant?.state, 'ready');
  t.true(res.stdout.includes(`live  ${tenant!.urls.live}`));
  t.is((await fetch(tenant!.urls.live)).status, 200);
});

test.serial('list shows the tenant, and show finds it by name or id', async (t) => {
  const tenant = (await tenantByName('shop'))!;
  const list = await cli.run(['tenants', 'list']);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, new RegExp(`^${tenant.id} +shop +ready +\\S+ +live +${tenant.urls.live}$`, 'm'));
  const byName = await cli.run(['show', 'shop', '--json']);
  t.is(JSON.parse(byName.stdout).tenant.id, tenant.id);
  const byId = await cli.run(['status', tenant.id]);
  t.regex(byId.stdout, /^live +ready /m);
});

test.serial('an unknown tenant is an error naming it, with exit code 1', async (t) => {
  const byName = await cli.run(['show', 'nosuch']);
  t.is(byName.code, 1);
  t.regex(byName.stderr, /No tenant with the id or name "nosuch"/);
  const byId = await cli.run(['suspend', 't-aaaaaaaaaa']);
  t.is(byId.code, 1);
  t.regex(byId.stderr, /\[not_found\]/);
});

// Operations

test.serial('suspend and resume wait for their final events; the URL stops and comes back', async (t) => {
  const tenant = (await tenantByName('shop'))!;
  const unconfirmed = await cli.run(['suspend', 'shop'], { input: 'n\n' });
  t.is(unconfirmed.code, 1, 'suspending live asks first; anything but y does nothing');
  t.regex(unconfirmed.stderr, /live stops answering/);
  t.is((await tenantByName('shop'))?.state, 'ready');
  const suspend = await cli.run(['suspend', 'shop'], { input: 'y\n' });
  t.is(suspend.code, 0, suspend.stderr);
  t.regex(suspend.stdout, /tenant_suspended/);
  t.is((await fetch(tenant.urls.live)).status, 503, 'the URL answers with the paused page');
  const again = await cli.run(['suspend', 'shop', '--yes']);
  t.is(again.code, 1, 'a suspended tenant cannot be suspended again');
  t.regex(again.stderr, /\[illegal_transition\]/);
  const resume = await cli.run(['resume', tenant.id]);
  t.is(resume.code, 0, resume.stderr);
  t.regex(resume.stdout, /tenant_resumed/);
  t.notRegex(resume.stdout, /tenant_suspended/, 'events of the earlier operation are not replayed');
  t.is((await fetch(tenant.urls.live)).status, 200);
});

test.serial('credentials shows the generated values once, then says to rotate', async (t) => {
  const first = await cli.run(['credentials', 'shop']);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /^JWT_SECRET=\S{16,}$/m);
  t.regex(first.stderr, /Shown once/);
  const second = await cli.run(['credentials', 'shop']);
  t.is(second.code, 1);
  t.regex(second.stderr, /already shown.*tenantplane rotate shop/);
});

test.serial('logs --follow prints the lines, then a line the workload writes after the stream opened', async (t) => {
  const tenant = await tenantByName('shop');
  const probe = `/follow-probe-${Date.now()}`;
  let probed = false;
  const res = await cli.run(['logs', 'shop', '--follow'], {
    timeoutMs: 90_000,
    onOutput(out, interrupt) {
      // The note comes once the log stream is open: only then does the workload get the request it will log.
      if (!probed && /Following new lines; Ctrl-C stops/.test(out.stderr)) {
        probed = true;
        void fetch(`${tenant!.urls.live}${probe}`).then((r) => r.body?.cancel());
      }
      if (out.stdout.includes(probe)) interrupt();
    },
  });
  t.is(res.code, 0, res.stderr);
  t.true(probed, res.stderr);
  t.regex(res.stdout, new RegExp(`GET ${probe}`), 'the new line arrived over the stream');
  const lines = res.stdout.split('\n').filter(Boolean);
  t.is(new Set(lines).size, lines.length, 'no line is printed twice while following');
});

test.serial("logs show the environment's recent lines", async (t) => {
  const res = await cli.run(['logs', 'shop', '--limit', '5', '--json']);
  t.is(res.code, 0, res.stderr);
  const { lines } = JSON.parse(res.stdout);
  t.true(lines.length > 0 && lines.length <= 5);
  const bad = await cli.run(['logs', 'shop', '--since', 'yesterday']);
  t.is(bad.code, 2);
});

test.serial('secrets set reads the value from stdin and never prints it; the list shows the key only', async (t) => {
  const value = 'sk-live-4f9a8b7c6d5e';
  const set = await cli.run(['secrets', 'set', 'shop', 'GEMINI_API_KEY'], { input: value });
  t.is(set.code, 0, set.stderr);
  t.regex(set.stdout, /Set GEMINI_API_KEY on shop \(version 1\)/);
  const list = await cli.run(['secrets', 'shop']);
  t.regex(list.stdout, /^GEMINI_API_KEY +user +1 /m);
  const json = await cli.run(['secrets', 'shop', '--json']);
  for (const out of [set.stdout, set.stderr, list.stdout, json.stdout]) t.false(out.includes(value));
  t.deepEqual(Object.keys(JSON.parse(json.stdout).secrets.find((s: { key: string }) => s.key === 'GEMINI_API_KEY')).sort(), [
    'key',
    'origin',
    'updatedAt',
    'version',
  ]);
});

test.serial('--no-wait returns as soon as the operation is accepted', async (t) => {
  const tenant = (await tenantByName('shop'))!;
  // The secret change above restarts the tenant; wait for that before starting another operation.
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_restarted'], 60_000);
  const res = await cli.run(['rotate', 'shop', '--yes', '--no-wait', '--json']);
  t.is(res.code, 0, res.stderr);
  const body = JSON.parse(res.stdout);
  t.is(body.tenant.operation, 'rotate');
  t.regex(body.links.credentials, /^\/api\/v1\/tenants\/t-\w+\/credentials\//);
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['credentials_rotated'], 60_000);
});

// Delete

test.serial('delete with stdin closed asks, gets no answer, and deletes nothing', async (t) => {
  const res = await cli.run(['delete', 'shop']);
  t.is(res.code, 1);
  t.regex(res.stderr, /Type the tenant's name \(shop\) to confirm/);
  t.regex(res.stderr, /Not deleted: no confirmation was given \(stdin ended\)\. Type the name, or pass --yes\./);
  const tenant = (await tenantByName('shop'))!;
  t.is(tenant.state, 'ready');
  t.is((await fetch(tenant.urls.live)).status, 200, 'the environment still answers');
});

test.serial('delete asks for the name: a wrong answer deletes nothing, the right one deletes everything', async (t) => {
  const tenant = (await tenantByName('shop'))!;
  const wrong = await cli.run(['delete', 'shop'], { input: 'shpo\n' });
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /Not deleted: "shpo" is not "shop"/);
  t.is((await tenantByName('shop'))?.state, 'ready');
  const right = await cli.run(['delete', 'shop'], { input: 'shop\n' });
  t.is(right.code, 0, right.stderr);
  t.regex(right.stdout, /tenant_deleted/);
  await t.throwsAsync(fetch(tenant.urls.live));
  const list = await cli.run(['tenants', 'list']);
  t.regex(list.stdout, /No tenants yet/);
});

test.serial('delete --yes deletes without asking, even with stdin closed', async (t) => {
  const created = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'quick', environments: ['live'] },
  });
  t.is(created.status, 202);
  const { tenant } = await created.json();
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_ready'], 60_000);
  const res = await cli.run(['delete', 'quick', '--yes']);
  t.is(res.code, 0, res.stderr);
  t.notRegex(res.stderr, /to confirm/);
  t.regex(res.stdout, /tenant_deleted/);
  t.is((await tenantByName('quick'))?.state ?? 'deleted', 'deleted');
});
