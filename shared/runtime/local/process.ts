/**
 * Child processes of the local runtime: start detached with output straight
 * into log files, tell our process from a reused pid, stop a process group,
 * probe HTTP. Linux /proc gives the identity checks; elsewhere callers fall
 * back to asking the workload's health endpoint who it is.
 */
import { readFileSync } from 'node:fs';
import { isPidAlive } from './state.ts';
import { spawnThroughHelper, type HeldInput, type SpawnedChild } from './spawner.ts';
import { DriverError } from '../types.ts';

export interface StartedProcess {
  child: SpawnedChild;
  pid: number;
  startTicks?: number;
  /** With `hold`: the write end of the child's descriptor 3. */
  input?: HeldInput;
}

/**
 * Starts `argv` in its own process group (`detached`), as `identity` when given,
 * with stdout/stderr going straight to `<logDir>/stdout.log` and `stderr.log`
 * through write-only file descriptors, not pipes, so it keeps running and
 * logging when the control plane exits without being able to read its logs.
 * With `hold`, descriptor 3 of the child is a pipe (`input`) that closes when
 * the control plane goes. The start itself is the helper's (spawner.ts).
 */
export async function startDetached(
  argv: string[],
  options: { env: Record<string, string>; cwd: string; logDir: string; identity?: { uid: number; gid: number }; hold?: boolean },
): Promise<StartedProcess> {
  try {
    // With uid/gid set, libuv also drops root's supplementary groups before exec.
    const { pid, child, input } = await spawnThroughHelper({
      file: argv[0],
      args: argv.slice(1),
      cwd: options.cwd,
      env: options.env,
      logDir: options.logDir,
      uid: options.identity?.uid,
      gid: options.identity?.gid,
      hold: options.hold,
    });
    return { child, pid, startTicks: readStartTicks(pid), input };
  } catch (error) {
    throw new DriverError(
      'local',
      'failed',
      `could not start ${JSON.stringify(argv[0])}: ${(error as Error).message}; check the local driver's command option`,
      { cause: error },
    );
  }
}

/** Fields of /proc/<pid>/stat after the command name, which may itself hold spaces and parentheses. */
export function readProcStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text
      .slice(text.lastIndexOf(')') + 2)
      .trim()
      .split(' ');
  } catch {
    return undefined;
  }
}

/** Process start time in clock ticks since boot (field 22), or undefined without /proc. */
export function readStartTicks(pid: number): number | undefined {
  const fields = readProcStat(pid);
  return fields ? Number(fields[19]) : undefined;
}

/** Real uid of a process (first field of `Uid:` in /proc/<pid>/status), or undefined without /proc. */
export function readUid(pid: number): number | undefined {
  try {
    const match = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie waiting to be reaped. */
export function isRunning(pid: number): boolean {
  if (!isPidAlive(pid)) return false;
  const fields = readProcStat(pid);
  return !fields || (fields[0] !== 'Z' && fields[0] !== 'X');
}

/**
 * Whether `pid` is still the process we started: same start time and a
 * command line holding our argv, running as `uid` when one was recorded. `undefined` when /proc cannot tell (not Linux),
 * so the caller asks the health endpoint instead. A pid now used by another
 * program answers false and must never be signalled.
 */
export function isOurProcess(pid: number, startTicks: number | undefined, argv: string[], uid?: number): boolean | undefined {
  if (!isRunning(pid)) return false;
  let cmdline: string[];
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return process.platform === 'linux' ? false : undefined;
  }
  if (startTicks !== undefined && readStartTicks(pid) !== startTicks) return false;
  if (uid !== undefined && readUid(pid) !== uid) return false;
  // The executable may be resolved through symlinks; its arguments are compared as given.
  return argv.slice(1).every((arg) => cmdline.includes(arg));
}

/** SIGTERM to the whole process group, SIGKILL after `timeoutMs`; resolves once it is gone. */
export async function stopGroup(pid: number, timeoutMs: number): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      try {
        process.kill(pid, name);
      } catch {
        // Already gone.
      }
    }
  };
  signal('SIGTERM');
  if (await waitGone(pid, timeoutMs)) return;
  signal('SIGKILL');
  if (!(await waitGone(pid, 5_000))) {
    throw new DriverError('local', 'timeout', `process ${pid} did not exit after SIGKILL; check it with "ps -p ${pid}"`);
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/** GET `url` and parse JSON; `undefined` on any failure (refused, timeout, non-2xx, not JSON). */
export async function getJson(url: string, timeoutMs = 1_000): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    const body = await res.json().catch(() => ({}));
    return body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  } catch {
    return undefined;
  }
}
