import test from 'ava';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLocalTestKit, dataFolder, findWorkloads, launch, makeSpec } from '../../../testing/local-runtime.ts';
import type { EnvironmentRef } from '../types.ts';

// Updates without downtime: the new version starts beside the old behind the front, which switches once it is healthy.

const kit = await createLocalTestKit(test);

/** A workload answering its IMAGE; `/slow` answers after 1.5 s; an image named `…broken…` fails its health check. */
const script = join(kit.root, 'versioned.mjs');
test.before(() =>
  writeFile(
    script,
    `import http from 'node:http';
const image = process.env.IMAGE;
const server = http.createServer((q, s) => {
  if (q.url === '/health') { s.statusCode = image.includes('broken') ? 500 : 200; return s.end(JSON.stringify({ image })); }
  if (q.url === '/slow') return setTimeout(() => s.end('slow ' + image), 1500);
  s.end(image);
});
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });\n`,
  ),
);

/**
 * Clients calling `url` continuously (fetch keeps its connections alive) until
 * stopped; every answer that is not a 200, and every error, counts as failed.
 */
function callContinuously(url: string, clients = 4) {
  let running = true;
  const failures: string[] = [];
  const seen: string[] = [];
  let ok = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const res = await fetch(url);
        const body = await res.text();
        if (res.status !== 200) failures.push(`${res.status} ${body.slice(0, 80)}`);
        else {
          ok += 1;
          if (seen.at(-1) !== body) seen.push(body);
        }
      } catch (error) {
        failures.push(String((error as Error).cause ?? error));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    failures,
    seen,
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const systemLog = (dataDir: string, ref: EnvironmentRef) =>
  readFileSync(join(dataDir, 'envs', `${ref.tenantId}-${ref.env}`, 'logs', 'system.log'), 'utf8');

async function record(dataDir: string, ref: EnvironmentRef) {
  return JSON.parse(await readFile(join(dataDir, 'runtime-state.json'), 'utf8')).environments[`${ref.tenantId}-${ref.env}`];
}

test.serial('deploys and restarts under a continuous client lose no request, and leave one process', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ command: [process.execPath, script] });
  const ref = kit.newRef('live');
  const { url } = await launch(driver, ref, { image: 'app:v1' });
  const client = callContinuously(url!);
  try {
    for (const image of ['app:v2', 'app:v3']) {
      const before = client.ok;
      await driver.deploy(makeSpec(ref, { image }));
      t.like(await driver.status(ref), { state: 'running', ready: true, image });
      t.is(findWorkloads(dataFolder(dataDir, ref)).length, 1, `only ${image} runs once the update is done`);
      // Some requests went through while it ran, and the switch happened.
      const deadline = Date.now() + 30_000;
      while ((client.ok <= before || !client.seen.includes(image)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      t.true(client.seen.includes(image));
      t.is(await (await fetch(url!)).text(), image);
    }
    await driver.restart(ref);
    await driver.deploy(makeSpec(ref, { image: 'app:v1' }));
  } finally {
    await client.stop();
  }
  t.deepEqual(client.failures, [], 'no request failed');
  t.true(client.ok > 20, `requests answered: ${client.ok}`);
  // Requests in flight on the old version still finish there, so the clients' order interleaves; each version answered.
  t.deepEqual([...new Set(client.seen)].sort(), ['app:v1', 'app:v2', 'app:v3']);
  t.is(await (await fetch(url!)).text(), 'app:v1');
  t.is(findWorkloads(dataFolder(dataDir, ref)).length, 1);
  t.falsy((await record(dataDir, ref)).spare);
  t.regex(systemLog(dataDir, ref), /switched to pid \d+ on port \d+ in \d+ ms \(redeploy\); pid \d+ drained/);
  t.regex(systemLog(dataDir, ref), /\(restart\); pid \d+ drained/);
});

test.serial('a request in progress on the old version finishes there during an update', async (t) => {
  const { driver } = await kit.makeDriver({ command: [process.execPath, script] });
  const ref = kit.newRef('live');
  const { url } = await launch(driver, ref, { image: 'app:v1' });
  const slow = fetch(new URL('/slow', url!)).then((r) => r.text());
  await new Promise((r) => setTimeout(r, 200));
  await driver.deploy(makeSpec(ref, { image: 'app:v2' }));
  t.is(await slow, 'slow app:v1');
  t.is(await (await fetch(url!)).text(), 'app:v2');
});

test.serial('a new version failing its health check is stopped, the error says why, the old one keeps serving', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ command: [process.execPath, script], startTimeoutMs: 2_000 });
  const ref = kit.newRef('live');
  const { url } = await launch(driver, ref, { image: 'app:v1' });
  const client = callContinuously(url!);
  try {
    const error = await t.throwsAsync(() => driver.deploy(makeSpec(ref, { image: 'app:broken' })));
    t.regex(
      error!.message,
      /app:broken did not come up \(\/health still answered 500 after 2000 ms\); the previous version \(app:v1\) keeps serving/,
    );
  } finally {
    await client.stop();
  }
  t.deepEqual(client.failures, []);
  t.deepEqual(client.seen, ['app:v1']);
  t.like(await driver.status(ref), { state: 'running', ready: true, image: 'app:v1' });
  t.is(findWorkloads(dataFolder(dataDir, ref)).length, 1);
  t.falsy((await record(dataDir, ref)).spare);
  // Rolling back to what runs is a no-op; a good version afterwards goes through.
  await driver.deploy(makeSpec(ref, { image: 'app:v1' }));
  await driver.deploy(makeSpec(ref, { image: 'app:v2' }));
  t.is(await (await fetch(url!)).text(), 'app:v2');
});

test.serial('a control plane that died in the middle of an update leaves no second process after adoption', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ command: [process.execPath, script] });
  const ref = kit.newRef('live');
  const { url } = await launch(driver, ref, { image: 'app:v1' });
  const state = JSON.parse(await readFile(join(dataDir, 'runtime-state.json'), 'utf8'));
  const key = `${ref.tenantId}-${ref.env}`;
  const current = state.environments[key];
  // Simulates the crash: a second process of the environment recorded as the spare, as updateBeside records it.
  await driver.deploy(makeSpec(ref, { image: 'app:v2' }));
  const after = JSON.parse(await readFile(join(dataDir, 'runtime-state.json'), 'utf8'));
  t.is(findWorkloads(dataFolder(dataDir, ref)).length, 1);
  const { spawn } = await import('node:child_process');
  const stray = spawn(process.execPath, [script], {
    env: { ...process.env, IMAGE: 'app:v1', PORT: String(current.innerPort), HOST: '127.0.0.1', DATA_DIR: dataFolder(dataDir, ref) },
    detached: true,
    stdio: 'ignore',
  });
  stray.unref();
  await new Promise((r) => setTimeout(r, 500));
  t.is(findWorkloads(dataFolder(dataDir, ref)).length, 2);
  const ticks = Number(readFileSync(`/proc/${stray.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19]);
  after.environments[key].spare = {
    pid: stray.pid,
    argv: [process.execPath, script],
    pidStartTicks: ticks,
    uid: process.getuid?.(),
    innerPort: current.innerPort,
  };
  await driver.stopAll();
  await driver.close();
  // stopAll stopped the current process; the record still names the spare, as after a crash.
  after.environments[key].pid = undefined;
  await writeFile(join(dataDir, 'runtime-state.json'), JSON.stringify(after));
  const next = kit.reopenDriver(dataDir, { command: [process.execPath, script] });
  await next.adopted;
  await next.waitReady(ref, { timeoutMs: 30_000 });
  t.is(findWorkloads(dataFolder(dataDir, ref)).length, 1, 'the spare was stopped, the current one started again');
  t.is(await (await fetch(url!)).text(), 'app:v2');
  t.regex(systemLog(dataDir, ref), /left over from an interrupted update/);
});
