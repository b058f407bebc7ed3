/**
 * Sleep and wake on the local runtime (issue 19), on the local driver itself:
 * - `wakeP50`/`wakeP95`: a request to a sleeping environment until its answer
 *   (the process started, /health answered, the request forwarded). Baseline:
 *   the spawn floor of bench/launch.ts, the sample tenant spawned directly
 *   until /health answers.
 * - `rssIdleFleet`: 100 environments of which 90 sleep — the resident memory
 *   of the 10 processes still running plus what the driver's fronts hold for
 *   all 100. Baseline: the same 100 all awake.
 * - `frontKiBPerEnvironment`: what one front (the listener that holds a
 *   sleeping environment's port in the driver's process) costs.
 *
 * Run directly: `npx tsx bench/sleep.ts [environments] [wakes]`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createLocalDriver, type LocalDriver } from '../shared/runtime/local/index.ts';
import { readRssBytes } from '../shared/runtime/local/metrics.ts';
import { createFronts } from '../shared/runtime/local/sleep.ts';
import type { EnvironmentRef } from '../shared/runtime/types.ts';
import { allocatePorts } from '../testing/ports.ts';
import { spawnToHealthy } from './launch.ts';
import type { BenchReport } from './lib/report.ts';
import { mapLimit, summarize, timeMs } from './lib/stats.ts';

const MiB = 1_048_576;
const SHORT_IDLE_MS = 2_000;
const LONG_IDLE_MS = 3_600_000;

async function records(dataDir: string): Promise<Record<string, { pid?: number; sleepingSince?: string }>> {
  return JSON.parse(await readFile(join(dataDir, 'runtime-state.json'), 'utf8')).environments;
}

/** Resident memory of the running workloads of `dataDir`, in MiB, and how many run. */
async function workloadRss(dataDir: string): Promise<{ mib: number; running: number }> {
  const pids = Object.values(await records(dataDir)).flatMap((r) => (r.pid ? [r.pid] : []));
  const rss = pids.map((pid) => readRssBytes(pid) ?? 0);
  return { mib: rss.reduce((a, b) => a + b, 0) / MiB, running: rss.filter((b) => b > 0).length };
}

/** RSS growth of this process per front, over `count` fronts on ports the OS picks, garbage collected before each reading. */
async function frontBytes(count: number): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const fronts = createFronts({ route: async () => ({ kind: 'gone' }), sleep: async () => false, report: async () => {} });
  gc();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < count; i++) await fronts.open(`f${i}`, '127.0.0.1', 0, LONG_IDLE_MS);
  gc();
  const after = process.memoryUsage().rss;
  await fronts.closeAll();
  return Math.max(0, after - before) / count;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`benchSleep: timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function benchSleep(opts: { environments?: number; wakes?: number } = {}): Promise<BenchReport> {
  const count = opts.environments ?? 100;
  const sleepers = Math.round(count * 0.9);
  const wakes = Math.min(opts.wakes ?? 20, sleepers);
  const root = await mkdtemp(join(tmpdir(), 'tp-bench-sleep-'));
  const dataDir = join(root, 'runtime');
  const portRange = await allocatePorts(count + 5);
  const refs: EnvironmentRef[] = [...Array(count).keys()].map((i) => ({ ownerId: 'bench', tenantId: `sleep-${i}`, env: 'demo' }));
  const sleeps = (ref: EnvironmentRef) => Number(ref.tenantId.split('-')[1]) < sleepers;
  const drivers: LocalDriver[] = [];
  const open = (idle: (ref: EnvironmentRef) => number) => {
    const driver = createLocalDriver({ dataDir, portRange, stopTimeoutMs: 3000, idleSleepMs: idle });
    drivers.push(driver);
    return driver;
  };
  try {
    const floor: number[] = [];
    for (let i = 0; i < 10; i++) floor.push(await spawnToHealthy());

    // All awake, behind their fronts, with an idle time none reaches: the baseline.
    const first = open(() => LONG_IDLE_MS);
    const urls = await mapLimit(refs, 6, async (ref) => {
      const spec = { ...ref, image: 'sample-tenant:bench', memoryMb: 256, vars: {}, secrets: {}, labels: {} };
      await first.ensureInfrastructure(spec);
      await first.deploy(spec);
      return (await first.waitReady(ref, { timeoutMs: 120_000 })).url!;
    });
    await Promise.all(urls.map((url) => fetch(url).then((r) => r.arrayBuffer())));
    const awake = await workloadRss(dataDir);
    if (awake.running !== count) throw new Error(`benchSleep: expected ${count} running environments, found ${awake.running}`);
    const perFront = await frontBytes(1000);

    // A restarted control plane with a short idle time for 90 of them: they fall asleep.
    await first.close();
    const driver = open((ref) => (sleeps(ref) ? SHORT_IDLE_MS : LONG_IDLE_MS));
    await driver.adopted;
    const asleep = async () => Object.values(await records(dataDir)).filter((r) => r.sleepingSince).length;
    await waitUntil(`${sleepers} environments sleep`, async () => (await asleep()) === sleepers, 120_000);
    const idle = await workloadRss(dataDir);
    const fleetFronts = (count * perFront) / MiB;

    const wake: number[] = [];
    for (let i = 0; i < wakes; i++) {
      wake.push(
        await timeMs(async () => {
          const res = await fetch(urls[i]);
          if (res.status !== 200) throw new Error(`benchSleep: waking ${urls[i]} answered ${res.status}`);
          await res.arrayBuffer();
        }),
      );
    }
    const w = summarize(wake);
    const f = summarize(floor);
    return {
      name: `sleep and wake (${count} environments, ${sleepers} asleep)`,
      figures: {
        wakeP50: { value: w.p50, unit: 'ms', baseline: f.p50, baselineLabel: 'spawn sample tenant → /health' },
        wakeP95: { value: w.p95, unit: 'ms', baseline: f.p95, baselineLabel: 'spawn sample tenant → /health' },
        rssIdleFleet: { value: idle.mib + fleetFronts, unit: 'MiB', baseline: awake.mib, baselineLabel: `all ${count} awake` },
        runningWhileIdle: { value: idle.running, unit: 'processes' },
        frontKiBPerEnvironment: { value: perFront / 1024, unit: 'KiB' },
      },
      notes: [
        `${wakes} wakes, one at a time, each a GET of the page of a sleeping environment until its body arrived`,
        `rssIdleFleet: the ${idle.running} running processes plus ${count} fronts in the driver's process`,
        'on the local driver directly: in the platform a wake also reads the secrets from Firestore',
      ],
    };
  } finally {
    for (const d of drivers) await d.stopAll().catch(() => {});
    for (const d of drivers) await d.close().catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib/report.ts');
  const report = await benchSleep({
    environments: process.argv[2] ? Number(process.argv[2]) : undefined,
    wakes: process.argv[3] ? Number(process.argv[3]) : undefined,
  });
  console.log(formatTable([report]));
  process.exit(0);
}
