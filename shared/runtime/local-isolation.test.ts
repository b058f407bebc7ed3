import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chown, lstat, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalDriver } from './local.ts';
import { readUid } from './local-process.ts';
import { createLocalTestKit, dataFolder, launch, makeSpec, pickRange, readPid, waitGone } from './local-test-kit.ts';

const kit = await createLocalTestKit(test);
const asRoot = process.getuid?.() === 0;
/** Cases that need root to run workloads as other users; CI runs as root. */
const rootTest = asRoot ? test.serial : test.serial.skip;
if (!asRoot) console.log('local-isolation: not root, so workloads share this user; the cases marked "(as root)" are skipped');

const ATTACKER = fileURLToPath(new URL('../../test/fixtures/attacker-tenant.mjs', import.meta.url));
const LOCAL_TS = fileURLToPath(new URL('./local.ts', import.meta.url));
const random = (label: string) => `${label}-${randomBytes(9).toString('hex')}`;
const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
const logsOf = (dataDir: string, ref: { tenantId: string; env: string }) => join(dataDir, 'envs', `${ref.tenantId}-${ref.env}`, 'logs');

interface Attempt { path: string; read: boolean; text?: string; error?: string }
interface Report { uid: number; env: Record<string, string | undefined>; cmdline: Attempt; attempts: Attempt[] }

const controlPlanes: ChildProcess[] = [];
test.after.always(async () => {
  for (const child of controlPlanes) {
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin?.end();
    if (child.exitCode === null && child.signalCode === null) {
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      child.kill('SIGKILL');
    }
  }
});

/**
 * Tenant A (the sample tenant, with secrets) and tenant B (the attacker fixture)
 * started by a separate control-plane process whose own environment holds a
 * canary and platform secrets, as `npm start` would hold emulator addresses and
 * keys. Built once, shared by the cases below.
 */
const scene = (() => {
  let built: ReturnType<typeof build> | undefined;
  return () => (built ??= build());
})();

async function build() {
  const portRange = await pickRange(20);
  const { dataDir } = await kit.makeDriver({ portRange });
  const victim = { ownerId: 'owner-a', tenantId: `va${process.pid}`, env: 'live' };
  const attacker = { ownerId: 'owner-b', tenantId: `ab${process.pid}`, env: 'live' };
  const secrets = { APP_SECRET: random('app'), DATABASE_URL: `postgres://a:${random('pw')}@db/a`, JWT_SECRET: random('jwt') };
  const platform = { TP_ISOLATION_CANARY: random('canary'), SECRETS_KEY: random('key'), TASKS_SECRET: random('tasks'), FIRESTORE_EMULATOR_HOST: '127.0.0.1:1' };
  // The canary also sits in this process's environment: a driver passing process.env along would leak it.
  process.env.TP_ISOLATION_CANARY = platform.TP_ISOLATION_CANARY;
  const script = join(kit.root, 'control-plane.mts');
  // Specs travel over stdin, never argv: the attacker may read any process's cmdline.
  await writeFile(script, `import { createLocalDriver } from ${JSON.stringify(LOCAL_TS)};
const input = JSON.parse(await new Promise((r) => process.stdin.once('data', (c) => r(String(c)))));
const victim = createLocalDriver({ dataDir: input.dataDir, portRange: input.portRange });
const attacker = createLocalDriver({ dataDir: input.dataDir, portRange: input.portRange, command: [process.execPath, input.attackerScript] });
for (const [driver, spec] of [[victim, input.victim], [attacker, input.attacker]]) {
  await driver.ensureInfrastructure(spec);
  await driver.deploy(spec);
  await driver.waitReady(spec, { timeoutMs: 30000 });
}
process.stdout.write('ready\\n');
await new Promise((r) => process.stdin.once('end', r));
process.exit(0);\n`);
  const controlPlane = spawn(process.execPath, ['--import=tsx/esm', script], { env: { ...process.env, ...platform }, stdio: ['pipe', 'pipe', 'pipe'] });
  controlPlanes.push(controlPlane);
  let stderr = '';
  controlPlane.stderr.on('data', (c) => { stderr += c; });
  controlPlane.stdin.write(`${JSON.stringify({
    dataDir, portRange, attackerScript: ATTACKER,
    victim: makeSpec(victim, { secrets }), attacker: makeSpec(attacker, { secrets: { B_OWN_TOKEN: random('b') } }),
  })}\n`);
  const ready = await new Promise<boolean>((resolve) => {
    controlPlane.stdout.once('data', () => resolve(true));
    controlPlane.once('exit', () => resolve(false));
  });
  if (!ready) throw new Error(`the control-plane process failed:\n${stderr}`);
  const state = JSON.parse(await readFile(join(dataDir, 'runtime-state.json'), 'utf8'));
  const recA = state.environments[`${victim.tenantId}-${victim.env}`];
  const recB = state.environments[`${attacker.tenantId}-${attacker.env}`];
  const urlA = `http://127.0.0.1:${recA.port}`;
  await (await fetch(urlA)).text(); // a visit, so A's data folder holds a file
  const dataA = dataFolder(dataDir, victim);
  const logsA = logsOf(dataDir, victim);
  // A's own file holding a secret, and a log line where its workload printed one.
  await writeFile(join(dataA, 'notes.txt'), `remember ${secrets.JWT_SECRET}\n`);
  if (recA.uid !== undefined) await chown(join(dataA, 'notes.txt'), recA.uid, recA.uid);
  await writeFile(join(logsA, 'stdout.log'), `${new Date().toISOString()} connecting to ${secrets.DATABASE_URL}\n`, { flag: 'a' });
  const targets = {
    victimPid: recA.pid,
    paths: [
      dataA, join(dataA, 'visits.json'), join(dataA, 'notes.txt'), join(dataA, '.tmp'),
      logsA, join(logsA, 'stdout.log'), join(logsA, 'system.log'),
      dataDir, join(dataDir, 'envs'), join(dataDir, 'runtime-state.json'), join(dataDir, 'locks'),
    ],
  };
  const res = await fetch(`http://127.0.0.1:${recB.port}/probe?targets=${Buffer.from(JSON.stringify(targets)).toString('base64url')}`);
  const report = (await res.json()) as Report;
  const stdoutB = await readFile(join(logsOf(dataDir, attacker), 'stdout.log'), 'utf8');
  return { dataDir, secrets, platform, recA, recB, report, stdoutB, controlPlanePid: controlPlane.pid! };
}

/** Values that must never reach tenant B: A's secrets, the canary and the control plane's secrets and addresses. */
function forbiddenValues(s: Awaited<ReturnType<typeof build>>): string[] {
  const fromRunner = Object.entries(process.env)
    .filter(([name, value]) => /^(FIRESTORE_|FIREBASE_|GOOGLE_|TASKS_|SECRETS_KEY|TP_|SMTP_|STRIPE_|PADDLE_)/.test(name) && value && value.length >= 6)
    .map(([, value]) => value!);
  return [...Object.values(s.secrets), ...Object.values(s.platform).filter((v) => v.length >= 12), ...fromRunner];
}

// One tenant's code against another's secrets

test.serial("an attacker tenant's own environment holds nothing of another tenant's or of the control plane's", async (t) => {
  const s = await scene();
  const env = s.report.env;
  const allowed = new Set(['PATH', 'HOME', 'TMPDIR', 'PORT', 'HOST', 'TENANT_ID', 'ENV_NAME', 'IMAGE', 'DATA_DIR', 'MEMORY_MB', 'TENANTPLANE_SECRET_KEYS', 'LANG', 'LC_ALL', 'TZ', 'GREETING', 'B_OWN_TOKEN']);
  t.deepEqual(Object.keys(env).filter((name) => !allowed.has(name)), [], 'variables beyond its own reached the workload');
  t.is(env.TP_ISOLATION_CANARY, undefined);
  t.is(env.FIRESTORE_EMULATOR_HOST, undefined);
  t.is(env.HOME, env.DATA_DIR);
  t.true(env.TMPDIR?.startsWith(`${env.DATA_DIR}/`));
  const leaked = forbiddenValues(s).filter((v) => JSON.stringify(env).includes(v));
  t.deepEqual(leaked, []);
});

rootTest("an attacker tenant (as root) reads no other tenant's environ, data or logs, nor the control plane's environ", async (t) => {
  const s = await scene();
  const leaked = forbiddenValues(s).filter((v) => JSON.stringify(s.report).includes(v) || s.stdoutB.includes(v));
  t.deepEqual(leaked, [], 'secret values reached the attacker');
  const readable = s.report.attempts.filter((a) => a.read).map((a) => a.path);
  t.deepEqual(readable, [], 'the attacker could read these');
  t.not(s.report.uid, 0);
  t.not(s.report.uid, s.recA.uid);
  t.true(s.report.attempts.some((a) => a.path === `/proc/${s.recA.pid}/environ` && a.error === 'EACCES'));
  t.true(s.report.attempts.some((a) => a.path === `/proc/${s.controlPlanePid}/environ` && a.error === 'EACCES'), "the control plane is the attacker's parent");
  // A command line is public on Linux; it must hold nothing secret.
  t.true(s.report.cmdline.read);
});

// Reserved names

test.serial('reserved names in secrets or vars never reach the process and are named, without values, in the system log', async (t) => {
  const { driver, dataDir } = await kit.makeDriver();
  const ref = kit.newRef();
  const hook = '--import=data:text/javascript,process.stdout.write(JSON.stringify(process.env))';
  await launch(driver, ref, {
    secrets: { NODE_OPTIONS: hook, LD_PRELOAD: '/nonexistent/preload.so', GOOGLE_APPLICATION_CREDENTIALS: '/etc/creds.json', APP_SECRET: 'allowed-value' },
    vars: { GREETING: 'hello', PATH: '/attacker/bin', TENANT_NAME: 'acme' },
  });
  const environ = environOf((await readPid(dataDir, ref))!);
  const names = environ.map((v) => v.split('=')[0]);
  for (const name of ['NODE_OPTIONS', 'LD_PRELOAD', 'GOOGLE_APPLICATION_CREDENTIALS']) t.false(names.includes(name), `${name} reached the process`);
  t.false(environ.some((v) => v.startsWith('PATH=') && v.includes('/attacker')));
  t.true(environ.includes('APP_SECRET=allowed-value'));
  t.true(environ.includes('TENANT_NAME=acme'), 'a var the platform itself sets passes');
  t.true(environ.includes('TENANTPLANE_SECRET_KEYS=APP_SECRET'));
  const system = (await driver.logs!(ref, { limit: 1000 })).filter((l) => l.stream === 'system').map((l) => l.text).join('\n');
  for (const dropped of ['secret "NODE_OPTIONS"', 'secret "LD_PRELOAD"', 'secret "GOOGLE_APPLICATION_CREDENTIALS"', 'var "PATH"']) {
    t.true(system.includes(dropped), `the system log does not name ${dropped}:\n${system}`);
  }
  t.false(system.includes('"TENANT_NAME"'));
  for (const value of [hook, '/nonexistent/preload.so', '/etc/creds.json', '/attacker/bin']) t.false(system.includes(value));
});

// Users and folders

rootTest('each environment runs as its own uid (as root), keeps it across a control-plane restart, and its folders are its own', async (t) => {
  const { driver, dataDir } = await kit.makeDriver();
  t.true(driver.flags.isolatedUsers);
  const [a, b] = [kit.newRef(), kit.newRef('live')];
  await launch(driver, a);
  await launch(driver, b);
  const [pidA, pidB] = [(await readPid(dataDir, a))!, (await readPid(dataDir, b))!];
  const [uidA, uidB] = [readUid(pidA)!, readUid(pidB)!];
  t.true(uidA >= 200000 && uidB >= 200000 && uidA !== uidB, `uids ${uidA} and ${uidB}`);
  const mode = async (path: string) => ((await stat(path)).mode & 0o777).toString(8);
  const data = dataFolder(dataDir, a);
  t.like(await stat(data), { uid: uidA, gid: uidA });
  t.is(await mode(data), '700');
  t.like(await stat(join(data, '.tmp')), { uid: uidA });
  t.is(await mode(logsOf(dataDir, a)), '700');
  t.like(await stat(join(logsOf(dataDir, a), 'stdout.log')), { uid: 0 });
  t.is(await mode(join(logsOf(dataDir, a), 'stdout.log')), '600');
  t.is(await mode(join(dataDir, 'envs')), '711');

  // A restarted control plane re-adopts the same process; one started again gets the same uid.
  const second = kit.reopenDriver(dataDir);
  t.true((await second.waitReady(a, { timeoutMs: 30_000 })).ready);
  t.is(await readPid(dataDir, a), pidA);
  process.kill(pidA, 'SIGKILL');
  await waitGone(pidA);
  // Meanwhile the workload had swapped its TMPDIR for a link to a file of root's.
  const rootFile = join(kit.root, 'root-only.txt');
  await writeFile(rootFile, 'root\n', { mode: 0o600 });
  await rm(join(data, '.tmp'), { recursive: true });
  await symlink(rootFile, join(data, '.tmp'));
  const third = kit.reopenDriver(dataDir);
  t.true((await third.waitReady(a, { timeoutMs: 30_000 })).ready);
  const newPid = (await readPid(dataDir, a))!;
  t.not(newPid, pidA);
  t.is(readUid(newPid), uidA);
  t.like(await stat(rootFile), { uid: 0 });
  t.is(await mode(rootFile), '600');
  t.true((await lstat(join(data, '.tmp'))).isDirectory());
  const metrics = await third.metrics!(a);
  t.true(metrics.memoryBytes > 0, 'metrics from /proc work for a process of another uid');
});

test.serial('with isolateUsers off the workload runs as the control plane and the flags say so; a privileged uid range is refused', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ isolateUsers: false });
  t.false(driver.flags.isolatedUsers);
  const ref = kit.newRef();
  await launch(driver, ref);
  t.is(readUid((await readPid(dataDir, ref))!), process.getuid!());
  t.is(((await stat(dataFolder(dataDir, ref))).mode & 0o777).toString(8), '700');
  const error = t.throws(() => createLocalDriver({ dataDir, uidRange: { from: 0, to: 10 } }));
  t.regex(error!.message, /uidRange .* unprivileged uids; use e\.g\. \{ from: 200000, to: 299999 \}/);
});
