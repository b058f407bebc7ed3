/**
 * Issue 20's operator walk-through, as an operator types it: push two versions
 * of a small app, create 20 tenants, roll version 2 out in the default waves,
 * roll out a version 3 whose health check fails and watch the canary stop it,
 * then roll back — every step through the CLI (`node cli/bin.js …`) against a
 * whole stack on the local runtime, while a client calls every environment the
 * whole time and must never see a failed request.
 */
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callEvery, type ContinuousClient } from '../testing/rollouts.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { createCliHome, type CliHome, type CliRun } from './cli-test-kit.ts';

const TENANTS = 20;

let stack: TestStack;
let admin: TestUser;
let cli: CliHome;
let apps: string;
let tenants: { id: string; name: string; urls: Record<string, string> }[] = [];
let client: ContinuousClient | undefined;

/** An app folder as an operator has one: package.json with a start script; `/` and `/health` answer the version. */
async function writeApp(version: string, healthy: boolean): Promise<string> {
  const folder = join(apps, `v${version[0]}`);
  await mkdir(folder, { recursive: true });
  await writeFile(
    join(folder, 'package.json'),
    JSON.stringify({ name: 'walk-app', version, type: 'module', scripts: { start: 'node server.js' } }),
  );
  await writeFile(
    join(folder, 'server.js'),
    `import { createServer } from 'node:http';
const version = ${JSON.stringify(version)};
createServer((req, res) => {
  const broken = ${!healthy} && req.url === '/health';
  res.writeHead(broken ? 500 : 200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ version, status: broken ? 'broken' : 'ok' }));
}).listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');
`,
  );
  return folder;
}

/** Runs the CLI; a failure message carries both streams, so a broken step says why. */
const run = (args: string[], timeoutMs = 120_000): Promise<CliRun> => cli.run(args, { timeoutMs });
const said = (r: CliRun) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** What `/` of every tenant's live environment answers, keyed by tenant id. */
async function versions(): Promise<Record<string, string>> {
  const entries = await Promise.all(
    tenants.map(async (t) => {
      const version = await fetch(t.urls.live, { signal: AbortSignal.timeout(10_000) })
        .then((r) => r.json())
        .then((b) => String(b.version))
        .catch(() => 'down');
      return [t.id, version] as const;
    }),
  );
  return Object.fromEntries(entries);
}
/** The event types a watch printed (`HH:MM:SS  type …` lines), space-separated in order. */
const eventTypes = (r: CliRun) => [...r.stdout.matchAll(/^\d\d:\d\d:\d\d {2}(\w+)/gm)].map((m) => m[1]).join(' ');
/** Whether the watch's clock never goes back from one event to the next (a wrap past midnight aside). */
const inTimeOrder = (r: CliRun) => {
  const seconds = [...r.stdout.matchAll(/^(\d\d):(\d\d):(\d\d) {2}/gm)].map((m) => Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]));
  return seconds.every((s, i) => i === 0 || s >= seconds[i - 1] || seconds[i - 1] - s > 12 * 3600);
};
const everyone = (version: string) => Object.fromEntries(tenants.map((t) => [t.id, version]));

test.before(async () => {
  // The platform's defaults, as after `npm start`: the local runtime gives a version that never gets healthy 15 s.
  stack = await startTestStack();
  admin = await createTestUser(stack.deps, { role: 'admin' });
  cli = createCliHome();
  apps = await mkdtemp(join(tmpdir(), 'tp-walk-apps-'));
  const login = await run(['login', '--url', stack.url, '--token', admin.token]);
  if (login.code !== 0) throw new Error(`login failed: ${said(login)}`);
});
test.after.always(async () => {
  await client?.stop();
  // Closing the stack stops every tenant process and drops its project and data folder.
  cli?.remove();
  if (apps) await rm(apps, { recursive: true, force: true });
  await stack?.close();
});

test.serial('an operator rolls v2 out to 20 tenants, watches a broken v3 stop at the canary, and rolls it back', async (t) => {
  t.timeout(400_000);

  // Push: three app folders become images, and each image a release.
  const releases: Record<string, string> = {};
  for (const [name, version, healthy] of [
    ['v1', '1.0.0', true],
    ['v2', '2.0.0', true],
    ['v3', '3.0.0', false],
  ] as const) {
    const push = await run(['images', 'push', await writeApp(version, healthy)]);
    t.is(push.code, 0, said(push));
    releases[name] = push.stdout.trim();
    t.regex(releases[name], /^local\/walk-app@sha256:[a-f0-9]{64}$/);
    const created = await run(['releases', 'create', name, '--image', releases[name], '--notes', `version ${version}`]);
    t.is(created.code, 0, said(created));
  }

  // Tenants: `tenantplane create` follows each provisioning to its end; one environment (live) each keeps the machine's load down.
  const names = Array.from({ length: TENANTS }, (_, i) => `walk-${String(i + 1).padStart(2, '0')}`);
  for (let i = 0; i < names.length; i += 5) {
    const batch = await Promise.all(names.slice(i, i + 5).map((name) => run(['create', name, '--env', 'live'], 180_000)));
    for (const r of batch) t.is(r.code, 0, said(r));
  }
  const listed = await run(['list', '--json']);
  t.is(listed.code, 0, said(listed));
  tenants = JSON.parse(listed.stdout).tenants;
  t.is(tenants.length, TENANTS);
  t.true(tenants.every((x) => x.urls.live && Object.keys(x.urls).length === 1));

  // v1 everywhere first, so every tenant runs a known release.
  const first = await run(['rollouts', 'start', 'v1', '--waves', '100%', '--soak', '1', '--yes'], 300_000);
  t.is(first.code, 0, said(first));
  t.regex(first.stdout, /rollout_succeeded/);
  t.deepEqual(await versions(), everyone('1.0.0'));

  // From here to the end, a client calls every environment.
  client = callEvery(
    tenants.map((x) => x.urls.live),
    100,
  );

  // v2 with the default waves (canary 1 → 10 % → 50 % → rest: 1, 1, 8, 10 of 20) and a short soak.
  const second = await run(['rollouts', 'start', 'v2', '--soak', '1', '--yes'], 300_000);
  t.is(second.code, 0, said(second));
  for (const [wave, size] of [
    [1, 1],
    [2, 1],
    [3, 8],
    [4, 10],
  ])
    t.regex(second.stdout, new RegExp(`wave_started +\\[wave ${wave}\\] Wave ${wave} of 4: ${size} tenant\\(s\\)`));
  // Each wave's start comes before its environments move, and its end after; the clock never goes back.
  t.regex(
    eventTypes(second),
    /^rollout_started (wave_started (environment_updating |environment_updated )+wave_soaking wave_done ){4}rollout_succeeded$/,
  );
  t.true(inTimeOrder(second), second.stdout);
  t.is((second.stdout.match(/environment_updated /g) ?? []).length, TENANTS);
  t.regex(second.stdout, /rollout_succeeded/);
  t.regex(second.stdout, /Rollout ro-\w+ of release v2: succeeded$/m);
  t.deepEqual(await versions(), everyone('2.0.0'));

  // v3's health check fails: the canary stops the rollout, and the command says it did not succeed.
  const third = await run(['rollouts', 'start', 'v3', '--soak', '1', '--yes'], 300_000);
  t.is(third.code, 1, said(third));
  const id = /Rollout (ro-\w+) of release v3/.exec(third.stdout)?.[1];
  t.truthy(id, said(third));
  t.is(eventTypes(third), 'rollout_started wave_started environment_updating environment_failed rollout_paused');
  t.regex(
    third.stdout,
    /environment_failed .* did not come up \(\/health still answered 500 after \d+ ms\); the previous version .* keeps serving/,
  );
  t.regex(third.stdout, /Rollout ro-\w+ of release v3: paused — Wave 1: 1 tenant\(s\) failed/);
  t.notRegex(third.stdout, /wave_started +\[wave 2\]/);
  const touched = new Set([...third.stdout.matchAll(/environment_\w+ +\[(t-\w+) live\]/g)].map((m) => m[1]));
  t.is(touched.size, 1, `only the canary was touched:\n${third.stdout}`);
  const [canary] = touched;
  t.regex(third.stdout, new RegExp(`environment_failed +\\[${canary} live\\]`));
  t.deepEqual(await versions(), everyone('2.0.0'), 'the canary kept serving v2 beside the broken v3');

  const status = await run(['rollouts', 'status', id!]);
  t.is(status.code, 0, said(status));
  t.regex(
    status.stdout,
    new RegExp(`Rollout ${id} of release v3: paused — Wave 1: 1 tenant\\(s\\) failed \\(${canary}\\), over the error budget`),
  );
  t.regex(status.stdout, /wave 1 .* 1 tenant\(s\) +failed +0\/1 healthy, 1 failed/);
  t.regex(status.stdout, /wave 2 .* 1 tenant\(s\) +pending +0\/1 healthy/);

  // Watching it again says the same: it stopped without succeeding.
  const watched = await run(['rollouts', 'watch', id!]);
  t.is(watched.code, 1, said(watched));
  t.regex(watched.stdout, new RegExp(`Rollout ${id} of release v3: paused`));

  // Roll back: the watch ends rolled_back, and every tenant answers v2.
  const back = await run(['rollouts', 'rollback', id!, '--yes'], 300_000);
  t.is(back.code, 0, said(back));
  t.regex(eventTypes(back), / rollout_rolling_back environment_rolling_back environment_rolled_back rollout_rolled_back$/);
  t.true(inTimeOrder(back), back.stdout);
  t.regex(back.stdout, new RegExp(`Rollout ${id} of release v3: rolled_back`));
  t.deepEqual(await versions(), everyone('2.0.0'));

  await client.stop();
  t.deepEqual(client.failures, [], 'no call to any environment failed, from before v2 to the end');
  t.true(client.ok > TENANTS * 50, `${client.ok} calls answered`);
  client = undefined;
});
