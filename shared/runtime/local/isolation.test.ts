import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { chown, lstat, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocatePort } from '../../../testing/ports.ts';
import { createLocalDriver } from './index.ts';
import { chainName, families, firewallProblem, firewallRules, holdersDir } from './network.ts';
import { readUid } from './process.ts';
import {
  createLocalTestKit,
  dataFolder,
  ENV_WORKLOAD,
  launch,
  makeSpec,
  pickRange,
  readPid,
  waitGone,
  workloadSeen,
} from '../../../testing/local-runtime.ts';

const kit = await createLocalTestKit(test);
const asRoot = process.getuid?.() === 0;
/** Cases that need root to run workloads as other users; CI runs as root. */
const rootTest = asRoot ? test.serial : test.serial.skip;
if (!asRoot) console.log('local-isolation: not root, so workloads share this user; the cases marked "(as root)" are skipped');
const noFirewall = asRoot ? firewallProblem() : 'not root';
/** Cases that need the kernel firewall (root, iptables, CAP_NET_ADMIN); CI has them, `npm test` installs iptables. */
const firewallTest = noFirewall ? test.serial.skip : test.serial;
if (noFirewall)
  console.log(`local-isolation: the firewall cannot be used (${noFirewall}); the cases marked "(with the firewall)" are skipped`);

const ATTACKER = fileURLToPath(new URL('../../../test/fixtures/attacker-tenant.mjs', import.meta.url));
const LOCAL_TS = fileURLToPath(new URL('./driver.ts', import.meta.url));
const random = (label: string) => `${label}-${randomBytes(9).toString('hex')}`;
const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
const logsOf = (dataDir: string, ref: { tenantId: string; env: string }) => join(dataDir, 'envs', `${ref.tenantId}-${ref.env}`, 'logs');

interface Attempt {
  path: string;
  read: boolean;
  text?: string;
  error?: string;
}
interface Report {
  uid: number;
  env: Record<string, string | undefined>;
  cmdline: Attempt;
  attempts: Attempt[];
}
interface Target {
  host: string;
  port: number;
  udp?: boolean;
  what: string;
}
interface Reached extends Target {
  connected: boolean;
  error?: string;
}

/** This machine's first non-loopback IPv4 and global IPv6 address, if it has them. */
function ownAddresses(): string[] {
  const all = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal);
  const v4 = all.find((a) => a!.family === 'IPv4')?.address;
  const v6 = all.find((a) => a!.family === 'IPv6' && !a!.address.startsWith('fe80'))?.address;
  return [v4, v6].filter((a): a is string => a !== undefined);
}

/**
 * A stand-in for the platform's own servers (the Auth emulator takes admin calls
 * without credentials): HTTP on every address of this machine, and a UDP port
 * recording what reaches it.
 */
async function startPlatformStandIn() {
  const port = await allocatePort();
  const answer = createServer((_req, res) => res.end('{"admin":true}'));
  const answer6 = createServer((_req, res) => res.end('{"admin":true}'));
  await new Promise<void>((r) => answer.listen(port, '0.0.0.0', r));
  const ipv6 = families().includes('ip6tables');
  if (ipv6) await new Promise<void>((r) => answer6.listen({ port, host: '::', ipv6Only: true }, r));
  const udpPort = await allocatePort();
  const udp = createSocket('udp4');
  const datagrams: string[] = [];
  udp.on('message', (m) => datagrams.push(String(m)));
  await new Promise<void>((r) => udp.bind(udpPort, '127.0.0.1', r));
  return {
    port,
    udpPort,
    ipv6,
    datagrams,
    close() {
      answer.close();
      answer6.close();
      udp.close();
    },
  };
}

/** Whether this (control-plane) process can open a TCP connection to `target`. */
function canConnect(target: Target): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

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
  const platform = {
    TP_ISOLATION_CANARY: random('canary'),
    SECRETS_KEY: random('key'),
    TASKS_SECRET: random('tasks'),
    FIRESTORE_EMULATOR_HOST: '127.0.0.1:1',
  };
  // The canary also sits in this process's environment: a driver passing process.env along would leak it.
  process.env.TP_ISOLATION_CANARY = platform.TP_ISOLATION_CANARY;
  const script = join(kit.root, 'control-plane.mts');
  // Specs travel over stdin, never argv: the attacker may read any process's cmdline.
  await writeFile(
    script,
    `import { createLocalDriver } from ${JSON.stringify(LOCAL_TS)};
const input = JSON.parse(await new Promise((r) => process.stdin.once('data', (c) => r(String(c)))));
const victim = createLocalDriver({ dataDir: input.dataDir, portRange: input.portRange });
const attacker = createLocalDriver({ dataDir: input.dataDir, portRange: input.portRange, command: [process.execPath, input.attackerScript] });
for (const [driver, spec] of [[victim, input.victim], [attacker, input.attacker]]) {
  await driver.ensureInfrastructure(spec);
  await driver.deploy(spec);
  await driver.waitReady(spec, { timeoutMs: 30000 });
}
process.stdout.write(\`ready \${JSON.stringify([victim.flags, attacker.flags])}\\n\`);
await new Promise((r) => process.stdin.once('end', r));
process.exit(0);\n`,
  );
  const controlPlane = spawn(process.execPath, ['--import=tsx/esm', script], {
    env: { ...process.env, ...platform },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  controlPlanes.push(controlPlane);
  let stderr = '';
  controlPlane.stderr.on('data', (c) => {
    stderr += c;
  });
  controlPlane.stdin.write(
    `${JSON.stringify({
      dataDir,
      portRange,
      attackerScript: ATTACKER,
      victim: makeSpec(victim, { secrets }),
      attacker: makeSpec(attacker, { secrets: { B_OWN_TOKEN: random('b') } }),
    })}\n`,
  );
  let stdout = '';
  const ready = await new Promise<boolean>((resolve) => {
    controlPlane.stdout.on('data', (c) => {
      stdout += c;
      if (stdout.includes('\n')) resolve(true);
    });
    controlPlane.once('exit', () => resolve(false));
  });
  if (!ready) throw new Error(`the control-plane process failed:\n${stderr}`);
  const flags = JSON.parse(stdout.slice('ready '.length)) as { isolatedNetwork?: boolean }[];
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
      // The workload's parent is the runtime's process starter (spawner.ts, read as process.ppid); the control plane is above it.
      `/proc/${controlPlane.pid}/environ`,
      dataA,
      join(dataA, 'visits.json'),
      join(dataA, 'notes.txt'),
      join(dataA, '.tmp'),
      logsA,
      join(logsA, 'stdout.log'),
      join(logsA, 'system.log'),
      dataDir,
      join(dataDir, 'envs'),
      join(dataDir, 'runtime-state.json'),
      join(dataDir, 'locks'),
    ],
  };
  const res = await fetch(`http://127.0.0.1:${recB.port}/probe?targets=${Buffer.from(JSON.stringify(targets)).toString('base64url')}`);
  const report = (await res.json()) as Report;
  const standIn = await startPlatformStandIn();
  // Another holder of the range whose data server had tenant A's port, gone since and the port handed to A: the
  // exception it recorded must not open A's port (its workload range is refused before any exception).
  if (asRoot && !noFirewall) await kit.makeDriver({ portRange: await pickRange(5), allowPorts: [recA.port] });
  const targets6 = standIn.ipv6 ? [{ host: '::1', port: standIn.port, what: 'the platform on ::1' }] : [];
  const connectTargets: Target[] = [
    { host: '127.0.0.1', port: recA.port, what: "tenant A's port" },
    { host: '127.0.0.1', port: standIn.port, what: 'the platform on 127.0.0.1' },
    { host: '127.0.0.2', port: standIn.port, what: 'the platform on 127.0.0.2' },
    ...targets6,
    ...ownAddresses().map((host) => ({ host, port: standIn.port, what: `the platform on this machine's address ${host}` })),
  ];
  const fromControlPlane = await Promise.all(connectTargets.map(canConnect));
  const udpTarget = { host: '127.0.0.1', port: standIn.udpPort, udp: true, what: 'a platform UDP port' };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const reached = (await (
    await fetch(`http://127.0.0.1:${recB.port}/connect?targets=${encode([...connectTargets, udpTarget])}`)
  ).json()) as Reached[];
  await new Promise((r) => setTimeout(r, 300));
  const datagramsFromB = [...standIn.datagrams];
  standIn.close();
  const stdoutB = await readFile(join(logsOf(dataDir, attacker), 'stdout.log'), 'utf8');
  return {
    dataDir,
    secrets,
    platform,
    recA,
    recB,
    report,
    stdoutB,
    controlPlanePid: controlPlane.pid!,
    flags,
    connectTargets,
    fromControlPlane,
    reached,
    datagramsFromB,
  };
}

/** Values that must never reach tenant B: A's secrets, the canary and the control plane's secrets and addresses. */
function forbiddenValues(s: Awaited<ReturnType<typeof build>>): string[] {
  const fromRunner = Object.entries(process.env)
    .filter(
      ([name, value]) =>
        /^(FIRESTORE_|FIREBASE_|GOOGLE_|TASKS_|SECRETS_KEY|TP_|SMTP_|STRIPE_|PADDLE_)/.test(name) && value && value.length >= 6,
    )
    .map(([, value]) => value!);
  return [...Object.values(s.secrets), ...Object.values(s.platform).filter((v) => v.length >= 12), ...fromRunner];
}

// One tenant's code against another's secrets

test.serial("an attacker tenant's own environment holds nothing of another tenant's or of the control plane's", async (t) => {
  const s = await scene();
  const env = s.report.env;
  const allowed = new Set([
    'PATH',
    'HOME',
    'TMPDIR',
    'PORT',
    'HOST',
    'TENANT_ID',
    'ENV_NAME',
    'IMAGE',
    'DATA_DIR',
    'MEMORY_MB',
    'TENANTPLANE_SECRET_KEYS',
    'LANG',
    'LC_ALL',
    'TZ',
    'GREETING',
    'B_OWN_TOKEN',
  ]);
  t.deepEqual(
    Object.keys(env).filter((name) => !allowed.has(name)),
    [],
    'variables beyond its own reached the workload',
  );
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
  t.true(
    s.report.attempts.some((a) => a.path === `/proc/${s.controlPlanePid}/environ` && a.error === 'EACCES'),
    "the control plane's environment",
  );
  // A command line is public on Linux; it must hold nothing secret.
  t.true(s.report.cmdline.read);
});

// One tenant's code against the network

firewallTest(
  'an attacker tenant (with the firewall) connects to no other tenant, no platform server and no address of this machine, while the control plane reaches every tenant',
  async (t) => {
    const s = await scene();
    t.deepEqual(
      s.flags.map((f) => f.isolatedNetwork),
      [true, true],
      'both drivers say the network is isolated',
    );
    t.log(
      s.reached.map((r) => `${r.udp ? 'udp' : 'tcp'} ${r.host}:${r.port} (${r.what}): ${r.connected ? 'connected' : r.error}`).join('\n'),
    );
    // The stand-ins answer the control plane, so a refusal below is the firewall's.
    t.deepEqual(
      s.connectTargets.filter((_, i) => !s.fromControlPlane[i]).map((x) => x.what),
      [],
      'the control plane could not reach these',
    );
    const tcp = s.reached.filter((r) => !r.udp);
    t.is(tcp.length, s.connectTargets.length);
    t.deepEqual(
      tcp.filter((r) => r.connected).map((r) => r.what),
      [],
      'the attacker connected to these',
    );
    t.true(
      tcp.every((r) => r.error === 'ECONNREFUSED'),
      'refused at once, not left to time out',
    );
    t.deepEqual(s.datagramsFromB, [], 'a datagram of the attacker reached a platform UDP port');
    for (const rec of [s.recA, s.recB]) t.is((await fetch(`http://127.0.0.1:${rec.port}/health`)).status, 200);
  },
);

firewallTest(
  'the firewall chain (with the firewall) is one per uid range, rebuilt without duplicates, and removed by the last driver to close once no workload of the range runs',
  async (t) => {
    const uidRange = { from: 299_900, to: 299_949 };
    const chain = chainName(uidRange);
    const rulesOf = (family: 'iptables' | 'ip6tables') => firewallRules(family).filter((r) => r.includes(chain));
    const portRange = await pickRange(50);
    const { driver: first, dataDir } = await kit.makeDriver({ uidRange, portRange });
    const second = kit.reopenDriver(dataDir, { uidRange });
    t.true(first.flags.isolatedNetwork);
    t.is(first.network.chain, chain);
    for (const family of families()) {
      const rules = rulesOf(family);
      t.is(rules.filter((r) => r === `-A OUTPUT -j ${chain}`).length, 1, `${family}: one jump from OUTPUT`);
      t.is(new Set(rules).size, rules.length, `${family}: no rule twice:\n${rules.join('\n')}`);
      const refusals = rules.filter(
        (r) => r.includes('REJECT') && r.includes(`--uid-owner ${uidRange.from}-${uidRange.to}`) && r.includes('--dst-type LOCAL'),
      );
      t.is(refusals.filter((r) => !r.includes('--dport')).length, 2, `${family}: TCP and UDP refused`);
      t.is(
        refusals.filter((r) => r.includes(`--dport ${portRange.from}:${portRange.to}`)).length,
        2,
        `${family}: the workload ports refused first:\n${rules.join('\n')}`,
      );
    }
    const ref = kit.newRef();
    await launch(first, ref);
    await second.close();
    t.true(rulesOf('iptables').length > 0, 'kept while another driver holds the range');
    await first.close();
    t.true(rulesOf('iptables').length > 0, 'kept while a workload of the range still runs');
    // A holder whose pid now names another process (pid 1 started long before it): it holds nothing, its exception goes.
    const reused = join(holdersDir(chain), '1-0-1');
    await writeFile(reused, JSON.stringify({ allowPorts: [1], workloadPorts: [], started: 'not-the-start-of-pid-1' }));
    const third = kit.reopenDriver(dataDir, { uidRange });
    t.false(existsSync(reused), "the reused pid's holder file was removed");
    t.false(
      rulesOf('iptables').some((r) => r.includes('--dport 1 ')),
      "the reused pid's exception is not in the chain",
    );
    t.true((await third.waitReady(ref, { timeoutMs: 30_000 })).ready);
    await third.stopAll();
    await third.close();
    for (const family of families()) t.deepEqual(rulesOf(family), [], `${family}: removed when the platform stops cleanly`);
  },
);

// Reserved names

test.serial('reserved names in secrets or vars never reach the process and are named, without values, in the system log', async (t) => {
  const { driver, dataDir } = await kit.makeDriver({ command: ENV_WORKLOAD });
  const ref = kit.newRef();
  const hook = '--import=data:text/javascript,process.stdout.write(JSON.stringify(process.env))';
  await launch(driver, ref, {
    secrets: {
      NODE_OPTIONS: hook,
      LD_PRELOAD: '/nonexistent/preload.so',
      GOOGLE_APPLICATION_CREDENTIALS: '/etc/creds.json',
      APP_SECRET: 'allowed-value',
    },
    vars: { GREETING: 'hello', PATH: '/attacker/bin', TENANT_NAME: 'acme' },
  });
  // What the workload runs with, and what it was started with: neither holds a refused name.
  const seen = Object.entries((await workloadSeen(dataDir, ref)).env).map(([k, v]) => `${k}=${v}`);
  const started = environOf((await readPid(dataDir, ref))!);
  t.false(started.some((v) => /^(NODE_OPTIONS|LD_PRELOAD|GOOGLE_APPLICATION_CREDENTIALS)=/.test(v)));
  const environ = seen;
  const names = environ.map((v) => v.split('=')[0]);
  for (const name of ['NODE_OPTIONS', 'LD_PRELOAD', 'GOOGLE_APPLICATION_CREDENTIALS'])
    t.false(names.includes(name), `${name} reached the process`);
  t.false(environ.some((v) => v.startsWith('PATH=') && v.includes('/attacker')));
  t.true(environ.includes('APP_SECRET=allowed-value'));
  t.true(environ.includes('TENANT_NAME=acme'), 'a var the platform itself sets passes');
  t.true(environ.includes('TENANTPLANE_SECRET_KEYS=APP_SECRET'));
  const system = (await driver.logs!(ref, { limit: 1000 }))
    .filter((l) => l.stream === 'system')
    .map((l) => l.text)
    .join('\n');
  for (const dropped of ['secret "NODE_OPTIONS"', 'secret "LD_PRELOAD"', 'secret "GOOGLE_APPLICATION_CREDENTIALS"', 'var "PATH"']) {
    t.true(system.includes(dropped), `the system log does not name ${dropped}:\n${system}`);
  }
  t.false(system.includes('"TENANT_NAME"'));
  for (const value of [hook, '/nonexistent/preload.so', '/etc/creds.json', '/attacker/bin']) t.false(system.includes(value));
});

// Users and folders

rootTest(
  'each environment runs as its own uid (as root), keeps it across a control-plane restart, and its folders are its own',
  async (t) => {
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
  },
);

test.serial(
  'with isolateUsers off the workload runs as the control plane and the flags say so; a privileged uid range is refused',
  async (t) => {
    const { driver, dataDir } = await kit.makeDriver({ isolateUsers: false });
    t.false(driver.flags.isolatedUsers);
    t.false(driver.flags.isolatedNetwork, 'without users of its own a workload cannot be told apart by the firewall');
    t.regex(driver.network.reason!, /control plane's user/);
    t.throws(() => createLocalDriver({ dataDir, isolateUsers: false, isolateNetwork: true }), {
      message: /isolateNetwork needs isolated users/,
    });
    const ref = kit.newRef();
    await launch(driver, ref);
    t.is(readUid((await readPid(dataDir, ref))!), process.getuid!());
    t.is(((await stat(dataFolder(dataDir, ref))).mode & 0o777).toString(8), '700');
    const error = t.throws(() => createLocalDriver({ dataDir, uidRange: { from: 0, to: 10 } }));
    t.regex(error!.message, /uidRange .* unprivileged uids; use e\.g\. \{ from: 200000, to: 299999 \}/);
  },
);
