import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const processes = fileURLToPath(new URL('./processes.ts', import.meta.url));

/** Whether `pid` still runs: a killed process its new parent has not reaped yet (a zombie) does not. */
const running = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

test('a process that dies of an uncaught error takes the processes it started through startManaged with it', async (t) => {
  const script = `const { startManaged } = await import(${JSON.stringify(processes)});
    const m = startManaged('sleeper', 'sleep', ['30']);
    console.log(m.child.pid);
    throw new Error('crash');`;
  const run = spawnSync(process.execPath, ['--import=tsx/esm', '--input-type=module', '-e', script], { encoding: 'utf8' });
  t.not(run.status, 0, 'the script crashed');
  const pid = Number(run.stdout.trim());
  t.true(pid > 0, run.stderr);
  // Killed at the script's exit; the kernel may take a moment to deliver it.
  for (let i = 0; i < 50 && running(pid); i++) await new Promise((r) => setTimeout(r, 20));
  t.false(running(pid), 'the managed process is gone');
});
