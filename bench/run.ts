/**
 * `npm run bench [names…]`: runs the benchmarks (all, or those named), prints
 * the machine and a table (figure, value, baseline, ratio), and writes
 * `bench/results/<timestamp>.json`, `latest.json` and `latest.md`. Starts the
 * Firestore and Auth emulators once for all of them (unless the environment
 * already points at running ones) and stops everything it started.
 * Not part of `npm test`: it takes minutes and its numbers depend on the machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { benchBilling } from './billing.ts';
import { benchCloudTasks } from './cloud-tasks.ts';
import { benchColdStart } from './cold-start.ts';
import { benchCreateHundred } from './create-hundred.ts';
import { benchLaunch } from './launch.ts';
import { benchRollout } from './rollout.ts';
import { ensureEmulators } from './lib/platform.ts';
import { formatMarkdown, formatTable, fromPlain, type BenchReport } from './lib/report.ts';
import { benchPortal } from './portal.ts';
import { benchSignup } from './signup.ts';
import { benchSleep } from './sleep.ts';
import { benchSteady } from './steady.ts';
import { stopAll } from '../scripts/dev/processes.ts';

/** Every benchmark by the name given on the command line, in the order a full run takes them. */
const BENCHMARKS: Record<string, () => Promise<BenchReport>> = {
  'cold-start': () => benchColdStart(),
  launch: () => benchLaunch(),
  'create-hundred': () => benchCreateHundred(),
  steady: () => benchSteady(),
  signup: () => benchSignup(),
  sleep: () => benchSleep(),
  rollout: () => benchRollout(),
  'cloud-tasks': async () => fromPlain(await benchCloudTasks()),
  billing: async () => fromPlain(await benchBilling()),
  portal: () => benchPortal(),
};

function describeMachine() {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    /** Other work on the machine skews every figure; the 1-minute load average at the start says how much there was. */
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
  };
}

async function main(argv: string[]): Promise<number> {
  const names = argv.length ? argv : Object.keys(BENCHMARKS);
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length) {
    console.error(`Unknown benchmark(s): ${unknown.join(', ')}. Known: ${Object.keys(BENCHMARKS).join(', ')}.`);
    return 2;
  }
  const machine = describeMachine();
  console.log(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${machine.loadAverage1m}`,
  );
  const startedAt = new Date();
  const stopEmulators = await ensureEmulators((line) => console.log(line));
  const reports: BenchReport[] = [];
  const failures: { name: string; error: string }[] = [];
  try {
    for (const name of names) {
      console.log(`▶ ${name}…`);
      const started = performance.now();
      try {
        const report = await BENCHMARKS[name]();
        reports.push(report);
        console.log(`  done in ${Math.round((performance.now() - started) / 1000)} s`);
      } catch (err) {
        failures.push({ name, error: (err as Error).stack ?? String(err) });
        console.error(`  ✖ ${name} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    await stopEmulators();
  }
  console.log(`\n${formatTable(reports)}`);
  for (const r of reports) for (const note of r.notes ?? []) console.log(`  · ${r.name}: ${note}`);

  const dir = resolve(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const result = { machine, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), reports, failures };
  const file = join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(
    join(dir, 'latest.md'),
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${machine.loadAverage1m} at start\n\n${formatMarkdown(reports)}\n`,
  );
  console.log(`\nResults: ${file} (also latest.json, latest.md)`);
  if (failures.length) console.error(`✖ ${failures.length} benchmark(s) failed: ${failures.map((f) => f.name).join(', ')}`);
  return failures.length ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll().then(() => process.exit(130)));
process.exit(await main(process.argv.slice(2)));
