import test from 'ava';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDriverConformance } from '../testing/driver-conformance.ts';
import { createLocalDriver, type LocalDriver } from './local.ts';
import { readLogs } from './local-logs.ts';
import type { LocalDriverOptions } from './local-options.ts';
import { findFreePort } from './ports.ts';
import { DriverError, type EnvironmentRef, type EnvironmentSpec } from './types.ts';

const ROOT = await mkdtemp(join(tmpdir(), 'local-driver-'));
const drivers: LocalDriver[] = [];
let dirCount = 0;

function makeSpec(ref: EnvironmentRef, overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return {
    ...ref, image: 'sample-tenant:v1', memoryMb: 256, vars: { GREETING: 'hello' }, secrets: {},
    labels: { 'tenantplane-tenant-id': ref.tenantId, 'tenantplane-env': ref.env }, ...overrides,
  };
}

/** A port range of `size` ports that are free right now, in a random place so parallel test runs rarely meet. */
async function pickRange(size: number): Promise<{ from: number; to: number }> {
  for (;;) {
    const from = 30000 + Math.floor(Math.random() * 25000);
    const { busy } = await findFreePort({ from, to: from + size - 1 }, new Set(), '127.0.0.1');
    if (busy.length === 0) return { from, to: from + size - 1 };
  }
}

async function makeDriver(options: Partial<LocalDriverOptions> = {}): Promise<LocalDriver> {
  dirCount += 1;
  const dataDir = join(ROOT, `d${dirCount}`);
  const driver = createLocalDriver({ dataDir, portRange: await pickRange(50), stopTimeoutMs: 3000, ...options });
  drivers.push(driver);
  dataDirs.set(driver, dataDir);
  return driver;
}

/** Workload processes whose DATA_DIR lies under `prefix`, found through /proc: what really runs, whatever the driver believes. */
function findWorkloads(prefix: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (environ.some((v) => v.startsWith(`DATA_DIR=${prefix}`))) pids.push(Number(entry));
    } catch {
      // Gone, or another user's process.
    }
  }
  return pids;
}

const dataDirs = new WeakMap<LocalDriver, string>();
function dataDirOf(driver: LocalDriver): string {
  return dataDirs.get(driver)!;
}

function dataFolder(dataDir: string, ref: EnvironmentRef): string {
  return join(dataDir, 'envs', `${ref.tenantId}-${ref.env}`, 'data');
}

/** A second driver on an existing dataDir, as a restarted control plane would create it. */
function reopenDriver(dataDir: string, options: Partial<LocalDriverOptions> = {}): LocalDriver {
  const driver = createLocalDriver({ dataDir, ...options });
  drivers.push(driver);
  dataDirs.set(driver, dataDir);
  return driver;
}

async function readPid(dataDir: string, ref: EnvironmentRef): Promise<number | undefined> {
  const state = JSON.parse(await readFile(join(dataDir, 'runtime-state.json'), 'utf8'));
  return state.environments[`${ref.tenantId}-${ref.env}`]?.pid;
}

async function launch(driver: LocalDriver, ref: EnvironmentRef, overrides: Partial<EnvironmentSpec> = {}) {
  const spec = makeSpec(ref, overrides);
  await driver.ensureInfrastructure(spec);
  await driver.deploy(spec);
  return driver.waitReady(ref, { timeoutMs: 30_000 });
}

async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`process ${pid} did not exit`);
}

const visitsOf = async (url: string) => Number(/<dd id="visits">(\d+)<\/dd>/.exec(await (await fetch(url)).text())?.[1]);
let refCount = 0;
const newRef = (env = 'demo'): EnvironmentRef => ({ ownerId: 'owner-1', tenantId: `lt${process.pid}x${(refCount += 1)}`, env });

test.after.always(async () => {
  await Promise.all(drivers.map((d) => d.stopAll().catch(() => {})));
  for (const pid of findWorkloads(ROOT)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await rm(ROOT, { recursive: true, force: true });
});

// Conformance

testDriverConformance(test, {
  name: 'local',
  flags: { logs: true, metrics: true, restart: true, volumes: true },
  async create() {
    const driver = await makeDriver();
    const dataDir = dataDirOf(driver);
    return {
      driver,
      makeSpec,
      reachable: async (url) => fetch(url, { signal: AbortSignal.timeout(2000) }).then(async (r) => { await r.body?.cancel(); return true; }, () => false),
      countInstances: async (ref) => findWorkloads(dataFolder(dataDir, ref)).length,
      cleanup: () => driver.stopAll(),
    };
  },
});

// Data and secrets

test.serial('the data folder persists across suspend and resume', async (t) => {
  const driver = await makeDriver();
  const ref = newRef();
  const { url } = await launch(driver, ref);
  t.is(await visitsOf(url!), 1);
  t.is(await visitsOf(url!), 2);
  await driver.suspend(ref);
  await driver.resume(ref);
  await driver.waitReady(ref, { timeoutMs: 30_000 });
  t.is(await visitsOf(url!), 3);
  t.is(JSON.parse(await readFile(join(dataFolder(dataDirOf(driver), ref), 'visits.json'), 'utf8')).visits, 3);
});

test.serial('secrets reach the process environment but not the state file or the logs', async (t) => {
  const driver = await makeDriver();
  const ref = newRef();
  const secret = `s3cret-${Math.random().toString(36).slice(2)}`;
  const { url } = await launch(driver, ref, { secrets: { JWT_SECRET: secret } });
  const pid = (await readPid(dataDirOf(driver), ref))!;
  t.true(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`JWT_SECRET=${secret}`));
  t.regex(await (await fetch(url!)).text(), /<code>JWT_SECRET<\/code>: set/);
  const state = await readFile(join(dataDirOf(driver), 'runtime-state.json'), 'utf8');
  t.false(state.includes(secret));
  t.true(state.includes('JWT_SECRET'), 'the state names the secret keys so a restart knows what it needs');
  await driver.restart(ref);
  await driver.waitReady(ref, { timeoutMs: 30_000 });
  const lines = await driver.logs!(ref, { limit: 1000 });
  t.true(lines.length > 0);
  t.false(JSON.stringify(lines).includes(secret));
});

test.serial('secrets a workload prints are redacted from the logs it returns', async (t) => {
  const script = join(ROOT, 'leaky.mjs');
  await writeFile(script, `import http from 'node:http';
console.log(new Date().toISOString() + ' my secret is ' + process.env.API_KEY);
http.createServer((q, s) => s.end('{}')).listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => process.exit(0));\n`);
  const driver = await makeDriver({ command: [process.execPath, script] });
  const ref = newRef();
  await launch(driver, ref, { secrets: { API_KEY: 'abcdef-123456' } });
  const texts = (await driver.logs!(ref)).map((l) => l.text);
  t.true(texts.includes('my secret is [redacted]'), texts.join('\n'));
});

// Re-adoption after a control-plane restart

test.serial('a new driver on the same dataDir re-adopts the live process: same pid, no second process', async (t) => {
  const first = await makeDriver();
  const dataDir = dataDirOf(first);
  const ref = newRef();
  const { url } = await launch(first, ref);
  const pid = await readPid(dataDir, ref);
  // The first driver is dropped without stopping anything, as when the control plane dies.
  const second = reopenDriver(dataDir);
  await second.adopted;
  const status = await second.waitReady(ref, { timeoutMs: 30_000 });
  t.is(status.url, url);
  t.is(await readPid(dataDir, ref), pid);
  t.deepEqual(findWorkloads(dataFolder(dataDirOf(second), ref)), [pid]);
});

test.serial('a child killed while the control plane was away is started again, with secrets from the provider', async (t) => {
  const first = await makeDriver();
  const dataDir = dataDirOf(first);
  const ref = newRef();
  const { url } = await launch(first, ref, { secrets: { JWT_SECRET: 'from-deploy' } });
  const pid = (await readPid(dataDir, ref))!;
  process.kill(pid, 'SIGKILL');
  await waitGone(pid);
  const second = reopenDriver(dataDir, { secretsProvider: async () => ({ JWT_SECRET: 'from-provider' }) });
  const status = await second.waitReady(ref, { timeoutMs: 30_000 });
  t.is(status.url, url);
  const newPid = (await readPid(dataDir, ref))!;
  t.not(newPid, pid);
  t.deepEqual(findWorkloads(dataFolder(dataDirOf(second), ref)), [newPid]);
  t.true(readFileSync(`/proc/${newPid}/environ`, 'utf8').split('\0').includes('JWT_SECRET=from-provider'));
});

test.serial('without a secrets provider a dead child that needs secrets is reported failed, naming the keys', async (t) => {
  const first = await makeDriver();
  const dataDir = dataDirOf(first);
  const ref = newRef();
  await launch(first, ref, { secrets: { DATABASE_URL: 'postgres://x' } });
  const pid = (await readPid(dataDir, ref))!;
  process.kill(pid, 'SIGKILL');
  await waitGone(pid);
  const second = reopenDriver(dataDir);
  const status = await second.status(ref);
  t.is(status.state, 'failed');
  t.regex(status.message ?? '', /DATABASE_URL.*secretsProvider/);
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), []);
});

test.serial('a recorded pid that now belongs to another program is never killed', async (t) => {
  const driver = await makeDriver();
  const dataDir = dataDirOf(driver);
  const ref = newRef();
  await launch(driver, ref);
  await driver.stopAll();
  const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
  const file = join(dataDir, 'runtime-state.json');
  const state = JSON.parse(await readFile(file, 'utf8'));
  Object.assign(state.environments[`${ref.tenantId}-${ref.env}`], { pid: stranger.pid, pidStartTicks: undefined, startedAt: new Date().toISOString() });
  await writeFile(file, JSON.stringify(state));
  const second = reopenDriver(dataDir);
  t.true((await second.waitReady(ref, { timeoutMs: 30_000 })).ready);
  await second.destroy(ref);
  t.is(stranger.exitCode, null);
  t.is(stranger.signalCode, null);
  stranger.kill('SIGKILL');
});

// Concurrency

test.serial('concurrent deploys of one environment, from this process and another, yield one process', async (t) => {
  const driver = await makeDriver();
  const dataDir = dataDirOf(driver);
  const ref = newRef();
  const spec = makeSpec(ref);
  const goAt = Date.now() + 4000;
  const script = join(ROOT, 'deploy-twice.mts');
  const localTs = fileURLToPath(new URL('./local.ts', import.meta.url));
  await writeFile(script, `import { createLocalDriver } from ${JSON.stringify(localTs)};
const driver = createLocalDriver({ dataDir: ${JSON.stringify(dataDir)} });
const spec = ${JSON.stringify(spec)};
await new Promise((r) => setTimeout(r, ${goAt} - Date.now()));
await Promise.all([driver.deploy(spec), driver.deploy(spec)]);\n`);
  await driver.ensureInfrastructure(spec);
  const other = spawn(process.execPath, ['--import=tsx/esm', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  other.stderr.on('data', (c) => { stderr += c; });
  const otherDone = new Promise<number | null>((r) => other.once('exit', r));
  await new Promise((r) => setTimeout(r, goAt - Date.now()));
  await Promise.all([driver.deploy(spec), driver.deploy(spec), driver.deploy(spec)]);
  t.is(await otherDone, 0, stderr);
  t.true((await driver.waitReady(ref, { timeoutMs: 30_000 })).ready);
  t.is(findWorkloads(dataFolder(dataDirOf(driver), ref)).length, 1);
});

// Ports

test.serial('ports already used by other programs are skipped and an exhausted range is a clear error', async (t) => {
  const range = await pickRange(3);
  const squatter = createServer();
  await new Promise<void>((r) => squatter.listen(range.from, '127.0.0.1', r));
  try {
    const driver = await makeDriver({ portRange: range });
    const a = await driver.ensureInfrastructure(makeSpec(newRef()));
    const b = await driver.ensureInfrastructure(makeSpec(newRef()));
    t.is(a.url, `http://127.0.0.1:${range.from + 1}`);
    t.is(b.url, `http://127.0.0.1:${range.from + 2}`);
    const error = await t.throwsAsync(() => driver.ensureInfrastructure(makeSpec(newRef())), { instanceOf: DriverError });
    t.regex(error!.message, new RegExp(`no free port left in ${range.from}–${range.to}.*2 reserved by environments, 1 used by other programs.*portRange`));
  } finally {
    squatter.close();
  }
});

test.serial('destroying an environment frees its port for the next one', async (t) => {
  const driver = await makeDriver({ portRange: await pickRange(1) });
  const first = newRef();
  const { url } = await driver.ensureInfrastructure(makeSpec(first));
  await driver.destroy(first);
  t.is((await driver.ensureInfrastructure(makeSpec(newRef()))).url, url);
});

// Usage, shutdown and logs

test.serial('usage adds running time and requests across suspend, and stopAll leaves environments to start again', async (t) => {
  const driver = await makeDriver();
  const ref = newRef();
  const { url } = await launch(driver, ref);
  await fetch(url!).then((r) => r.text());
  await fetch(url!).then((r) => r.text());
  await driver.suspend(ref);
  const afterSuspend = await driver.usage(ref);
  t.is(afterSuspend.requests, 2);
  t.is(afterSuspend.memoryMb, 256);
  t.true(afterSuspend.runningSeconds > 0);
  await driver.resume(ref);
  await driver.waitReady(ref, { timeoutMs: 30_000 });
  await fetch(url!).then((r) => r.text());
  const live = await driver.usage(ref);
  t.is(live.requests, 3);
  t.true(live.runningSeconds > afterSuspend.runningSeconds);
  await driver.stopAll();
  t.deepEqual(findWorkloads(dataFolder(dataDirOf(driver), ref)), []);
  const next = reopenDriver(dataDirOf(driver));
  t.true((await next.waitReady(ref, { timeoutMs: 30_000 })).ready);
});

test('undated log lines take the time of the dated line before them, or the file mtime', async (t) => {
  const dir = join(ROOT, 'undated-logs');
  await mkdir(dir, { recursive: true });
  await appendFile(join(dir, 'stdout.log'), '2030-01-01T00:00:01.000Z first\n  at trace line\n2030-01-01T00:00:03.000Z third\n');
  await appendFile(join(dir, 'stderr.log'), 'no dates at all\n');
  await appendFile(join(dir, 'system.log'), '{"time":"2030-01-01T00:00:02.000Z","msg":"json"}\n');
  const lines = await readLogs(dir, { since: '2030-01-01T00:00:00.000Z' });
  t.deepEqual(lines.map((l) => [l.time, l.stream, l.text]), [
    ['2030-01-01T00:00:01.000Z', 'stdout', 'first'],
    ['2030-01-01T00:00:01.000Z', 'stdout', '  at trace line'],
    ['2030-01-01T00:00:02.000Z', 'system', '{"time":"2030-01-01T00:00:02.000Z","msg":"json"}'],
    ['2030-01-01T00:00:03.000Z', 'stdout', 'third'],
  ]);
  const all = await readLogs(dir);
  const undated = all.find((l) => l.text === 'no dates at all')!;
  t.true(Math.abs(Date.parse(undated.time) - Date.now()) < 60_000, 'dated by the file mtime');
});
