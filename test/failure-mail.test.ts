/**
 * Owners hear when an environment fails (issue #22): a provisioning whose
 * workload cannot start (a real process that exits at once) ends `failed`,
 * and the owner gets one mail through the outbox — read from MailDev's REST
 * API — with the reason and a link to the tenant's page. A retry that fails
 * again is a new failure and mails again; nothing is mailed twice. A ready
 * environment whose process dies is found by the minute's sweep, recorded
 * failed, and mailed about once.
 */
import { join } from 'node:path';
import test from 'ava';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';
import { createLocalDriver, type LocalDriver } from '../shared/runtime/local/driver.ts';
import { SAMPLE_TENANT_SERVER } from '../shared/runtime/local/options.ts';
import { tenantProcesses } from '../testing/processes.ts';
import { readEvents, waitForEvent } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

let stack: TestStack;
let owner: TestUser;
let driver: LocalDriver | undefined;
test.before(async () => {
  stack = await startTestStack({
    env: { PROVISION_MAX_ATTEMPTS: '1', PROVISION_READY_TIMEOUT_MS: '20000' },
    deps: {
      // The local runtime, its workload a process that reports why and exits: every deploy fails for real.
      runtime: () =>
        (driver ??= createLocalDriver({
          dataDir: join(stack.dataDir, 'runtime'),
          portRange: stack.config.runtime.portRange,
          publicHost: stack.config.runtime.publicHost,
          // Tenants named doomed-… cannot start (a real process that reports why and exits); the others run the sample tenant.
          command: [
            process.execPath,
            '-e',
            "if ((process.env.TENANT_NAME ?? '').startsWith('doomed')) { console.error('database migration failed'); process.exit(3) } else import(process.argv[1])",
            SAMPLE_TENANT_SERVER,
          ],
        })),
    },
  });
  owner = await createTestUser(stack.deps);
});
test.after.always(async () => {
  await stack?.close();
});

test('a failed launch mails the owner once, with the reason and a link to the tenant; a failed retry mails again', async (t) => {
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'doomed-shop', environments: ['demo'] },
  });
  t.is(res.status, 202);
  const id = (await res.json()).tenant.id as string;
  await waitForEvent(stack.streamUrl, id, owner.token, ['provisioning_failed', 'tenant_ready'], 90_000);

  const mail = await stack.mail.waitFor(owner.email, { timeoutMs: 30_000 });
  t.is(mail.subject, 'doomed-shop: the demo environment failed');
  t.regex(mail.text, /The demo environment of your tenant doomed-shop failed \(provision\)/);
  t.true(mail.text.includes(`${stack.config.publicUrl}/tenants.html?id=${id}`), mail.text);
  t.true(mail.html.includes(`href="${stack.config.publicUrl}/tenants.html?id=${id}"`), 'the button links to the tenant page');

  // The outbox delivers each message once even if its task is delivered again (the mail worker's lease).
  const outbox = await stack.deps.db.collection('outbox').where('to', '==', owner.email).get();
  t.is(outbox.size, 1);
  const again = await stack.fetch('/__fn/mail/tasks/mail', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', [TASK_SECRET_HEADER]: stack.config.tasks.secret },
    body: JSON.stringify({ id: outbox.docs[0].id }),
  });
  t.true(again.status < 500, `a redelivered task answers ${again.status}`);
  t.is((await stack.mail.messagesTo(owner.email)).length, 1, 'one mail for one failure');

  // A retry is a new operation: when it fails too, that is a second failure and a second mail.
  t.is((await stack.fetch(`/api/v1/tenants/${id}/retry-provision`, { method: 'POST', token: owner.token })).status, 202);
  const second = await stack.mail.waitFor(owner.email, { except: [mail.id], timeoutMs: 90_000 });
  t.is(second.subject, 'doomed-shop: the demo environment failed');
  const events = await readEvents(stack.url, id, owner.token);
  t.is(events.filter((e) => e.type === 'provisioning_failed').length, 2);
  await new Promise((r) => setTimeout(r, 2000));
  t.is((await stack.mail.messagesTo(owner.email)).length, 2, 'two failures, two mails, nothing more');
});

const sweep = () =>
  stack.fetch('/__fn/provision/tasks/provision-sweep', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', [TASK_SECRET_HEADER]: stack.config.tasks.secret },
    body: '{}',
  });

test('a ready environment whose process dies is recorded failed by the sweep, and its owner is mailed once', async (t) => {
  const other = await createTestUser(stack.deps);
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: other.token,
    json: { name: 'steady', environments: ['live'] },
  });
  const id = (await res.json()).tenant.id as string;
  await waitForEvent(stack.streamUrl, id, other.token, ['tenant_ready', 'provisioning_failed'], 90_000);
  t.is((await sweep()).status, 200);
  t.is((await stack.mail.messagesTo(other.email)).length, 0, 'a running environment mails nothing');

  const [proc] = tenantProcesses(id);
  t.truthy(proc, 'the live process runs');
  process.kill(proc.pid, 'SIGKILL');
  for (let i = 0; i < 100 && tenantProcesses(id).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  const first = await (await sweep()).json();
  t.deepEqual(first.health?.failed, [`${id}/live`], JSON.stringify(first));
  const mail = await stack.mail.waitFor(other.email, { timeoutMs: 30_000 });
  t.is(mail.subject, 'steady: the live environment failed');
  t.regex(mail.text, /the runtime reported it failed/);
  t.true(mail.text.includes(`/tenants.html?id=${id}`));
  const events = await readEvents(stack.url, id, other.token);
  t.is(events.filter((e) => e.type === 'environment_failed').length, 1);
  const { environments } = await (await stack.fetch(`/api/v1/tenants/${id}/environments`, { token: other.token })).json();
  t.like(
    environments.find((e: { env: string }) => e.env === 'live'),
    { status: 'failed', error: { code: 'runtime_failed' } },
  );

  // The next sweeps find it failed already: no second mail.
  t.deepEqual((await (await sweep()).json()).health?.failed, []);
  await new Promise((r) => setTimeout(r, 1500));
  t.is((await stack.mail.messagesTo(other.email)).length, 1);
});
