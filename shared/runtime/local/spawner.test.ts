import test from 'ava';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discard, heldArgv, isWaiting } from './hold.ts';
import { isRunning, startDetached } from './process.ts';
import { starterPid } from './spawner.ts';

async function folder(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spawner-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test.serial('a workload starts through the helper, logs to its files, and its exit code is reported', async (t) => {
  const dir = await folder(t);
  const started = await startDetached([process.execPath, '-e', "console.log('out');console.error('err');process.exit(7)"], {
    env: { PATH: process.env.PATH! },
    cwd: dir,
    logDir: join(dir, 'logs'),
  });
  t.truthy(starterPid());
  t.not(started.pid, starterPid());
  started.child.ref();
  const [code] = await once(started.child, 'exit');
  t.is(code, 7);
  t.is(await readFile(join(dir, 'logs', 'stdout.log'), 'utf8'), 'out\n');
  t.is(await readFile(join(dir, 'logs', 'stderr.log'), 'utf8'), 'err\n');
});

test.serial('a command that cannot start is refused with its reason, and the next start works', async (t) => {
  const dir = await folder(t);
  const error = await t.throwsAsync(startDetached([join(dir, 'no-such-program')], { env: {}, cwd: dir, logDir: join(dir, 'logs') }));
  t.regex(error!.message, /could not start ".*no-such-program": spawn .* ENOENT/);
  const next = await startDetached([process.execPath, '-e', '0'], { env: {}, cwd: dir, logDir: join(dir, 'logs') });
  next.child.ref();
  t.deepEqual(await once(next.child, 'exit'), [0, null]);
});

test.serial('when the helper dies, its held workloads exit and the next start makes a new helper', async (t) => {
  const dir = await folder(t);
  const held = await startDetached(heldArgv([process.execPath, join(dir, 'never-run.cjs')], []), {
    env: { PATH: process.env.PATH! },
    cwd: dir,
    logDir: join(dir, 'logs'),
    hold: true,
  });
  t.true(isWaiting(held));
  const helper = starterPid()!;
  process.kill(helper, 'SIGKILL');
  // The held process sees its descriptor 3 close and exits; the helper that would report it is gone, so ask /proc.
  const deadline = Date.now() + 5000;
  while (isRunning(held.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  t.false(isRunning(held.pid), 'the held workload is gone');
  t.false(isWaiting(held));
  discard(held); // a no-op once the helper is gone
  const next = await startDetached([process.execPath, '-e', '0'], { env: {}, cwd: dir, logDir: join(dir, 'logs') });
  t.not(starterPid(), helper);
  next.child.ref();
  t.deepEqual(await once(next.child, 'exit'), [0, null]);
});
