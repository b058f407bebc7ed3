/**
 * Cold start of each function as Cloud Run functions start it: a new process
 * running functions-framework with `--target=<name>`, timed from spawn until
 * the function's own edge answers its first request. Bundled
 * (`dist/functions/<name>/index.js`, from `npm run build`) against the
 * unbundled TypeScript entry loaded through tsx (the baseline), plus the
 * bundle sizes.
 *
 * No function has a route that answers 200 without touching a dependency, so
 * "answers" means: the first HTTP response carrying our `X-Request-Id` on a
 * probe path (a 404 from the function's router). That response proves the
 * module graph is loaded and the edge ran, and involves no network call.
 *
 * Run directly: `npx tsx bench/cold-start.ts [runs]`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FRAMEWORK } from '../scripts/dev/bundles.ts';
import { freePort } from '../scripts/dev/processes.ts';
import type { BenchReport } from './lib/report.ts';
import { summarize } from './lib/stats.ts';

const root = resolve(import.meta.dirname, '..');

/** Every function with an entry (`functions/<name>/index.ts`). */
export function listFunctions(): string[] {
  return readdirSync(join(root, 'functions'))
    .filter((n) => existsSync(join(root, 'functions', n, 'index.ts')))
    .sort();
}

const bundlePath = (name: string) => join(root, 'dist/functions', name, 'index.js');

/** Builds the bundles afresh (a stale one would time old code), with the project's own build script. */
function ensureBundles(names: string[]): void {
  const missing = names;
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/build.ts'), ...missing], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`benchColdStart: \`npm run build\` failed for ${missing.join(', ')}; fix the build first`);
}

/** Spawns functions-framework and returns ms until the function's edge answers, then kills it. */
async function timeStart(name: string, source: string, viaTsx: boolean, timeoutMs = 60_000): Promise<number> {
  const port = await freePort();
  // Not the bench's NODE_EXTRA_CA_CERTS (set on these machines; Cloud Run sets none): reading it costs every start about 70 ms.
  const { NODE_EXTRA_CA_CERTS: _ca, ...inherited } = process.env;
  const env = {
    ...inherited,
    TP_ENV: 'development',
    LOG_LEVEL: 'error',
    METADATA_SERVER_DETECTION: 'none',
    // Emulator addresses, so the function builds its handler as it would with credentials; the probe reaches none of them.
    FIRESTORE_EMULATOR_HOST: '127.0.0.1:9',
    FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9',
    TASKS_EMULATOR_HOST: '127.0.0.1:9',
    NODE_OPTIONS: [process.env.NODE_OPTIONS, viaTsx ? '--import=tsx' : ''].filter(Boolean).join(' '),
  };
  if (!viaTsx) env.NODE_OPTIONS = (process.env.NODE_OPTIONS ?? '').replace(/--import[= ](tsx|\S*tsx\S*)/g, '').trim();
  const started = performance.now();
  const child = spawn(process.execPath, [FRAMEWORK, `--target=${name}`, `--source=${source}`, `--port=${port}`], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  try {
    while (performance.now() - started < timeoutMs) {
      if (child.exitCode !== null) throw new Error(`benchColdStart: ${name} (${source}) exited with ${child.exitCode}: ${stderr}`);
      const answered = await fetch(`http://127.0.0.1:${port}/__bench/cold-start-probe`).then(
        async (r) => (await r.arrayBuffer(), r.headers.has('x-request-id')),
        () => false,
      );
      if (answered) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`benchColdStart: ${name} (${source}) did not answer within ${timeoutMs} ms: ${stderr}`);
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

export async function benchColdStart(opts: { runs?: number; functions?: string[] } = {}): Promise<BenchReport> {
  const runs = opts.runs ?? 3;
  const names = opts.functions ?? listFunctions();
  ensureBundles(names);
  const report: BenchReport = {
    name: 'cold start (functions-framework)',
    figures: {},
    notes: [
      `median of ${runs} starts each, alternating bundled and unbundled`,
      'baseline: the same function from its TypeScript entry through tsx',
    ],
  };
  const helloAll: number[] = [];
  for (const name of names) {
    // The baseline is timed between this function's starts, so a machine whose load drifts skews both alike.
    const hello: number[] = [];
    const bundled: number[] = [];
    const unbundled: number[] = [];
    for (let i = 0; i < runs; i++) {
      bundled.push(await timeStart(name, join('dist/functions', name), false));
      hello.push(await timeStart('helloWorld', 'bench/fixtures/hello-world.js', false));
      unbundled.push(await timeStart(name, join('functions', name, 'index.ts'), true));
    }
    report.figures[`${name}.start`] = {
      value: summarize(bundled).p50,
      unit: 'ms',
      baseline: summarize(unbundled).p50,
      baselineLabel: 'tsx, unbundled',
    };
    report.figures[`${name}.bundle`] = { value: statSync(bundlePath(name)).size / 1024, unit: 'KiB' };
    report.figures[`coldStart.${name}`] = {
      value: summarize(bundled).p50,
      unit: 'ms',
      baseline: summarize(hello).p50,
      baselineLabel: 'helloWorld: one line on the same functions-framework',
    };
    helloAll.push(...hello);
  }
  report.figures['coldStart.helloWorld'] = { value: summarize(helloAll).p50, unit: 'ms' };
  return report;
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib/report.ts');
  console.log(formatTable([await benchColdStart({ runs: process.argv[2] ? Number(process.argv[2]) : undefined })]));
}
