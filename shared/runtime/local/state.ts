/**
 * The local runtime's memory between runs: `<dataDir>/runtime-state.json`,
 * plus the lock files that keep two control-plane processes sharing one
 * dataDir from acting on the same environment at once.
 *
 * Guarantees: every read-modify-write of the state file happens under
 * `runtime-state.json.lock` and lands by rename (never half-written); every
 * operation on one environment runs under `locks/<key>.lock`, in this process
 * and across processes, so at most one process is ever started for it.
 * A lock whose holder process is gone is broken; two processes breaking the
 * same stale lock in the same instant is the one race not covered.
 *
 * The file calls are synchronous (issue 19): each takes microseconds on a
 * local disk, while an asynchronous one waited its turn on a busy event loop;
 * a new environment made about fifteen of them one after another, 35–100 ms
 * in all while launches ran.
 */
import { randomBytes } from 'node:crypto';
import {
  type BigIntStats,
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { DriverError, type EnvironmentRef } from '../types.ts';

/** The spec as stored: no secret values, only their names and a salted digest to notice a change. */
export interface StoredSpec {
  image: string;
  memoryMb: number;
  vars: Record<string, string>;
  labels: Record<string, string>;
  secretKeys: string[];
  secretsDigest: string;
}

export interface EnvRecord {
  ref: EnvironmentRef;
  /** Reserved at ensureInfrastructure, kept until destroy so the URL never changes. */
  port: number;
  /** `none`: infrastructure only, never deployed. */
  desired: 'none' | 'running' | 'stopped';
  pid?: number;
  /** The command `pid` was started with (without the heap flag), so a changed `command` option does not disown it. */
  argv?: string[];
  /** Start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22): tells our process from a reused pid. */
  pidStartTicks?: number;
  startedAt?: string;
  /** OS user (and group, same number) the workload runs as when users are isolated; kept until destroy so a restart reuses it. */
  uid?: number;
  spec?: StoredSpec;
  /** Seconds of finished runs; the current run is added live by `usage`. */
  runningSeconds: number;
  /** Requests served by finished runs (read from the workload's /metrics before stopping it). */
  requests: number;
  lastError?: string;
  createdAt: string;
  /**
   * Set while the workload runs behind the driver's front (sleep.ts): the port
   * the workload itself binds, while the front holds `port`. Absent for a
   * workload that binds `port` itself (sleep off for it).
   */
  innerPort?: number;
  /**
   * A second process of the environment during an update (sleep.ts): the new
   * version while it starts beside the current one, or the old one while its
   * requests drain. Adoption after a crash stops it.
   */
  spare?: Pick<EnvRecord, 'pid' | 'argv' | 'pidStartTicks' | 'uid' | 'innerPort' | 'startedAt'>;
  /** Set while a running environment sleeps: its process was stopped for idleness and its next request starts it. */
  sleepingSince?: string;
}

export interface RuntimeState {
  version: 1;
  environments: Record<string, EnvRecord>;
}

const ENV_NAME = /^[a-z0-9]{1,20}$/;
const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,29}$/;

/** `<tenantId>-<env>`; unambiguous because env names carry no hyphen. Also the folder name, so it is validated. */
export function toEnvKey(ref: EnvironmentRef): string {
  if (!TENANT_ID.test(ref.tenantId) || !ENV_NAME.test(ref.env)) {
    throw new DriverError(
      'local',
      'failed',
      `invalid environment ${JSON.stringify({ tenantId: ref.tenantId, env: ref.env })}: tenantId must match ${TENANT_ID} and env ${ENV_NAME}, e.g. { tenantId: "acme", env: "demo" }`,
    );
  }
  return `${ref.tenantId}-${ref.env}`;
}

export function statePath(dataDir: string): string {
  return join(dataDir, 'runtime-state.json');
}

/**
 * The state file as this process last read or wrote it, per file, with an
 * open descriptor of that version (issue 19: the file holds every
 * environment, and a burst of 100 launches read it about 900 times, 1.5 ms a
 * parse). While the descriptor is open its inode cannot be reused, so a file
 * whose path still leads to the same inode, with the same size and
 * modification time, is the version kept here; any other write (always a new
 * file renamed over it, here and in every other process) shows as another inode.
 */
interface Known {
  fd: number;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  state: RuntimeState;
}
const known = new Map<string, Known>();
/** Files whose version is kept at once: one per data folder in use, and tests use many. */
const KNOWN_FILES = 16;

/** A copy whose list of environments the caller may change; the records themselves are never changed in place. */
const copyOf = (state: RuntimeState): RuntimeState => ({ version: 1, environments: { ...state.environments } });

function forget(file: string): void {
  const old = known.get(file);
  if (!old) return;
  known.delete(file);
  closeSync(old.fd);
}

function remember(file: string, fd: number, stat: BigIntStats, state: RuntimeState): void {
  forget(file);
  known.set(file, { fd, ino: stat.ino, size: stat.size, mtimeNs: stat.mtimeNs, state: copyOf(state) });
  if (known.size > KNOWN_FILES) forget(known.keys().next().value as string);
}

export async function readState(dataDir: string): Promise<RuntimeState> {
  const file = statePath(dataDir);
  const now = statSync(file, { bigint: true, throwIfNoEntry: false });
  if (!now) {
    forget(file);
    return { version: 1, environments: {} };
  }
  const kept = known.get(file);
  if (kept && kept.ino === now.ino && kept.size === now.size && kept.mtimeNs === now.mtimeNs) return copyOf(kept.state);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    // Deleted since the stat.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, environments: {} };
    throw error;
  }
  try {
    // Stat before reading: a change made while reading shows as a newer version next time.
    const stat = fstatSync(fd, { bigint: true });
    const state = parseState(file, readFileSync(fd, 'utf8'));
    remember(file, fd, stat, state);
    return state;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function parseState(file: string, text: string): RuntimeState {
  try {
    const state = JSON.parse(text) as RuntimeState;
    if (state.version !== 1 || typeof state.environments !== 'object') throw new Error('unexpected shape');
    return state;
  } catch (error) {
    throw new DriverError(
      'local',
      'failed',
      `${file} is not a valid runtime state (${String(error)}); move it aside to start over (running processes would then be orphaned)`,
      { cause: error },
    );
  }
}

async function writeState(dataDir: string, state: RuntimeState): Promise<void> {
  const file = statePath(dataDir);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, `${JSON.stringify(state, null, 2)}\n`);
    const stat = fstatSync(fd, { bigint: true });
    renameSync(tmp, file);
    remember(file, fd, stat, state);
  } catch (error) {
    closeSync(fd);
    unlinkQuietly(tmp);
    throw error;
  }
}

interface PendingChange {
  key: string;
  change: (current: EnvRecord | undefined, state: RuntimeState) => EnvRecord | undefined | Promise<EnvRecord | undefined>;
  resolve: (rec: EnvRecord | undefined) => void;
  reject: (error: unknown) => void;
}
/** Per data folder, the changes waiting for the next write of the state file. */
const openGroups = new Map<string, PendingChange[]>();

/**
 * Changes one environment's record under the state lock, re-reading the file
 * first so changes made by another process to other environments are kept.
 * `change` returns the new record, or `undefined` to delete it. Changes this
 * process asks for while a write is under way are applied together, in order,
 * by the next read and write of the file (issue 19: the file holds every
 * environment, and a burst of 100 launches rewrote it hundreds of times one
 * after another); each change sees the ones before it, and one that throws
 * fails alone.
 */
export function updateRecord(dataDir: string, key: string, change: PendingChange['change']): Promise<EnvRecord | undefined> {
  return new Promise((resolve, reject) => {
    const open = openGroups.get(dataDir);
    if (open) return void open.push({ key, change, resolve, reject });
    const group: PendingChange[] = [{ key, change, resolve, reject }];
    openGroups.set(dataDir, group);
    const settled: (() => void)[] = [];
    withLock(`${statePath(dataDir)}.lock`, 10_000, async () => {
      // From here on, new changes form the next group.
      if (openGroups.get(dataDir) === group) openGroups.delete(dataDir);
      const state = await readState(dataDir);
      // A group whose every change answered the record it was given (a deploy's check of a port and uid already
      // held) leaves the file as it is: no write.
      let changed = false;
      for (const item of group) {
        try {
          const current = state.environments[item.key];
          const next = await item.change(current, state);
          if (next !== current) changed = true;
          if (next) state.environments[item.key] = next;
          else delete state.environments[item.key];
          settled.push(() => item.resolve(next));
        } catch (error) {
          settled.push(() => item.reject(error));
        }
      }
      if (changed) await writeState(dataDir, state);
    }).then(
      () => {
        for (const settle of settled) settle();
      },
      (error: unknown) => {
        if (openGroups.get(dataDir) === group) openGroups.delete(dataDir);
        for (const item of group) item.reject(error);
      },
    );
  });
}

/** Serializes holders of one lock path inside this process, whichever driver object they belong to. */
const inProcess = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` holding `lockPath`: first in-process (a promise chain), then across
 * processes (an O_EXCL lock file naming the holder's pid).
 * @throws DriverError `timeout` naming the lock and its holder when it stays taken longer than `timeoutMs`.
 */
export async function withLock<T>(lockPath: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const previous = inProcess.get(lockPath) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => {
    release = r;
  });
  const chained = previous.then(() => mine);
  inProcess.set(lockPath, chained);
  try {
    await previous;
    await acquireFileLock(lockPath, timeoutMs);
    try {
      return await fn();
    } finally {
      unlinkQuietly(lockPath);
    }
  } finally {
    release();
    if (inProcess.get(lockPath) === chained) inProcess.delete(lockPath);
  }
}

async function acquireFileLock(lockPath: string, timeoutMs: number): Promise<void> {
  mkdirSync(dirname(lockPath), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(readQuietly(lockPath), 10);
    // This process holds the in-process mutex, so a lock file with our own pid is left over from a
    // crashed process that had the same pid; one naming a dead pid is left over from a crash too.
    if (Number.isInteger(holder) && (holder === process.pid || !isPidAlive(holder))) {
      unlinkQuietly(lockPath);
      continue;
    }
    if (Date.now() > deadline) {
      throw new DriverError(
        'local',
        'timeout',
        `lock ${lockPath} is still held by process ${holder || '(unknown)'} after ${timeoutMs} ms; if that process is stuck, stop it or delete the lock file`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** Math.min(attempt, 4), 250)));
  }
}

/** True when a process with this pid exists (a zombie counts as alive here; see `isRunning`). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readQuietly(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}
