/**
 * Launch latency (SPEC U1: < 30 s from click to a working environment): N
 * tenants, one after another, each `POST /api/v1/tenants` with `['live']`
 * until its environment URL answers 200, on the local runtime driver. The
 * stages come from the event timestamps; the baseline is the floor — the
 * sample tenant process spawned directly until its /health answers.
 *
 * Run directly: `npx tsx bench/launch.ts [launches]`.
 */
import { cpus } from 'node:os';
import { freePort } from '../scripts/dev/processes.ts';
import type { TenantEvent } from '../shared/tenants/types.ts';
import { spawnSampleTenant } from './lib/floor.ts';
import { ensureEmulators, startBenchPlatform } from './lib/platform.ts';
import type { BenchReport } from './lib/report.ts';
import { addEventGaps, summarize } from './lib/stats.ts';
import { CPU_PARTS, platformSeconds, startCpuMeter, type CpuAccount, type CpuPart } from './lib/cpu.ts';

const STAGES = [
  ['api', 'request sent → provisioning_requested'],
  ['queueHop', 'provisioning_requested → provisioning_started'],
  ['infrastructure', 'provisioning_started → deploy_started'],
  ['processStart', 'deploy_started → environment_ready (spawn and readiness probe)'],
  ['healthCheck', 'environment_ready → the URL answers 200 at the client'],
] as const;

/** Spawns the sample tenant directly and waits for /health: what no control plane can beat. */
export async function spawnToHealthy(): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawnSampleTenant(port, `/tmp/tp-bench-floor-${port}`);
  try {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('benchLaunch: the sample tenant did not answer /health within 15 s');
  } finally {
    child.kill('SIGKILL');
  }
}

/** Median milliseconds of CPU of the platform's processes (other work on the machine left out), or of one part; NaN without /proc. */
const cpuP50 = (accounts: (CpuAccount | undefined)[], part?: CpuPart) =>
  summarize(accounts.map((a) => (a ? (part ? a.parts[part] : platformSeconds(a)) * 1000 : Number.NaN))).p50;

async function waitFor200(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(
      async (r) => (await r.arrayBuffer(), r.status === 200),
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`benchLaunch: ${url} did not answer 200 within ${timeoutMs} ms`);
}

export async function benchLaunch(opts: { launches?: number } = {}): Promise<BenchReport> {
  const launches = opts.launches ?? 20;
  const stopEmulators = await ensureEmulators();
  const platform = await startBenchPlatform();
  try {
    const floor: number[] = [];

    // One launch first, not counted: it pays for connection pools, the queue's first dispatch and JIT warm-up once.
    await platform.waitReady((await platform.createTenant('launch-warmup')).id);

    const totals: number[] = [];
    /** CPU of the platform's processes per launch (bench/lib/cpu.ts), other work on the machine left out. */
    const cpuOne: (CpuAccount | undefined)[] = [];
    const cpuAll: (CpuAccount | undefined)[] = [];
    /** Per event type: ms since the event before it, to show which step inside a stage costs the time. */
    const gaps: Record<string, number[]> = {};
    const stageMs: Record<string, number[]> = Object.fromEntries(STAGES.map(([k]) => [k, []]));
    for (let i = 0; i < launches; i++) {
      // The floor is timed between the launches, so a machine whose load drifts skews both alike.
      floor.push(await spawnToHealthy());
      const sentAt = Date.now();
      const cpu = startCpuMeter(0);
      const started = performance.now();
      const tenant = await platform.createTenant(`launch-${i}`);
      const events = await platform.waitReady(tenant.id);
      const at = (type: string) => Date.parse(events.find((e: TenantEvent) => e.type === type)?.at ?? 'x');
      const url = events.find((e) => e.type === 'environment_ready')?.data?.url as string | undefined;
      if (!url) throw new Error(`benchLaunch: no environment URL in the events of ${tenant.id}`);
      await waitFor200(url, 30_000);
      totals.push(performance.now() - started);
      cpuOne.push(cpu.stop());
      const answeredAt = Date.now();
      const marks = [
        sentAt,
        at('provisioning_requested'),
        at('provisioning_started'),
        at('deploy_started'),
        at('environment_ready'),
        answeredAt,
      ];
      STAGES.forEach(([key], s) => stageMs[key].push(marks[s + 1] - marks[s]));
      addEventGaps(gaps, events);
    }

    // The default launch: demo, test and live of one tenant at once, until every URL answers 200.
    const allTotals: number[] = [];
    /** Three bare spawns at once until all answer: what the three environments' own starts cost on this machine. */
    const floorAll: number[] = [];
    for (let i = 0; i < Math.max(3, Math.round(launches / 2)); i++) {
      const floorStarted = performance.now();
      await Promise.all([spawnToHealthy(), spawnToHealthy(), spawnToHealthy()]);
      floorAll.push(performance.now() - floorStarted);
      const cpu = startCpuMeter(0);
      const started = performance.now();
      const tenant = await platform.createTenant(`launch-all-${i}`, ['demo', 'test', 'live']);
      const events = await platform.waitReady(tenant.id);
      const urls = events.filter((e) => e.type === 'environment_ready').map((e) => e.data?.url as string);
      if (urls.length !== 3) throw new Error(`benchLaunch: ${tenant.id} announced ${urls.length} environments, not 3`);
      await Promise.all(urls.map((url) => waitFor200(url, 30_000)));
      allTotals.push(performance.now() - started);
      cpuAll.push(cpu.stop());
    }

    const total = summarize(totals);
    const floorSummary = summarize(floor);
    const sumOfMeans = STAGES.reduce((sum, [k]) => sum + summarize(stageMs[k]).mean, 0);
    const report: BenchReport = {
      name: 'launch (local driver)',
      figures: {
        launchP50: { value: total.p50, unit: 'ms', baseline: floorSummary.p50, baselineLabel: 'spawn sample tenant → /health' },
        launchP95: { value: total.p95, unit: 'ms', baseline: floorSummary.p95, baselineLabel: 'spawn sample tenant → /health' },
        launches: { value: launches, unit: 'launches' },
        launchAllP50: {
          value: summarize(allTotals).p50,
          unit: 'ms',
          baseline: total.p50,
          baselineLabel: 'launchP50 (one environment)',
        },
        launchCpuP50: { value: cpuP50(cpuOne), unit: 'ms' },
        launchAllCpuP50: {
          value: cpuP50(cpuAll),
          unit: 'ms',
          baseline: cpuP50(cpuOne),
          baselineLabel: 'launchCpuP50 (one environment)',
        },
        launchAllFloorP50: {
          value: summarize(floorAll).p50,
          unit: 'ms',
          baseline: floorSummary.p50,
          baselineLabel: 'spawn sample tenant → /health (one)',
        },
      },
      notes: [
        'one warm-up launch before the measured ones is not counted',
        `launchAllP50: ${allTotals.length} launches of demo, test and live at once, until all three answer`,
        `launchCpuP50, launchAllCpuP50: CPU time of the platform's processes (stack with the bench client, tenants, emulators, PostgreSQL) during a launch; on ${cpus().length} cores a launch cannot take less than its CPU time divided by ${cpus().length}`,
        'launchAllFloorP50: three sample tenants spawned at once until all three answer /health, timed before each launchAll',
        ...STAGES.map(([k, label]) => `${k}: ${label}`),
      ],
    };
    for (const [key] of STAGES) {
      const s = summarize(stageMs[key]);
      report.figures[`share.${key}`] = { value: (s.mean / sumOfMeans) * 100, unit: '%' };
      report.figures[`stage.${key}P50`] = { value: s.p50, unit: 'ms' };
    }
    for (const part of CPU_PARTS.filter((p) => p !== 'other')) {
      report.figures[`launchCpu.${part}P50`] = { value: cpuP50(cpuOne, part), unit: 'ms' };
      report.figures[`launchAllCpu.${part}P50`] = { value: cpuP50(cpuAll, part), unit: 'ms' };
    }
    for (const [type, samples] of Object.entries(gaps)) report.figures[`gap.${type}P50`] = { value: summarize(samples).p50, unit: 'ms' };
    report.notes!.push('gap.<event>P50: from the event before it to this one (event timestamps), p50 over the single-environment launches');
    return report;
  } finally {
    await platform.close();
    await stopEmulators();
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib/report.ts');
  const report = await benchLaunch({ launches: process.argv[2] ? Number(process.argv[2]) : undefined });
  console.log(formatTable([report]));
  process.exit(0);
}
