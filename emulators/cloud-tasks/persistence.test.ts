import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalTasksClient } from './client.ts';
import { startCloudTasksServer } from './server.ts';
import { startTarget, waitFor } from './test-helpers.ts';

const parent = 'projects/persist-test/locations/us-central1';

async function tempDataFile(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cloud-tasks-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'state.json');
}

// Restarts

test('closing and restarting the server on the same data file delivers every remaining task', async (t) => {
  const dataFile = await tempDataFile(t);
  const target = await startTarget();
  t.teardown(target.close);
  const queue = `${parent}/queues/restart`;
  // 4/s with a burst of 4: 40 tasks would need about nine seconds, so
  // closing after 8 deliveries leaves most of the work for the second run.
  const first = await startCloudTasksServer({
    dataFile,
    queues: [{ name: queue, rateLimits: { maxDispatchesPerSecond: 4 } }],
    log: () => undefined,
  });
  const client = createLocalTasksClient(first.endpoint);
  await client.pauseQueue({ name: queue });
  for (let i = 0; i < 40; i++) {
    await client.createTask({ parent: queue, task: { name: `${queue}/tasks/r-${i}`, httpRequest: { url: target.url } } });
  }
  await client.resumeQueue({ name: queue });
  await waitFor(() => target.received.length >= 8, '8 deliveries before the restart');
  await client.close();
  await first.close();
  const ids = () => new Set(target.received.map((r) => r.headers['x-cloudtasks-taskname']));
  t.true(ids().size < 40, 'the restart happened mid-run');

  const second = await startCloudTasksServer({ dataFile, queues: [{ name: queue }], log: () => undefined });
  t.teardown(() => second.close());
  const client2 = createLocalTasksClient(second.endpoint);
  t.teardown(() => client2.close());
  // The queue kept its settings from the first run; raise the rate so the rest drains fast.
  t.is((await client2.getQueue({ name: queue }))[0].rateLimits?.maxDispatchesPerSecond, 4);
  await client2.updateQueue({
    queue: { name: queue, rateLimits: { maxDispatchesPerSecond: 500 } },
    updateMask: { paths: ['rate_limits.max_dispatches_per_second'] },
  });
  await waitFor(() => ids().size === 40, 'all 40 tasks delivered across the restart');
  await waitFor(async () => (await client2.listTasks({ parent: queue }))[0].length === 0, 'the queue to drain');
  t.pass();
});

test('tasks acknowledged by a server that is then killed hard are delivered after restart', async (t) => {
  const dataFile = await tempDataFile(t);
  const queue = `${parent}/queues/killed`;
  const child = spawn(process.execPath, ['--import', 'tsx/esm', join(import.meta.dirname, 'main.ts')], {
    env: { ...process.env, TASKS_EMULATOR_PORT: '0', TASKS_EMULATOR_REST_PORT: '0', TASKS_EMULATOR_DATA: dataFile, TASKS_QUEUES: queue },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await waitFor(() => /grpc=(\S+)/.test(output), 'the emulator to print its endpoints', 30_000);
  const client = createLocalTasksClient(/grpc=(\S+)/.exec(output)![1]);
  await client.pauseQueue({ name: queue });
  const target = await startTarget();
  t.teardown(target.close);
  for (let i = 0; i < 20; i++)
    await client.createTask({ parent: queue, task: { name: `${queue}/tasks/k-${i}`, httpRequest: { url: target.url } } });
  await client.close();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;

  const restarted = await startCloudTasksServer({ dataFile, log: () => undefined });
  t.teardown(() => restarted.close());
  const client2 = createLocalTasksClient(restarted.endpoint);
  t.teardown(() => client2.close());
  t.is((await client2.getQueue({ name: queue }))[0].state, 'PAUSED');
  await client2.resumeQueue({ name: queue });
  await waitFor(() => target.received.length === 20, 'all 20 acknowledged tasks delivered');
  t.deepEqual(new Set(target.received.map((r) => r.headers['x-cloudtasks-taskname'])), new Set([...Array(20).keys()].map((i) => `k-${i}`)));
});
