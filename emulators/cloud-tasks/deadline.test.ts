import test from 'ava';
import { createLocalTasksClient } from './client.ts';
import { startCloudTasksServer } from './server.ts';
import { startTarget, waitFor } from './test-helpers.ts';

// Dispatch deadline (its own file: it waits out the 15 s minimum deadline
// while the other files run).

test('a target slower than dispatchDeadline is retried', async (t) => {
  const server = await startCloudTasksServer({ log: () => undefined });
  const client = createLocalTasksClient(server.endpoint);
  // The first attempt never answers; later ones succeed.
  const target = await startTarget((request) => (request.headers['x-cloudtasks-taskretrycount'] === '0' ? undefined : 200));
  t.teardown(async () => {
    await target.close();
    await client.close();
    await server.close();
  });
  const parent = 'projects/deadline-test/locations/us-central1';
  const queue = `${parent}/queues/slow`;
  await client.createQueue({ parent, queue: { name: queue, retryConfig: { minBackoff: { nanos: 50_000_000 } } } });
  await client.createTask({ parent: queue, task: { httpRequest: { url: target.url }, dispatchDeadline: { seconds: 15 } } });
  await waitFor(() => target.received.length === 2, 'the retry after the deadline', 40_000);
  const [first, second] = target.received;
  // The deadline clock starts when the request is sent, a little before the
  // target logs it, so allow for delivery delay on a busy machine.
  t.true(second.at - first.at >= 14_000, `retried after ${second.at - first.at} ms`);
  t.is(second.headers['x-cloudtasks-taskretrycount'], '1');
  t.is(second.headers['x-cloudtasks-taskretryreason'], 'Deadline exceeded');
  t.is(second.headers['x-cloudtasks-taskpreviousresponse'], undefined);
});
