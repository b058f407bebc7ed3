import test from 'ava';
import { createLocalTasksClient } from './client.ts';
import { startCloudTasksServer } from './server.ts';
import { codeOf } from './test-helpers.ts';

const parent = 'projects/queues-test/locations/us-central1';
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;

const server = await startCloudTasksServer({
  queues: [{ name: `${parent}/queues/declared`, rateLimits: { maxDispatchesPerSecond: 7 } }],
  log: () => undefined,
});
const client = createLocalTasksClient(server.endpoint);
test.after.always(async () => {
  await client.close();
  await server.close();
});

// Creating and reading queues

test('a queue created without settings gets the production defaults', async (t) => {
  const [queue] = await client.createQueue({ parent, queue: { name: `${parent}/queues/defaults` } });
  t.is(queue.state, 'RUNNING');
  t.deepEqual(queue.rateLimits, { maxDispatchesPerSecond: 500, maxBurstSize: 100, maxConcurrentDispatches: 1000 });
  t.is(queue.retryConfig?.maxAttempts, 100);
  t.is(queue.retryConfig?.maxDoublings, 16);
  t.deepEqual(queue.retryConfig?.minBackoff, { seconds: '0', nanos: 100_000_000 });
  t.deepEqual(queue.retryConfig?.maxBackoff, { seconds: '3600', nanos: 0 });
  t.deepEqual(queue.retryConfig?.maxRetryDuration, { seconds: '0', nanos: 0 });
  const [read] = await client.getQueue({ name: `${parent}/queues/defaults` });
  t.deepEqual(read, queue);
});

test('a queue declared in the options exists at start with its settings', async (t) => {
  const [queue] = await client.getQueue({ name: `${parent}/queues/declared` });
  t.is(queue.rateLimits?.maxDispatchesPerSecond, 7);
  t.is(queue.rateLimits?.maxBurstSize, 7);
});

test('creating a queue twice answers ALREADY_EXISTS', async (t) => {
  await client.createQueue({ parent, queue: { name: `${parent}/queues/twice` } });
  t.is(await codeOf(client.createQueue({ parent, queue: { name: `${parent}/queues/twice` } })), ALREADY_EXISTS);
});

test('bad queue names and settings answer INVALID_ARGUMENT', async (t) => {
  t.is(await codeOf(client.createQueue({ parent, queue: { name: `${parent}/queues/bad_underscore` } })), INVALID_ARGUMENT);
  t.is(await codeOf(client.createQueue({ parent, queue: { name: 'projects/other/locations/x/queues/q' } })), INVALID_ARGUMENT);
  t.is(
    await codeOf(client.createQueue({ parent, queue: { name: `${parent}/queues/fast`, rateLimits: { maxDispatchesPerSecond: 501 } } })),
    INVALID_ARGUMENT,
  );
  t.is(
    await codeOf(client.createQueue({ parent, queue: { name: `${parent}/queues/wide`, rateLimits: { maxConcurrentDispatches: 5001 } } })),
    INVALID_ARGUMENT,
  );
  t.is(
    await codeOf(
      client.createQueue({
        parent,
        queue: { name: `${parent}/queues/back`, retryConfig: { minBackoff: { seconds: 10 }, maxBackoff: { seconds: 5 } } },
      }),
    ),
    INVALID_ARGUMENT,
  );
  t.is(await codeOf(client.getQueue({ name: `${parent}/queues/never-created` })), NOT_FOUND);
});

test('an unknown queue answers NOT_FOUND with a message naming it', async (t) => {
  const error = await t.throwsAsync(client.getQueue({ name: `${parent}/queues/missing` }));
  t.is((error as { code?: number }).code, NOT_FOUND);
  t.regex(error!.message, /missing/);
});

// Updating, pausing, purging and deleting

test('UpdateQueue with a field mask changes only the masked fields', async (t) => {
  const name = `${parent}/queues/masked`;
  await client.createQueue({ parent, queue: { name, rateLimits: { maxConcurrentDispatches: 10 } } });
  const [updated] = await client.updateQueue({
    queue: { name, rateLimits: { maxDispatchesPerSecond: 5, maxConcurrentDispatches: 999 }, retryConfig: { maxAttempts: 3 } },
    updateMask: { paths: ['rate_limits.max_dispatches_per_second', 'retry_config.max_attempts'] },
  });
  t.is(updated.rateLimits?.maxDispatchesPerSecond, 5);
  t.is(updated.rateLimits?.maxConcurrentDispatches, 10);
  t.is(updated.retryConfig?.maxAttempts, 3);
  t.is(updated.retryConfig?.maxDoublings, 16);
  t.is(await codeOf(client.updateQueue({ queue: { name }, updateMask: { paths: ['no_such_field'] } })), INVALID_ARGUMENT);
});

test('pausing and resuming a queue changes its state', async (t) => {
  const name = `${parent}/queues/pausable`;
  await client.createQueue({ parent, queue: { name } });
  t.is((await client.pauseQueue({ name }))[0].state, 'PAUSED');
  t.is((await client.getQueue({ name }))[0].state, 'PAUSED');
  t.is((await client.resumeQueue({ name }))[0].state, 'RUNNING');
});

test('purging a queue deletes its tasks and sets purgeTime', async (t) => {
  const name = `${parent}/queues/purged`;
  await client.createQueue({ parent, queue: { name } });
  await client.pauseQueue({ name });
  for (let i = 0; i < 3; i++) await client.createTask({ parent: name, task: { httpRequest: { url: 'http://127.0.0.1:9/never' } } });
  const [purged] = await client.purgeQueue({ name });
  t.truthy(purged.purgeTime);
  const [tasks] = await client.listTasks({ parent: name });
  t.is(tasks.length, 0);
});

test('a deleted queue is gone', async (t) => {
  const name = `${parent}/queues/deleted`;
  await client.createQueue({ parent, queue: { name } });
  await client.deleteQueue({ name });
  t.is(await codeOf(client.getQueue({ name })), NOT_FOUND);
  t.is(await codeOf(client.deleteQueue({ name })), NOT_FOUND);
});

// Listing

test('listing queues pages through every queue of the location once', async (t) => {
  const location = 'projects/queues-test/locations/europe-west1';
  for (let i = 0; i < 7; i++) await client.createQueue({ parent: location, queue: { name: `${location}/queues/page-${i}` } });
  const names: string[] = [];
  let pageToken = '';
  let pages = 0;
  do {
    const [queues, , response] = await client.listQueues({ parent: location, pageSize: 3, pageToken }, { autoPaginate: false });
    names.push(...queues.map((q) => q.name!));
    pageToken = response?.nextPageToken ?? '';
    pages++;
  } while (pageToken);
  t.is(pages, 3);
  t.deepEqual(
    names,
    [...Array(7).keys()].map((i) => `${location}/queues/page-${i}`),
  );
  const [paused] = await client.listQueues({ parent: location, filter: 'state: PAUSED' });
  t.is(paused.length, 0);
});
