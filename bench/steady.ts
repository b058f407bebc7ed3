/**
 * Steady state with many tenants (SPEC U1: 100+ customers, sub-second
 * answers): N tenant environments running on the local driver, then the
 * latency of `GET /api/v1/tenants/{id}` (through the gateway: token check,
 * authorization, one Firestore read) and of a request to an environment URL,
 * and the resident memory of each environment's process (from /proc).
 * Baseline for the GET: the same Firestore document read directly in the
 * process that hosts the gateway.
 *
 * Run directly: `npx tsx bench/steady.ts [environments] [requests]`.
 */
import { join } from 'node:path';
import { readRssBytes } from '../shared/runtime/local/metrics.ts';
import { ensureEmulators, runtimePids, startBenchPlatform } from './lib/platform.ts';
import type { BenchReport } from './lib/report.ts';
import { mapLimit, summarize, timeMs } from './lib/stats.ts';

export async function benchSteady(opts: { environments?: number; requests?: number; parallel?: number } = {}): Promise<BenchReport> {
  const count = opts.environments ?? 100;
  const requests = opts.requests ?? 300;
  const stopEmulators = await ensureEmulators();
  const platform = await startBenchPlatform();
  const { stack, user } = platform;
  try {
    const createStarted = performance.now();
    const tenants = await mapLimit([...Array(count).keys()], opts.parallel ?? 6, async (i) => {
      const tenant = await platform.createTenant(`steady-${i}`);
      const events = await platform.waitReady(tenant.id, 300_000);
      return { id: tenant.id, url: events.find((e) => e.type === 'environment_ready')?.data?.url as string };
    });
    const createSeconds = (performance.now() - createStarted) / 1000;

    const pick = (i: number) => tenants[(i * 7919) % tenants.length];
    const get: number[] = [];
    const env: number[] = [];
    const bare: number[] = [];
    // Interleaved, so a burst of background load hits all three series alike.
    for (let i = 0; i < requests; i++) {
      const t = pick(i);
      get.push(
        await timeMs(async () => {
          const res = await stack.fetch(`/api/v1/tenants/${t.id}`, { token: user.token });
          if (res.status !== 200) throw new Error(`GET tenant answered ${res.status}`);
          await res.arrayBuffer();
        }),
      );
      env.push(
        await timeMs(async () => {
          const res = await fetch(t.url);
          if (res.status !== 200) throw new Error(`${t.url} answered ${res.status}`);
          await res.arrayBuffer();
        }),
      );
      bare.push(await timeMs(() => stack.deps.db.doc(`tenants/${t.id}`).get()));
    }

    const pids = await runtimePids(join(stack.dataDir, 'runtime'));
    const rss = [...pids.values()].map((pid) => (readRssBytes(pid) ?? NaN) / 1_048_576).filter(Number.isFinite);
    if (rss.length < count) throw new Error(`benchSteady: expected ${count} running environments, found ${rss.length}`);
    const g = summarize(get);
    const e = summarize(env);
    const b = summarize(bare);
    const m = summarize(rss);
    return {
      name: `steady (${count} environments)`,
      figures: {
        getTenantP50: { value: g.p50, unit: 'ms', baseline: b.p50, baselineLabel: 'bare Firestore read' },
        getTenantP95: { value: g.p95, unit: 'ms', baseline: b.p95, baselineLabel: 'bare Firestore read' },
        environmentRequestP50: { value: e.p50, unit: 'ms' },
        environmentRequestP95: { value: e.p95, unit: 'ms' },
        rssPerEnvironmentP50: { value: m.p50, unit: 'MiB' },
        rssPerEnvironmentMax: { value: m.max, unit: 'MiB' },
        rssAllEnvironments: { value: rss.reduce((a, v) => a + v, 0), unit: 'MiB' },
        createAllSeconds: { value: createSeconds, unit: 's' },
      },
      notes: [`${requests} requests of each kind, interleaved, one at a time`, `tenants created ${opts.parallel ?? 6} at a time`],
    };
  } finally {
    await platform.close();
    await stopEmulators();
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib/report.ts');
  const report = await benchSteady({
    environments: process.argv[2] ? Number(process.argv[2]) : undefined,
    requests: process.argv[3] ? Number(process.argv[3]) : undefined,
  });
  console.log(formatTable([report]));
  process.exit(0);
}
