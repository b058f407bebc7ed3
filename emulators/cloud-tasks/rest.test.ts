import test from 'ava';
import { createLocalTasksClient } from './client.ts';
import { startCloudTasksServer } from './server.ts';
import { codeOf, startTarget, waitFor } from './test-helpers.ts';

const parent = 'projects/rest-test/locations/us-central1';
const server = await startCloudTasksServer({ restPort: 0, log: () => undefined });
const base = `http://127.0.0.1:${server.restPort}`;
const rest = createLocalTasksClient(`127.0.0.1:${server.restPort}`, { rest: true });
test.after.always(async () => {
  await rest.close();
  await server.close();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

// The client's REST mode

test('the client in REST mode creates a queue, creates tasks and lists them', async (t) => {
  const target = await startTarget();
  t.teardown(target.close);
  const [queue] = await rest.createQueue({ parent, queue: { name: `${parent}/queues/client-rest` } });
  t.is(queue.rateLimits?.maxDispatchesPerSecond, 500);
  await rest.pauseQueue({ name: queue.name });
  const [task] = await rest.createTask({
    parent: queue.name,
    task: { httpRequest: { url: target.url, body: Buffer.from('via rest') } },
    responseView: 'FULL',
  });
  t.is(Buffer.from(task.httpRequest!.body as Uint8Array).toString(), 'via rest');
  const [tasks] = await rest.listTasks({ parent: queue.name });
  t.deepEqual(
    tasks.map((x) => x.name),
    [task.name],
  );
  t.is(tasks[0].view, 'BASIC');
  await rest.resumeQueue({ name: queue.name });
  await waitFor(() => target.received.length === 1, 'the REST-created task to be delivered');
  t.is(target.received[0].body, 'via rest');
});

test('the client in REST mode gets gRPC codes for API errors', async (t) => {
  t.is(await codeOf(rest.getQueue({ name: `${parent}/queues/absent` })), 5);
  await rest.createQueue({ parent, queue: { name: `${parent}/queues/rest-twice` } });
  t.is(await codeOf(rest.createQueue({ parent, queue: { name: `${parent}/queues/rest-twice` } })), 6);
});

// Plain JSON over HTTP

test('plain JSON requests accept enum names, snake_case fields and base64 bytes', async (t) => {
  const queue = `${parent}/queues/plain`;
  const created = await call('POST', `/v2/${parent}/queues`, { name: queue, retry_config: { max_attempts: 5, min_backoff: '0.5s' } });
  t.is(created.status, 200);
  t.is(created.json.retryConfig.maxAttempts, 5);
  t.is(created.json.retryConfig.minBackoff, '0.500s');
  t.is(created.json.state, 'RUNNING');
  await call('POST', `/v2/${queue}:pause`, {});
  const task = await call('POST', `/v2/${queue}/tasks`, {
    task: {
      name: `${queue}/tasks/json-1`,
      httpRequest: { url: 'http://127.0.0.1:9/', httpMethod: 'PUT', body: Buffer.from('bytes!').toString('base64') },
    },
    responseView: 'FULL',
  });
  t.is(task.status, 200);
  t.is(task.json.httpRequest.httpMethod, 'PUT');
  t.is(Buffer.from(task.json.httpRequest.body, 'base64').toString(), 'bytes!');
  t.regex(task.json.scheduleTime, /^\d{4}-\d\d-\d\dT/);
  const got = await call('GET', `/v2/${queue}/tasks/json-1?responseView=FULL`);
  t.is(Buffer.from(got.json.httpRequest.body, 'base64').toString(), 'bytes!');
  const basic = await call('GET', `/v2/${queue}/tasks/json-1`);
  t.is(basic.json.httpRequest.body, undefined);
});

test('enum-encoding=int answers enums as integers and integer enums are accepted', async (t) => {
  const queue = `${parent}/queues/ints`;
  await call('POST', `/v2/${parent}/queues`, { name: queue });
  const paused = await call('POST', `/v2/${queue}:pause?$alt=json;enum-encoding=int`, {});
  t.is(paused.json.state, 2);
  const task = await call('POST', `/v2/${queue}/tasks?$alt=json;enum-encoding=int`, {
    task: { httpRequest: { url: 'http://127.0.0.1:9/', httpMethod: 2 } },
    responseView: 2,
  });
  t.is(task.json.httpRequest.httpMethod, 2);
  t.is(task.json.view, 2);
});

test('UpdateQueue over REST applies the updateMask query parameter', async (t) => {
  const queue = `${parent}/queues/patched`;
  await call('POST', `/v2/${parent}/queues`, { name: queue, rateLimits: { maxConcurrentDispatches: 7 } });
  const patched = await call('PATCH', `/v2/${queue}?updateMask=rateLimits.maxDispatchesPerSecond`, {
    rateLimits: { maxDispatchesPerSecond: 3, maxConcurrentDispatches: 99 },
  });
  t.is(patched.status, 200);
  t.is(patched.json.rateLimits.maxDispatchesPerSecond, 3);
  t.is(patched.json.rateLimits.maxConcurrentDispatches, 7);
});

test('errors use the Google JSON error shape', async (t) => {
  const missing = await call('GET', `/v2/${parent}/queues/nope`);
  t.is(missing.status, 404);
  t.is(missing.json.error.status, 'NOT_FOUND');
  t.is(missing.json.error.code, 404);
  t.regex(missing.json.error.message, /nope/);
  const bad = await call('POST', `/v2/${parent}/queues`, { name: `${parent}/queues/x`, rateLimits: { maxDispatchesPerSecond: 1000 } });
  t.deepEqual([bad.status, bad.json.error.status], [400, 'INVALID_ARGUMENT']);
  const unknown = await call('GET', '/v1/whatever');
  t.deepEqual([unknown.status, unknown.json.error.status], [404, 'NOT_FOUND']);
  const iam = await call('POST', `/v2/${parent}/queues/x:getIamPolicy`, {});
  t.deepEqual([iam.status, iam.json.error.status], [501, 'UNIMPLEMENTED']);
  const broken = await fetch(`${base}/v2/${parent}/queues`, { method: 'POST', body: '{not json' });
  t.is(broken.status, 400);
});

test('DeleteTask and DeleteQueue over REST answer an empty object', async (t) => {
  const queue = `${parent}/queues/deletable`;
  await call('POST', `/v2/${parent}/queues`, { name: queue });
  await call('POST', `/v2/${queue}:pause`, {});
  await call('POST', `/v2/${queue}/tasks`, { task: { name: `${queue}/tasks/d`, httpRequest: { url: 'http://127.0.0.1:9/' } } });
  t.deepEqual(await call('DELETE', `/v2/${queue}/tasks/d`), { status: 200, json: {} });
  t.deepEqual(await call('DELETE', `/v2/${queue}`), { status: 200, json: {} });
  t.is((await call('GET', `/v2/${queue}`)).status, 404);
});
