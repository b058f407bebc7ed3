import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlreadyRunningError, commandLine, stopLeftovers, writeRunRecord, type RecordedProcess } from './leftovers.ts';

/** A stand-in emulator: a detached process group, like startManaged makes. */
async function startStandIn(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'tenantplane-leftover-stand-in'], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  while (!commandLine(child.pid!)?.includes('stand-in')) await new Promise((r) => setTimeout(r, 20));
  return child.pid!;
}

const dirs: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-leftovers-'));
  dirs.push(dir);
  return dir;
};
test.after.always(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('the emulators of a hard-killed run are saved, then stopped', async (t) => {
  const dir = dataDir();
  const pid = await startStandIn();
  const leftover: RecordedProcess = { name: 'Firestore', pid, cmdline: commandLine(pid)!, firestoreHost: '127.0.0.1:1' };
  writeRunRecord(dir, { pid: 2 ** 22 + 1, cmdline: 'node scripts/start.ts', projectId: 'demo-x', processes: [leftover] });
  const saved: string[] = [];
  const stopped = await stopLeftovers({ dataDir: dir, log: () => {}, save: async (p, project) => void saved.push(`${p.name}@${project}`) });
  t.deepEqual(stopped, ['Firestore']);
  t.deepEqual(saved, ['Firestore@demo-x'], 'its data is saved before it stops');
  t.is(commandLine(pid), undefined, 'the process is gone');
  t.deepEqual(await stopLeftovers({ dataDir: dir, log: () => {} }), [], 'the record is cleared');
});

test('a recorded pid now running something else is left alone', async (t) => {
  const dir = dataDir();
  const pid = await startStandIn();
  writeRunRecord(dir, {
    pid: 2 ** 22 + 1,
    cmdline: 'x',
    projectId: 'demo-x',
    processes: [{ name: 'Auth', pid, cmdline: 'java -jar something-else' }],
  });
  t.deepEqual(await stopLeftovers({ dataDir: dir, log: () => {} }), []);
  t.truthy(commandLine(pid), 'still running');
  process.kill(-pid, 'SIGKILL');
});

test('an earlier npm start that still runs is named, not killed', async (t) => {
  const dir = dataDir();
  const pid = await startStandIn();
  writeRunRecord(dir, { pid, cmdline: commandLine(pid)!, projectId: 'demo-x', processes: [] });
  const error = await t.throwsAsync(stopLeftovers({ dataDir: dir, log: () => {} }), { instanceOf: AlreadyRunningError });
  t.regex(error!.message, new RegExp(`already running \\(pid ${pid}\\)`));
  t.truthy(commandLine(pid));
  process.kill(-pid, 'SIGKILL');
});
