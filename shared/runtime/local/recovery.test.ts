import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  createLocalTestKit,
  dataFolder,
  ENV_WORKLOAD,
  findWorkloads,
  launch,
  makeSpec,
  pickRange,
  readPid,
  waitGone,
  workloadSeen,
} from '../../../testing/local-runtime.ts';

const kit = await createLocalTestKit(test);

// Re-adoption after a control-plane restart

test.serial('a new driver on the same dataDir re-adopts the live process: same pid, no second process', async (t) => {
  const { driver: first, dataDir } = await kit.makeDriver();
  const ref = kit.newRef();
  const { url } = await launch(first, ref);
  const pid = await readPid(dataDir, ref);
  // The first driver is dropped without stopping anything, as when the control plane dies.
  const second = kit.reopenDriver(dataDir);
  await second.adopted;
  const status = await second.waitReady(ref, { timeoutMs: 30_000 });
  t.is(status.url, url);
  t.is(await readPid(dataDir, ref), pid);
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), [pid]);
});

test.serial('a child killed while the control plane was away is started again, with secrets from the provider', async (t) => {
  const { driver: first, dataDir } = await kit.makeDriver({ command: ENV_WORKLOAD });
  const ref = kit.newRef();
  const { url } = await launch(first, ref, { secrets: { JWT_SECRET: 'from-deploy' } });
  const pid = (await readPid(dataDir, ref))!;
  process.kill(pid, 'SIGKILL');
  await waitGone(pid);
  const second = kit.reopenDriver(dataDir, { command: ENV_WORKLOAD, secretsProvider: async () => ({ JWT_SECRET: 'from-provider' }) });
  const status = await second.waitReady(ref, { timeoutMs: 30_000 });
  t.is(status.url, url);
  const newPid = (await readPid(dataDir, ref))!;
  t.not(newPid, pid);
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), [newPid]);
  t.is((await workloadSeen(dataDir, ref)).env.JWT_SECRET, 'from-provider');
});

test.serial('without a secrets provider a dead child that needs secrets is reported failed, naming the keys', async (t) => {
  const { driver: first, dataDir } = await kit.makeDriver();
  const ref = kit.newRef();
  await launch(first, ref, { secrets: { DATABASE_URL: 'postgres://x' } });
  const pid = (await readPid(dataDir, ref))!;
  process.kill(pid, 'SIGKILL');
  await waitGone(pid);
  const second = kit.reopenDriver(dataDir);
  const status = await second.status(ref);
  t.is(status.state, 'failed');
  t.regex(status.message ?? '', /DATABASE_URL.*secretsProvider/);
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), []);
});

test.serial('a recorded pid that now belongs to another program is never killed', async (t) => {
  const { driver, dataDir } = await kit.makeDriver();
  const ref = kit.newRef();
  await launch(driver, ref);
  await driver.stopAll();
  const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
  const file = join(dataDir, 'runtime-state.json');
  const state = JSON.parse(await readFile(file, 'utf8'));
  Object.assign(state.environments[`${ref.tenantId}-${ref.env}`], {
    pid: stranger.pid,
    pidStartTicks: undefined,
    startedAt: new Date().toISOString(),
  });
  await writeFile(file, JSON.stringify(state));
  const second = kit.reopenDriver(dataDir);
  t.true((await second.waitReady(ref, { timeoutMs: 30_000 })).ready);
  await second.destroy(ref);
  // exitCode is only set once the exit event is handled: give a wrongly sent signal time to land, then ask /proc.
  const hasExited = () => stranger.exitCode !== null || stranger.signalCode !== null;
  const exited = hasExited() || (await Promise.race([once(stranger, 'exit').then(() => true), delay(1000).then(() => false)]));
  t.false(exited, `the stranger was stopped (${stranger.signalCode ?? stranger.exitCode})`);
  const stat = existsSync(`/proc/${stranger.pid}/stat`) ? readFileSync(`/proc/${stranger.pid}/stat`, 'utf8') : 'gone';
  t.regex(stat, /^\d+ \(sleep\) [RSD] /, 'the stranger still runs');
  stranger.kill('SIGKILL');
});

// Concurrency

test.serial('concurrent deploys of one environment, from this process and another, yield one process', async (t) => {
  // Both processes share the dataDir, so they share its port range too (from the test port allocator).
  const portRange = await pickRange(50);
  const { driver, dataDir } = await kit.makeDriver({ portRange });
  const ref = kit.newRef();
  const spec = makeSpec(ref);
  const script = join(kit.root, 'deploy-twice.mts');
  const localTs = fileURLToPath(new URL('./driver.ts', import.meta.url));
  // The other process loads the driver, says so, and deploys the moment it reads "go", racing this one.
  await writeFile(
    script,
    `import { createLocalDriver } from ${JSON.stringify(localTs)};
const driver = createLocalDriver({ dataDir: ${JSON.stringify(dataDir)}, portRange: ${JSON.stringify(portRange)} });
const spec = ${JSON.stringify(spec)};
await driver.adopted;
process.stdout.write('loaded\\n');
await new Promise((r) => process.stdin.once('data', r));
await Promise.all([driver.deploy(spec), driver.deploy(spec)]);
process.exit(0);\n`,
  );
  await driver.ensureInfrastructure(spec);
  const other = spawn(process.execPath, ['--import=tsx/esm', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  other.stderr.on('data', (c) => {
    stderr += c;
  });
  const otherDone = new Promise<number | null>((r) => other.once('exit', r));
  await Promise.race([new Promise((r) => other.stdout.once('data', r)), otherDone]);
  other.stdin.write('go\n');
  await Promise.all([driver.deploy(spec), driver.deploy(spec), driver.deploy(spec)]);
  t.is(await otherDone, 0, stderr);
  t.true((await driver.waitReady(ref, { timeoutMs: 30_000 })).ready);
  // Exactly one process, and it is the one the state records (a lost race would leave a dead pid recorded).
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), [await readPid(dataDir, ref)]);
});

// Suspended environments

test.serial(
  'a suspended environment answers its URL with a 503 paused page, again after a restart, and the app after resume',
  async (t) => {
    const { driver: first, dataDir } = await kit.makeDriver();
    const ref = kit.newRef();
    const { url } = await launch(first, ref);
    await first.suspend(ref);
    const page = await fetch(url!);
    t.is(page.status, 503);
    t.regex(await page.text(), /This environment is paused/);
    t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), [], 'the workload itself is stopped');
    await first.stopAll();
    await t.throwsAsync(fetch(url!), undefined, 'the page goes with the control plane');
    const second = kit.reopenDriver(dataDir);
    await second.adopted;
    t.is((await fetch(url!)).status, 503, 'a restarted control plane shows the page again');
    await second.resume(ref);
    const status = await second.waitReady(ref, { timeoutMs: 30_000 });
    t.is(status.url, url);
    t.is((await fetch(url!)).status, 200);
  },
);
