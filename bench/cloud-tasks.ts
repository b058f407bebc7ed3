/**
 * Benchmark of the local Cloud Tasks server: create→dispatch latency
 * (p50/p95, ms, measured from the moment CreateTask is sent until the target
 * receives the request) and sustained throughput (tasks/s delivered with
 * the rate limits raised to the API maximum: 500/s, 5000 concurrent).
 *
 * Run directly: `npx tsx bench/cloud-tasks.ts [tasks]`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalTasksClient } from '../emulators/cloud-tasks/client.ts';
import { startCloudTasksServer } from '../emulators/cloud-tasks/server.ts';

/** One benchmark's figures. */
export interface BenchResult {
  name: string;
  figures: Record<string, number>;
  unit: Record<string, string>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Measures latency and throughput with `tasks` tasks (default 1000). */
export async function benchCloudTasks(opts: { tasks?: number } = {}): Promise<BenchResult> {
  const count = opts.tasks ?? 1000;
  const arrivals = new Map<string, number>();
  const target = createServer((req, res) => {
    arrivals.set(String(req.headers['x-cloudtasks-taskname']), performance.now());
    req.resume();
    req.on('end', () => res.end());
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
  const server = await startCloudTasksServer({ log: () => undefined });
  const client = createLocalTasksClient(server.endpoint);
  const parent = 'projects/bench/locations/local';
  const limits = { maxDispatchesPerSecond: 500, maxConcurrentDispatches: 5000 };
  try {
    const waitForArrivals = async (ids: string[], timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (ids.some((id) => !arrivals.has(id))) {
        if (Date.now() > deadline) throw new Error(`benchCloudTasks: tasks not delivered within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };

    // Latency: one task at a time, so queueing inside the server does not count.
    const latencyQueue = `${parent}/queues/latency`;
    await client.createQueue({ parent, queue: { name: latencyQueue, rateLimits: limits } });
    const latencies: number[] = [];
    const samples = Math.min(200, count);
    for (let i = 0; i < samples; i++) {
      const id = `lat-${i}`;
      const sentAt = performance.now();
      await client.createTask({ parent: latencyQueue, task: { name: `${latencyQueue}/tasks/${id}`, httpRequest: { url } } });
      await waitForArrivals([id], 10_000);
      latencies.push(arrivals.get(id)! - sentAt);
    }
    latencies.sort((a, b) => a - b);

    // Throughput: create all on a paused queue, then resume and time delivery.
    const throughputQueue = `${parent}/queues/throughput`;
    await client.createQueue({ parent, queue: { name: throughputQueue, rateLimits: limits } });
    await client.pauseQueue({ name: throughputQueue });
    const ids = [...Array(count).keys()].map((i) => `thr-${i}`);
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(
        ids
          .slice(i, i + 100)
          .map((id) =>
            client.createTask({ parent: throughputQueue, task: { name: `${throughputQueue}/tasks/${id}`, httpRequest: { url } } }),
          ),
      );
    }
    const startedAt = performance.now();
    await client.resumeQueue({ name: throughputQueue });
    await waitForArrivals(ids, 120_000);
    const seconds = (performance.now() - startedAt) / 1000;

    return {
      name: 'cloud-tasks emulator',
      figures: {
        createToDispatchP50: Number(percentile(latencies, 50).toFixed(2)),
        createToDispatchP95: Number(percentile(latencies, 95).toFixed(2)),
        sustainedTasksPerSecond: Number((count / seconds).toFixed(1)),
        tasks: count,
      },
      unit: { createToDispatchP50: 'ms', createToDispatchP95: 'ms', sustainedTasksPerSecond: 'tasks/s', tasks: 'tasks' },
    };
  } finally {
    await client.close();
    await server.close();
    await new Promise<void>((resolve) => {
      target.closeAllConnections();
      target.close(() => resolve());
    });
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const tasks = process.argv[2] ? Number(process.argv[2]) : undefined;
  const result = await benchCloudTasks({ tasks });
  console.log(result.name);
  for (const [key, value] of Object.entries(result.figures))
    console.log(`  ${key.padEnd(26)} ${String(value).padStart(10)} ${result.unit[key]}`);
}
