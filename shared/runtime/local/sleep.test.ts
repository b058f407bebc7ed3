import test from 'ava';
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLocalTestKit, dataFolder, findWorkloads, launch, makeSpec, readPid } from '../../../testing/local-runtime.ts';
import type { EnvironmentRef } from '../types.ts';
import { pickInnerPort } from './sleep.ts';

const kit = await createLocalTestKit(test);
const IDLE_MS = 600;
const visitsOf = async (url: string) => Number(/<dd id="visits">(\d+)<\/dd>/.exec(await (await fetch(url)).text())?.[1]);

async function readRecord(dataDir: string, ref: EnvironmentRef) {
  const state = JSON.parse(await readFile(join(dataDir, 'runtime-state.json'), 'utf8'));
  return state.environments[`${ref.tenantId}-${ref.env}`];
}

/** Polls `check` until it holds; generous, since a shared machine may be slow. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const asleep = async (dataDir: string, ref: EnvironmentRef) => {
  await until('the environment sleeps', async () => !!(await readRecord(dataDir, ref))?.sleepingSince);
};

const systemLog = (dataDir: string, ref: EnvironmentRef) =>
  readFileSync(join(dataDir, 'envs', `${ref.tenantId}-${ref.env}`, 'logs', 'system.log'), 'utf8');
const starts = (dataDir: string, ref: EnvironmentRef) =>
  systemLog(dataDir, ref)
    .split('\n')
    .filter((l) => l.includes('started pid')).length;

// Sleep and wake

test.serial('an idle environment sleeps without a process, stays running to the API, and its next request wakes it', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ idleSleepMs: IDLE_MS });
  const ref = kit.newRef();
  const { url } = await launch(driver, ref);
  t.is(await visitsOf(url!), 1);
  await asleep(dataDir, ref);
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), [], 'no process while asleep');
  t.is(await readPid(dataDir, ref), undefined);
  t.like(await driver.status(ref), { state: 'running', ready: true, url });
  // The real workload answers the waking request, with the data it kept.
  t.is(await visitsOf(url!), 2);
  t.is(findWorkloads(dataFolder(dataDir, ref)).length, 1);
  t.regex(systemLog(dataDir, ref), /idle; sleeping until its next request[\s\S]*woke in \d+ ms/);
  // Awake again, it sleeps again once idle.
  await asleep(dataDir, ref);
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), []);
});

test.serial('ten concurrent requests to a sleeping environment start it once and all get the real answer', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ idleSleepMs: IDLE_MS });
  const ref = kit.newRef();
  const { url } = await launch(driver, ref);
  await asleep(dataDir, ref);
  const before = starts(dataDir, ref);
  const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(url!).then(async (r) => [r.status, await r.text()] as const)));
  t.deepEqual(
    answers.map(([status]) => status),
    Array(10).fill(200),
  );
  t.true(answers.every(([, body]) => /<dd id="visits">\d+<\/dd>/.test(body)));
  t.is(starts(dataDir, ref) - before, 1);
  t.is(findWorkloads(dataFolder(dataDir, ref)).length, 1);
});

test.serial('a suspended environment is not woken: its URL answers the paused page and no process starts', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ idleSleepMs: IDLE_MS });
  const ref = kit.newRef();
  const { url } = await launch(driver, ref);
  await asleep(dataDir, ref);
  await driver.suspend(ref);
  const before = starts(dataDir, ref);
  const res = await fetch(url!);
  t.is(res.status, 503);
  t.regex(await res.text(), /paused/);
  t.is(starts(dataDir, ref), before);
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), []);
  t.like(await driver.status(ref), { state: 'stopped' });
  // Resume brings it back behind its front, with its data.
  await driver.resume(ref);
  await driver.waitReady(ref, { timeoutMs: 30_000 });
  t.is(await visitsOf(url!), 1);
});

test.serial('a destroyed environment is not woken: its port is let go', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ idleSleepMs: IDLE_MS });
  const ref = kit.newRef();
  const { url } = await launch(driver, ref);
  await asleep(dataDir, ref);
  await driver.destroy(ref);
  await t.throwsAsync(() => fetch(url!));
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), []);
  t.like(await driver.status(ref), { state: 'absent' });
});

test.serial('a redeploy of a sleeping environment runs the new spec, and a repeated deploy leaves it asleep', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ idleSleepMs: IDLE_MS });
  const ref = kit.newRef();
  await launch(driver, ref);
  await asleep(dataDir, ref);
  const before = starts(dataDir, ref);
  await driver.deploy(makeSpec(ref));
  t.is(starts(dataDir, ref), before, 'the same spec again does not wake it');
  const spec = makeSpec(ref, { image: 'sample-tenant:v2' });
  await driver.deploy(spec);
  const { url } = await driver.waitReady(ref, { timeoutMs: 30_000 });
  t.is(starts(dataDir, ref), before + 1);
  t.regex(await (await fetch(url!)).text(), /<dd id="image">sample-tenant:v2<\/dd>/);
});

test.serial('a wake that fails answers a 503 page, is logged, and the next request tries again', async (t) => {
  // Serves on its first start only; later starts exit at once, until the marker is removed.
  const script = join(kit.root, 'once.mjs');
  await writeFile(
    script,
    `import http from 'node:http';
import { existsSync, writeFileSync } from 'node:fs';
const marker = process.env.DATA_DIR + '/started';
if (existsSync(marker)) { console.error('refusing a second start'); process.exit(3); }
writeFileSync(marker, '1');
http.createServer((q, s) => s.end(q.url === '/health' ? '{}' : 'real answer')).listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => process.exit(0));\n`,
  );
  const { driver, dataDir } = await kit.makeDriver({ idleSleepMs: IDLE_MS, command: [process.execPath, script] });
  const ref = kit.newRef();
  const { url } = await launch(driver, ref);
  t.is(await (await fetch(url!)).text(), 'real answer');
  await asleep(dataDir, ref);
  const before = starts(dataDir, ref);
  // Concurrent requests share the one failed attempt.
  const answers = await Promise.all([1, 2, 3].map(() => fetch(url!).then(async (r) => [r.status, await r.text()] as const)));
  t.deepEqual(
    answers.map(([status]) => status),
    [503, 503, 503],
  );
  t.regex(answers[0][1], /could not start/);
  t.is(starts(dataDir, ref) - before, 1);
  t.regex(systemLog(dataDir, ref), /wake failed, answered 503: could not wake .*exited/);
  t.truthy((await readRecord(dataDir, ref)).sleepingSince, 'still asleep, so the next request tries again');
  await rm(join(dataFolder(dataDir, ref), 'started'));
  t.is(await (await fetch(url!)).text(), 'real answer');
});

test.serial('a sleeping environment stays asleep across a control-plane restart and the new driver wakes it', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ idleSleepMs: IDLE_MS });
  const ref = kit.newRef();
  const { url } = await launch(driver, ref);
  await asleep(dataDir, ref);
  await driver.stopAll();
  await driver.close();
  const next = kit.reopenDriver(dataDir, { idleSleepMs: IDLE_MS });
  await next.adopted;
  t.deepEqual(findWorkloads(dataFolder(dataDir, ref)), [], 'adoption does not start a sleeping environment');
  t.is(await visitsOf(url!), 1);
});

test.serial('sleep is per environment: one whose idle time is 0 keeps running behind its front', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ idleSleepMs: (ref) => (ref.env === 'live' ? 0 : IDLE_MS) });
  const live = kit.newRef('live');
  const demo = kit.newRef('demo');
  const { url } = await launch(driver, live);
  await launch(driver, demo);
  await asleep(dataDir, demo);
  const pid = (await readPid(dataDir, live))!;
  t.truthy(pid, 'live still runs after demo fell asleep');
  const inner = (await readRecord(dataDir, live)).innerPort;
  t.truthy(inner);
  t.true(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PORT=${inner}`), 'live binds its inner port');
  t.is(await visitsOf(url!), 1);
  t.falsy((await readRecord(dataDir, live)).sleepingSince);
});

test.serial('with alwaysFront off, an environment that never sleeps binds its public port itself', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ idleSleepMs: 0, alwaysFront: false });
  const live = kit.newRef('live');
  const { url } = await launch(driver, live);
  const pid = (await readPid(dataDir, live))!;
  const port = new URL(url!).port;
  t.true(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PORT=${port}`), 'live binds its public port itself');
  t.is((await readRecord(dataDir, live)).innerPort, undefined);
});

test('inner ports handed out before their workloads bind them are never handed out twice', async (t) => {
  // Nothing binds these, as in a burst of launches whose workloads have not started yet: the OS would hand some out again.
  const ports = [];
  for (let i = 0; i < 1500; i++) ports.push(await pickInnerPort('127.0.0.1', { from: 1, to: 1023 }));
  t.is(new Set(ports).size, ports.length);
});
