import test from 'ava';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discard, heldArgv, isWaiting, release } from './hold.ts';
import { startDetached } from './process.ts';
import {
  createLocalTestKit,
  ENV_WORKLOAD,
  findWorkloads,
  makeSpec,
  readPid,
  waitGone,
  workloadSeen,
} from '../../../testing/local-runtime.ts';

const kit = await createLocalTestKit(test);

/** A CommonJS script that writes what it sees to `out.json` beside it. */
async function scriptDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hold-'));
  await writeFile(
    join(dir, 'app.cjs'),
    "require('node:fs').writeFileSync(require('node:path').join(__dirname, 'out.json'), JSON.stringify({ main: require.main === module, argv: process.argv, execArgv: process.execArgv, env: process.env }));\n",
  );
  return dir;
}

test('a held Node process runs its script as `node script args` would, with exactly the environment it is released with', async (t) => {
  const dir = await scriptDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const held = await startDetached(heldArgv([process.execPath, 'app.cjs', 'one'], ['--max-old-space-size=64']), {
    env: { PATH: process.env.PATH!, STARTED_WITH: 'boot' },
    cwd: dir,
    logDir: join(dir, 'logs'),
    hold: true,
  });
  held.child.ref(); // the driver's children never keep it alive; this test waits for one
  t.true(isWaiting(held));
  release(held, { PATH: process.env.PATH!, GIVEN_LATER: 'secret-value' });
  const [code] = await once(held.child, 'exit');
  t.is(code, 0, readFileSync(join(dir, 'logs', 'stderr.log'), 'utf8'));
  const seen = JSON.parse(await readFile(join(dir, 'out.json'), 'utf8'));
  t.true(seen.main, 'require.main is the script');
  t.deepEqual(seen.argv.slice(1), [join(dir, 'app.cjs'), 'one']);
  t.deepEqual(seen.execArgv, ['--max-old-space-size=64'], 'a worker forked with execArgv does not run the boot');
  t.deepEqual(seen.env, { PATH: process.env.PATH, GIVEN_LATER: 'secret-value' }, 'nothing of the start environment is kept');
  t.false(isWaiting(held));
});

test('a held process let go without an environment exits without running its script', async (t) => {
  const dir = await scriptDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const held = await startDetached(heldArgv([process.execPath, 'app.cjs'], []), {
    env: { PATH: process.env.PATH! },
    cwd: dir,
    logDir: join(dir, 'logs'),
    hold: true,
  });
  held.child.ref();
  discard(held);
  const [code] = await once(held.child, 'exit');
  t.is(code, 0);
  await t.throwsAsync(readFile(join(dir, 'out.json')), { code: 'ENOENT' });
});

test.serial(
  'prepare starts the workload ahead; deploy hands it the spec, secrets included, which its start environment never held',
  async (t) => {
    const { driver, dataDir } = await kit.makeDriver({ command: ENV_WORKLOAD });
    const ref = kit.newRef();
    const spec = makeSpec(ref, { secrets: { API_TOKEN: 'tok-123' } });
    await driver.prepare!({ ...spec, secrets: {} });
    const [early] = findWorkloads(dataDir);
    t.truthy(early, 'a process runs before the deploy');
    await driver.ensureInfrastructure(spec);
    await driver.deploy(spec);
    await driver.waitReady(ref, { timeoutMs: 30_000 });
    t.is(await readPid(dataDir, ref), early, 'the deploy used the process started ahead');
    const seen = await workloadSeen(dataDir, ref);
    t.is(seen.env.API_TOKEN, 'tok-123');
    t.is(seen.env.GREETING, 'hello');
    t.is(seen.env.TENANTPLANE_SECRET_KEYS, 'API_TOKEN');
    t.false(readFileSync(`/proc/${early}/environ`, 'utf8').includes('tok-123'));
    const system = (await driver.logs!(ref, { limit: 100 })).filter((l) => l.stream === 'system').map((l) => l.text);
    t.true(
      system.some((line) => line.includes('started ahead')),
      system.join('\n'),
    );
  },
);

test.serial(
  'a workload prepared and never deployed is gone after a destroy; one prepared for another memory size is replaced',
  async (t) => {
    const { driver, dataDir } = await kit.makeDriver({ command: ENV_WORKLOAD });
    const gone = kit.newRef();
    await driver.prepare!(makeSpec(gone));
    const [pid] = findWorkloads(dataDir);
    t.truthy(pid);
    await driver.destroy(gone);
    await waitGone(pid);

    const ref = kit.newRef();
    await driver.prepare!(makeSpec(ref, { memoryMb: 256 }));
    const [ahead] = findWorkloads(dataDir);
    await driver.deploy(makeSpec(ref, { memoryMb: 512 }));
    await driver.waitReady(ref, { timeoutMs: 30_000 });
    await waitGone(ahead);
    const now = await readPid(dataDir, ref);
    t.not(now, ahead);
    t.deepEqual(findWorkloads(dataDir), [now]);
    t.deepEqual((await workloadSeen(dataDir, ref)).execArgv, ['--max-old-space-size=384']);
  },
);
