/**
 * Creation at fleet scale (issue 19): 100 tenants with one environment each,
 * created as a burst through the API (every `POST /api/v1/tenants` sent at
 * once), timed until every one announced `tenant_ready` and its URL answers 200.
 * Target ≤ 12 s on the 2-core machine. Baseline (the floor): 100 sample tenant
 * processes spawned at once, until each one's /health answers.
 *
 * Run directly: `npx tsx bench/create-hundred.ts [tenants]`.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { freePort } from '../scripts/dev/processes.ts';
import { spawnSampleTenant } from './lib/floor.ts';
import { ensureEmulators, startBenchPlatform } from './lib/platform.ts';
import type { BenchReport } from './lib/report.ts';
import { addEventGaps, summarize } from './lib/stats.ts';
import { boundSeconds, partFigures, startCpuMeter } from './lib/cpu.ts';
import type { TenantEvent } from '../shared/tenants/types.ts';

/** Polls `url` until it answers 200 (a refused connection or another status is tried again). */
async function until200(url: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(
      async (r) => (await r.arrayBuffer(), r.status === 200),
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`benchCreateHundred: ${url} did not answer 200 in time`);
}

/** The floor: `count` sample tenants spawned at once; ms until the last one's /health answered. */
export async function spawnManyToHealthy(count: number): Promise<number> {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const started = performance.now();
  try {
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    for (const port of ports) {
      const dir = `/tmp/tp-bench-floor-${port}`;
      dirs.push(dir);
      children.push(spawnSampleTenant(port, dir));
    }
    const deadline = Date.now() + 120_000;
    await Promise.all(ports.map((port) => until200(`http://127.0.0.1:${port}/health`, deadline)));
    return performance.now() - started;
  } finally {
    for (const child of children) child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** The last tenant's events, in seconds since the burst began, and when its stream and its URL answered. */
function slowestNote(slowest: { id: string; events: TenantEvent[]; streamedMs: number; readyMs: number }, startedAt: number): string {
  const at = (ms: number) => (ms / 1000).toFixed(1);
  const events = slowest.events.map((e) => `${e.type} ${at(Date.parse(e.at) - startedAt)}`).join(', ');
  return `slowest tenant ${slowest.id}, in s since the burst began: ${events}; its stream handed over tenant_ready at ${at(slowest.streamedMs)}, its URL answered at ${at(slowest.readyMs)}`;
}

export async function benchCreateHundred(opts: { tenants?: number } = {}): Promise<BenchReport> {
  const count = opts.tenants ?? 100;
  const stopEmulators = await ensureEmulators();
  try {
    const floorCpu = startCpuMeter();
    const floorMs = await spawnManyToHealthy(count);
    const floorAccount = floorCpu.stop();
    // One event stream per tenant of the burst, all the bench user's: over the default 10 per user, the others would wait on 429s.
    const platform = await startBenchPlatform({ env: { STREAMS_PER_USER: String(count + 10) } });
    try {
      // No warm-up launch: the stack's plan and port range hold exactly 100 environments, and a burst pays its warm-up once anyway.
      const cpu = startCpuMeter();
      const started = performance.now();
      const startedAt = Date.now();
      const readyAfter: number[] = [];
      /** The tenant ready last, to tell a slow stream from a slow operation when one lags far behind the rest. */
      let slowest: { id: string; events: TenantEvent[]; streamedMs: number; readyMs: number } | undefined;
      const gaps: Record<string, number[]> = {};
      await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const tenant = await platform.createTenant(`burst-${i}`);
          const events = await platform.waitReady(tenant.id, 300_000);
          const streamedMs = performance.now() - started;
          addEventGaps(gaps, events);
          const url = events.find((e) => e.type === 'environment_ready')?.data?.url as string | undefined;
          if (!url) throw new Error(`benchCreateHundred: no environment URL in the events of ${tenant.id}`);
          await until200(url, Date.now() + 120_000);
          const readyMs = performance.now() - started;
          readyAfter.push(readyMs);
          if (!slowest || readyMs > slowest.readyMs) slowest = { id: tenant.id, events, streamedMs, readyMs };
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const account = cpu.stop();
      const each = summarize(readyAfter);
      const report: BenchReport = {
        name: 'creation at scale (local driver)',
        figures: {
          createHundredSeconds: {
            value: seconds,
            unit: 's',
            baseline: floorMs / 1000,
            baselineLabel: `${count} bare spawns at once → all /health`,
          },
          createHundredReadyP50: { value: each.p50 / 1000, unit: 's' },
          tenantsCreated: { value: count, unit: 'tenants' },
        },
        notes: [
          `createHundredSeconds: ${count} POST /api/v1/tenants sent at once (one environment each), until every URL answered 200; target ≤ 12 s`,
          'createHundredReadyP50: when the median tenant of the burst was ready, from the first request',
          'gap.<event>P50/P95: from the event before it to this one (event timestamps), over the burst',
          ...(slowest ? [slowestNote(slowest, startedAt)] : []),
        ],
      };
      if (account && floorAccount) {
        report.figures.createHundredCpuBound = {
          value: boundSeconds(account),
          unit: 's',
          baseline: seconds,
          baselineLabel: 'createHundredSeconds',
        };
        report.figures.floorCpuBound = {
          value: boundSeconds(floorAccount),
          unit: 's',
          baseline: floorMs / 1000,
          baselineLabel: 'the floor',
        };
        Object.assign(report.figures, partFigures(account));
        report.notes!.push(
          'createHundredCpuBound, floorCpuBound: the CPU time of the burst, and of the floor, spread over every core (other work on the machine left out), against the time each took: the least each could take here (bench/lib/cpu.ts)',
          'cpu.<part>Seconds: CPU seconds of each part during the burst; stack includes the bench client',
        );
      }
      for (const [type, samples] of Object.entries(gaps)) {
        const s = summarize(samples);
        report.figures[`gap.${type}P50`] = { value: s.p50, unit: 'ms' };
        report.figures[`gap.${type}P95`] = { value: s.p95, unit: 'ms' };
      }
      return report;
    } finally {
      await platform.close();
    }
  } finally {
    await stopEmulators();
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib/report.ts');
  const report = await benchCreateHundred({ tenants: process.argv[2] ? Number(process.argv[2]) : undefined });
  console.log(formatTable([report]));
  process.exit(0);
}
