import test from 'ava';
import { createQueue as createTaskQueue } from '../../shared/queue/client.ts';
import { createLocalTasksClient } from './client.ts';
import { parsePrivateTargets, refusalFor } from './private-targets.ts';
import { startCloudTasksServer } from './server.ts';
import { sleep, startTarget, waitFor } from './test-helpers.ts';

const project = 'audience-test';
const location = 'us-central1';
const parent = `projects/${project}/locations/${location}`;
const tasksAccount = `tp-tasks@${project}.iam.gserviceaccount.com`;
const fastRetry = { maxAttempts: 2, minBackoff: { nanos: 50_000_000 }, maxBackoff: { nanos: 100_000_000 } };

const target = await startTarget();
const functionUrl = (fn: string) => `${target.url}/__fn/${fn}`;
const logs: Array<Record<string, unknown>> = [];
const server = await startCloudTasksServer({
  privateTargets: [functionUrl('provision'), functionUrl('mail')],
  log: (line) => logs.push(line as Record<string, unknown>),
});
const raw = createLocalTasksClient(server.endpoint);
for (const id of ['provision', 'mail', 'other'])
  await raw.createQueue({ parent, queue: { name: `${parent}/queues/${id}`, retryConfig: fastRetry } });
const queue = createTaskQueue({
  projectId: project,
  tasks: { location, secret: 'task-secret', serviceAccount: tasksAccount } as never,
  emulators: { tasks: server.endpoint },
  functionsUrl: `${target.url}/__fn/{name}`,
});
test.after.always(async () => {
  await queue.close();
  await raw.close();
  await server.close();
  await target.close();
});

const claimsOf = (authorization: unknown) =>
  JSON.parse(Buffer.from(String(authorization).split(' ')[1].split('.')[1], 'base64url').toString());

// The queue client's audience

test('a task the platform enqueues for a private function carries that function URL as its audience and is delivered', async (t) => {
  await queue.enqueue('provision', { fn: 'provision', path: '/tasks/provision', payload: { tenantId: 't1' }, name: 'aud-provision-1' });
  await waitFor(() => target.received.some((r) => r.path === '/__fn/provision/tasks/provision'), 'the provision delivery');
  const delivered = target.received.find((r) => r.path === '/__fn/provision/tasks/provision')!;
  const claims = claimsOf(delivered.headers.authorization);
  t.is(claims.aud, functionUrl('provision'));
  t.is(claims.email, tasksAccount);
  t.deepEqual(JSON.parse(delivered.body), { tenantId: 't1' });
});

test('mail tasks get the mail function URL as their audience, not the host', async (t) => {
  await queue.enqueue('mail', { fn: 'mail', path: '/tasks/mail', payload: { id: 'm1' }, name: 'aud-mail-1' });
  await waitFor(() => target.received.some((r) => r.path === '/__fn/mail/tasks/mail'), 'the mail delivery');
  t.is(claimsOf(target.received.find((r) => r.path === '/__fn/mail/tasks/mail')!.headers.authorization).aud, functionUrl('mail'));
});

// The emulator's front-end check

test('a private function never receives a task whose audience is only the host: 401, retried, then given up', async (t) => {
  const name = `${parent}/queues/provision/tasks/host-audience`;
  await raw.createTask({
    parent: `${parent}/queues/provision`,
    task: {
      name,
      httpRequest: {
        url: `${functionUrl('provision')}/tasks/provision?host`,
        oidcToken: { serviceAccountEmail: tasksAccount, audience: target.url },
      },
    },
  });
  await waitFor(() => logs.some((l) => l.task === 'host-audience' && l.outcome === 'gave-up'), 'the task to be given up');
  t.deepEqual(
    logs.filter((l) => l.task === 'host-audience').map((l) => l.status),
    [401, 401],
  );
  t.false(target.received.some((r) => r.path.endsWith('?host')));
});

test('a private function refuses a task without an OIDC token with 403', async (t) => {
  await raw.createTask({
    parent: `${parent}/queues/mail`,
    task: { name: `${parent}/queues/mail/tasks/no-token`, httpRequest: { url: `${functionUrl('mail')}/tasks/mail?no-token` } },
  });
  await waitFor(() => logs.some((l) => l.task === 'no-token' && l.outcome === 'gave-up'), 'the task to be given up');
  t.is(logs.find((l) => l.task === 'no-token')!.status, 403);
  await sleep(50);
  t.false(target.received.some((r) => r.path.endsWith('?no-token')));
});

test('a public target takes tasks with any audience or none', async (t) => {
  await raw.createTask({ parent: `${parent}/queues/other`, task: { httpRequest: { url: `${target.url}/__fn/signup/hook?public` } } });
  await waitFor(() => target.received.some((r) => r.path.endsWith('?public')), 'the public delivery');
  t.pass();
});

test('refusalFor matches a private URL by whole path segments and tolerates a trailing slash', (t) => {
  const targets = ['https://r-p.cloudfunctions.net/mail/'];
  const oidc = (audience: string) => ({ serviceAccountEmail: tasksAccount, audience });
  t.is(refusalFor({ url: 'https://r-p.cloudfunctions.net/mailer/x' }, targets), undefined);
  t.is(
    refusalFor({ url: 'https://r-p.cloudfunctions.net/mail/tasks/mail', oidcToken: oidc('https://r-p.cloudfunctions.net/mail') }, targets),
    undefined,
  );
  t.deepEqual(refusalFor({ url: 'https://r-p.cloudfunctions.net/mail/tasks/mail', oidcToken: oidc('') }, targets), {
    kind: 'response',
    status: 401,
  });
  t.throws(() => parsePrivateTargets('provision'), { message: /TASKS_PRIVATE_TARGETS entry "provision" is not a URL; example/ });
});
