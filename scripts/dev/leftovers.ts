/**
 * What `npm start` leaves behind when it is killed hard (kill -9, a closed
 * terminal, the OOM killer): its emulators run on in their own process groups
 * and hold their ports. Each run records its own pid and each emulator's
 * process group with its command line in `DATA_DIR/run.json`; the next run
 * finds them there, saves their data (so nothing since the last autosave is
 * lost) and stops them, instead of refusing because the ports are busy. A pid
 * whose command line no longer matches belongs to someone else and is left alone.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RecordedProcess {
  name: string;
  /** The process group leader's pid (startManaged starts each emulator detached). */
  pid: number;
  cmdline: string;
  /** Where its data can be saved from before it is stopped. */
  firestoreHost?: string;
  authHubPort?: number;
}

export interface RunRecord {
  pid: number;
  cmdline: string;
  projectId: string;
  processes: RecordedProcess[];
}

const recordPath = (dataDir: string) => join(dataDir, 'run.json');

/** A live process's command line (NUL-separated arguments joined by spaces), or undefined when it is gone. */
export function commandLine(pid: number): string | undefined {
  try {
    // A zombie (exited, not yet reaped) has an empty command line: it counts as gone.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` still runs the command it ran when recorded. */
export function isSameProcess(pid: number, cmdline: string): boolean {
  return commandLine(pid) === cmdline;
}

export function writeRunRecord(dataDir: string, record: RunRecord): void {
  writeFileSync(recordPath(dataDir), JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
}

export function removeRunRecord(dataDir: string): void {
  rmSync(recordPath(dataDir), { force: true });
}

function readRunRecord(dataDir: string): RunRecord | undefined {
  try {
    return existsSync(recordPath(dataDir)) ? (JSON.parse(readFileSync(recordPath(dataDir), 'utf8')) as RunRecord) : undefined;
  } catch {
    return undefined;
  }
}

export class AlreadyRunningError extends Error {}

export interface LeftoverOptions {
  dataDir: string;
  log: (line: string) => void;
  /** Saves a live leftover's data before it is stopped (the Firestore and Auth exports). */
  save?: (leftover: RecordedProcess, projectId: string) => Promise<void>;
}

/**
 * Stops the emulators an earlier run left behind, after saving their data.
 * Throws AlreadyRunningError when that earlier `npm start` itself still runs.
 * Returns the names of what it stopped.
 */
export async function stopLeftovers(options: LeftoverOptions): Promise<string[]> {
  const record = readRunRecord(options.dataDir);
  if (!record) return [];
  if (record.pid !== process.pid && isSameProcess(record.pid, record.cmdline)) {
    throw new AlreadyRunningError(
      `tenantplane is already running (pid ${record.pid}): use that one, or stop it with Ctrl-C in its terminal (or \`kill ${record.pid}\`) and start again.`,
    );
  }
  const stopped: string[] = [];
  for (const leftover of record.processes) {
    if (!isSameProcess(leftover.pid, leftover.cmdline)) continue;
    options.log(
      `Found the ${leftover.name} emulator of an earlier run still running (pid ${leftover.pid}): saving its data and stopping it.`,
    );
    await options
      .save?.(leftover, record.projectId)
      .catch((err) => options.log(`  Could not save its data (${(err as Error).message}); the last autosave is used.`));
    await stopGroup(leftover.pid);
    stopped.push(leftover.name);
  }
  removeRunRecord(options.dataDir);
  return stopped;
}

/** SIGTERM to the whole group, SIGKILL after 5 s, and wait until the leader is gone. */
async function stopGroup(pid: number): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + 5000;
  while (commandLine(pid) !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  signal('SIGKILL');
  while (commandLine(pid) !== undefined && Date.now() < deadline + 3000) await new Promise((r) => setTimeout(r, 100));
}
