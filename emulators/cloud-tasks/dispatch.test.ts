import test from 'ava';
import { createLocalTasksClient } from './client.ts';
import { startCloudTasksServer } from './server.ts';
import { codeOf, sleep, startTarget, waitFor } from './test-helpers.ts';

const parent = 'projects/dispatch-test/locations/us-central1';
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const fastRetry = { minBackoff: { nanos: 50_000_000 }, maxBackoff: { seconds: 1 }, maxDoublings: 3 };

const logs: Array<Record<string, unknown>> = [];
const server = await startCloudTasksServer({ log: (line) => logs.push(line as Record<string, unknown>) });
const client = createLocalTasksClient(server.endpoint);
test.after.always(async () => {
  await client.close();
  await server.close();
});

async function createQueue(id: string, extra: Record<string, unknown> = {}): Promise<string> {
  const name = `${parent}/queues/${id}`;
  await client.createQueue({ parent, queue: { name, retryConfig: fastRetry, ...extra } });
  return name;
}

const idOf = (name: string | null | undefined): string => String(name).split('/').pop()!;

// Delivery and retries

test('200 tasks are each delivered until success, with retry headers and growing backoff', async (t) => {
  // Task i fails its first (i % 3) attempts with a status that depends on the attempt.
  const failuresFor = (id: string): number => Number(id.split('-')[1]) % 3;
  const target = await startTarget((request) => {
    const id = String(request.headers['x-cloudtasks-taskname']);
    const attempt = Number(request.headers['x-cloudtasks-taskretrycount']);
    return attempt < failuresFor(id) ? [500, 429][attempt] : 204;
  });
  t.teardown(target.close);
  const queue = await createQueue('many');
  await Promise.all(
    [...Array(200).keys()].map((i) =>
      client.createTask({
        parent: queue,
        task: {
          name: `${queue}/tasks/t-${i}`,
          httpRequest: { url: `${target.url}/work?i=${i}`, body: Buffer.from(`payload ${i}`), headers: { 'Content-Type': 'text/plain' } },
        },
      }),
    ),
  );
  await waitFor(async () => (await client.listTasks({ parent: queue }))[0].length === 0, 'all 200 tasks to be done');

  for (let i = 0; i < 200; i++) {
    const id = `t-${i}`;
    const attempts = target.forTask(id);
    const failures = failuresFor(id);
    t.is(attempts.length, failures + 1, `${id} attempts`);
    attempts.forEach((attempt, n) => {
      t.is(attempt.headers['x-cloudtasks-queuename'], 'many');
      t.is(attempt.headers['x-cloudtasks-taskretrycount'], String(n));
      t.is(attempt.headers['user-agent'], 'Google-Cloud-Tasks');
      t.is(attempt.headers['content-type'], 'text/plain');
      t.is(attempt.body, `payload ${i}`);
      t.regex(String(attempt.headers['x-cloudtasks-tasketa']), /^\d+\.\d+$/);
      if (n === 0) {
        t.is(attempt.headers['x-cloudtasks-taskpreviousresponse'], undefined);
      } else {
        t.is(attempt.headers['x-cloudtasks-taskpreviousresponse'], String([500, 429][n - 1]));
        t.is(attempt.headers['x-cloudtasks-taskretryreason'], `HTTP status ${[500, 429][n - 1]}`);
        // Documented backoff: min_backoff, then doubled (50 ms, 100 ms); never earlier.
        const backoff = 50 * 2 ** (n - 1);
        t.true(
          attempt.at - attempts[n - 1].at >= backoff - 5,
          `${id} retry ${n} waited ${attempt.at - attempts[n - 1].at} ms, expected >= ${backoff}`,
        );
        t.true(Number(attempt.headers['x-cloudtasks-tasketa']) > Number(attempts[n - 1].headers['x-cloudtasks-tasketa']));
      }
    });
  }
  // 429 is a response below 500, so it counts as an execution; 500 does not.
  const third = target.forTask('t-2');
  t.deepEqual(
    third.map((r) => r.headers['x-cloudtasks-taskexecutioncount']),
    ['0', '0', '1'],
  );
  t.true(logs.some((line) => line.task === 't-2' && line.attempt === 3 && line.status === 204 && typeof line.ms === 'number'));
});

test('a task is attempted maxAttempts times and then deleted', async (t) => {
  const target = await startTarget(() => 503);
  t.teardown(target.close);
  const queue = await createQueue('gives-up', { retryConfig: { ...fastRetry, maxAttempts: 3 } });
  const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url: target.url } } });
  await waitFor(async () => (await codeOf(client.getTask({ name: task.name }))) === NOT_FOUND, 'the task to be given up');
  t.is(target.received.length, 3);
});

test('a failed task keeps its attempt history', async (t) => {
  const target = await startTarget((request) => (request.headers['x-cloudtasks-taskretrycount'] === '0' ? 404 : undefined));
  t.teardown(target.close);
  const queue = await createQueue('history', { retryConfig: { ...fastRetry, minBackoff: { seconds: 60 }, maxBackoff: { seconds: 60 } } });
  const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url: target.url } } });
  await waitFor(async () => (await client.getTask({ name: task.name }))[0].responseCount === 1, 'the first response');
  const [after] = await client.getTask({ name: task.name });
  t.is(after.dispatchCount, 1);
  t.truthy(after.firstAttempt?.dispatchTime);
  t.is(after.lastAttempt?.responseStatus?.code, NOT_FOUND);
  t.true(Number(after.scheduleTime?.seconds) >= Number(after.lastAttempt?.dispatchTime?.seconds) + 59);
});

// Task names

test('a named task cannot be created twice, not even after it ran', async (t) => {
  const target = await startTarget();
  t.teardown(target.close);
  const queue = await createQueue('dedup');
  const name = `${queue}/tasks/only-once`;
  await client.createTask({ parent: queue, task: { name, httpRequest: { url: target.url } } });
  t.is(await codeOf(client.createTask({ parent: queue, task: { name, httpRequest: { url: target.url } } })), ALREADY_EXISTS);
  await waitFor(async () => (await codeOf(client.getTask({ name }))) === NOT_FOUND, 'the task to run');
  t.is(target.received.length, 1);
  t.is(await codeOf(client.createTask({ parent: queue, task: { name, httpRequest: { url: target.url } } })), ALREADY_EXISTS);
});

test('a task name is free again once the dedup window has passed', async (t) => {
  const shortWindow = await startCloudTasksServer({ dedupWindowMs: 3000, log: () => undefined });
  const local = createLocalTasksClient(shortWindow.endpoint);
  t.teardown(async () => {
    await local.close();
    await shortWindow.close();
  });
  const queue = `${parent}/queues/short-window`;
  await local.createQueue({ parent, queue: { name: queue } });
  await local.pauseQueue({ name: queue });
  const name = `${queue}/tasks/again`;
  await local.createTask({ parent: queue, task: { name, httpRequest: { url: 'http://127.0.0.1:9/' } } });
  await local.deleteTask({ name });
  const deletedAt = Date.now();
  t.is(await codeOf(local.createTask({ parent: queue, task: { name, httpRequest: { url: 'http://127.0.0.1:9/' } } })), ALREADY_EXISTS);
  await sleep(deletedAt + 3100 - Date.now());
  const [created] = await local.createTask({ parent: queue, task: { name, httpRequest: { url: 'http://127.0.0.1:9/' } } });
  t.is(created.name, name);
});

test('an unnamed task gets a generated id in its queue', async (t) => {
  const queue = await createQueue('unnamed');
  await client.pauseQueue({ name: queue });
  const [a] = await client.createTask({ parent: queue, task: { httpRequest: { url: 'http://127.0.0.1:9/' } } });
  const [b] = await client.createTask({ parent: queue, task: { httpRequest: { url: 'http://127.0.0.1:9/' } } });
  t.regex(String(a.name), new RegExp(`^${queue}/tasks/\\d+$`));
  t.not(a.name, b.name);
});

// Queue state and RunTask

test('a paused queue dispatches nothing until resumed', async (t) => {
  const target = await startTarget();
  t.teardown(target.close);
  const queue = await createQueue('paused');
  await client.pauseQueue({ name: queue });
  for (let i = 0; i < 5; i++) await client.createTask({ parent: queue, task: { httpRequest: { url: target.url } } });
  // Instead of a guessed pause: once a task created after these on a running queue has arrived, the dispatcher had its chance.
  const control = await startTarget();
  t.teardown(control.close);
  await client.createTask({ parent: await createQueue('paused-control'), task: { httpRequest: { url: control.url } } });
  await waitFor(() => control.received.length === 1, 'the delivery on the running queue');
  t.is(target.received.length, 0);
  await client.resumeQueue({ name: queue });
  await waitFor(() => target.received.length === 5, 'five deliveries after resume');
  t.pass();
});

test('RunTask dispatches a task at once, even on a paused queue', async (t) => {
  const target = await startTarget();
  t.teardown(target.close);
  const queue = await createQueue('run-now');
  await client.pauseQueue({ name: queue });
  const inAnHour = { seconds: Math.floor(Date.now() / 1000) + 3600 };
  const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url: target.url }, scheduleTime: inAnHour } });
  const [ran] = await client.runTask({ name: task.name });
  t.is(ran.dispatchCount, 1);
  await waitFor(() => target.received.length === 1, 'the forced delivery');
  t.is(target.received[0].headers['x-cloudtasks-taskname'], idOf(task.name));
  await waitFor(async () => (await codeOf(client.getTask({ name: task.name }))) === NOT_FOUND, 'the task to be deleted after success');
  t.is(await codeOf(client.runTask({ name: task.name })), NOT_FOUND);
});

// Task validation and views

test('dispatchDeadline outside 15 s to 30 min answers INVALID_ARGUMENT', async (t) => {
  const queue = await createQueue('deadlines');
  await client.pauseQueue({ name: queue });
  const create = (seconds: number) =>
    client.createTask({ parent: queue, task: { httpRequest: { url: 'http://127.0.0.1:9/' }, dispatchDeadline: { seconds } } });
  t.is(await codeOf(create(14)), INVALID_ARGUMENT);
  t.is(await codeOf(create(30 * 60 + 1)), INVALID_ARGUMENT);
  t.is(await codeOf(create(15)), undefined);
  t.is(await codeOf(create(30 * 60)), undefined);
  const [defaulted] = await client.createTask({ parent: queue, task: { httpRequest: { url: 'http://127.0.0.1:9/' } } });
  t.deepEqual(defaulted.dispatchDeadline, { seconds: '600', nanos: 0 });
});

test('invalid tasks answer INVALID_ARGUMENT and unknown queues NOT_FOUND', async (t) => {
  const queue = await createQueue('invalid');
  t.is(await codeOf(client.createTask({ parent: queue, task: { httpRequest: { url: 'ftp://x/' } } })), INVALID_ARGUMENT);
  t.is(
    await codeOf(
      client.createTask({ parent: queue, task: { httpRequest: { url: 'http://x/', httpMethod: 'GET', body: Buffer.from('no') } } }),
    ),
    INVALID_ARGUMENT,
  );
  t.is(
    await codeOf(client.createTask({ parent: queue, task: { name: `${parent}/queues/other/tasks/x`, httpRequest: { url: 'http://x/' } } })),
    INVALID_ARGUMENT,
  );
  t.is(await codeOf(client.createTask({ parent: `${parent}/queues/none`, task: { httpRequest: { url: 'http://x/' } } })), NOT_FOUND);
});

test('the BASIC view omits the body and FULL includes it', async (t) => {
  const queue = await createQueue('views');
  await client.pauseQueue({ name: queue });
  const [task] = await client.createTask({
    parent: queue,
    task: { httpRequest: { url: 'http://127.0.0.1:9/', body: Buffer.from('secret') } },
  });
  t.is(task.view, 'BASIC');
  t.falsy(task.httpRequest?.body && Buffer.from(task.httpRequest.body as Uint8Array).length);
  const [full] = await client.getTask({ name: task.name, responseView: 'FULL' });
  t.is(Buffer.from(full.httpRequest!.body as Uint8Array).toString(), 'secret');
  const [listed] = await client.listTasks({ parent: queue, responseView: 'FULL' });
  t.is(Buffer.from(listed[0].httpRequest!.body as Uint8Array).toString(), 'secret');
});

test('an oidcToken task carries an unsigned JWT naming the service account and audience', async (t) => {
  const target = await startTarget();
  t.teardown(target.close);
  const queue = await createQueue('oidc');
  await client.createTask({
    parent: queue,
    task: { httpRequest: { url: `${target.url}/hook`, oidcToken: { serviceAccountEmail: 'tasks@p.iam.gserviceaccount.com' } } },
  });
  await waitFor(() => target.received.length === 1, 'the delivery');
  const [scheme, token] = String(target.received[0].headers.authorization).split(' ');
  t.is(scheme, 'Bearer');
  const [header, payload, signature] = token.split('.');
  t.is(JSON.parse(Buffer.from(header, 'base64url').toString()).alg, 'none');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  t.is(claims.email, 'tasks@p.iam.gserviceaccount.com');
  t.is(claims.aud, `${target.url}/hook`);
  t.is(signature, '');
});

test('rate limits hold dispatches to maxDispatchesPerSecond after the burst', async (t) => {
  const target = await startTarget();
  t.teardown(target.close);
  // 5/s gives a burst of 5: ten tasks need about one second for the second half.
  const queue = await createQueue('slow-rate', { rateLimits: { maxDispatchesPerSecond: 5 } });
  await client.pauseQueue({ name: queue });
  for (let i = 0; i < 10; i++) await client.createTask({ parent: queue, task: { httpRequest: { url: target.url } } });
  const resumedAt = Date.now();
  await client.resumeQueue({ name: queue });
  await waitFor(() => target.received.length === 10, 'ten deliveries');
  t.true(target.received[9].at - resumedAt >= 900, `took ${target.received[9].at - resumedAt} ms`);
});
