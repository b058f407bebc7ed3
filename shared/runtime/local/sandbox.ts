/**
 * What a local workload may see (R-ISO-2): an environment built from nothing
 * (never the control plane's), its own OS user when the control plane runs as
 * root, and folders that user alone can read.
 *
 * Layout and modes, with users isolated: `<dataDir>` and `envs/` 0711 (no
 * listing), `envs/<key>/` 0711 root, `data/` 0700 owned by the environment's
 * uid (its HOME and cwd, `data/.tmp` its TMPDIR), `logs/` 0700 and its files
 * 0600 owned by the control plane: the workload writes them only through the
 * descriptors it is started with. Every folder above `<dataDir>` gets o+x
 * (traverse, never read) so the workload can reach its own folder.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  lchownSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { lchown, lstat, readdir } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { secretNameProblem } from '../../secrets/names.ts';
import type { ResolvedLocalOptions } from './options.ts';
import { readUid } from './process.ts';
import { updateRecord, type RuntimeState } from './state.ts';
import { DriverError } from '../types.ts';

/** Variables the platform itself puts in `spec.vars` (shared/tenants/worker-env.ts); tenants set secrets, not vars. */
const PLATFORM_VARS = new Set(['TENANT_NAME', 'TENANT_PLAN']);
/** The control plane's locale only; nothing else of its environment reaches a workload. */
const INHERITED = ['LANG', 'LC_ALL', 'TZ'];

/** The OS user and group a workload runs as; absent when users are not isolated. */
export interface WorkloadIdentity {
  uid: number;
  gid: number;
}

export interface WorkloadFolders {
  dataDir: string;
  tmpDir: string;
  logDir: string;
}

/**
 * `spec.vars` and secrets whose names the rule of `shared/secrets/names.ts`
 * allows, as defence in depth behind the API: the others are dropped and named
 * in `dropped` (never their values). Vars come from the platform, so the
 * tenant-describing names it sets itself pass.
 */
export function allowedVariables(
  vars: Record<string, string>,
  secrets: Record<string, string>,
): { vars: Record<string, string>; secrets: Record<string, string>; dropped: string[] } {
  const dropped: string[] = [];
  const keep = (kind: string, from: Record<string, string>, exempt: (name: string) => boolean) => {
    const kept: Record<string, string> = Object.create(null);
    for (const [name, value] of Object.entries(from)) {
      const problem = exempt(name) ? undefined : secretNameProblem(name);
      if (problem) dropped.push(`${kind} ${JSON.stringify(name.slice(0, 80))} (${problem})`);
      else kept[name] = value;
    }
    return kept;
  };
  return { vars: keep('var', vars, (name) => PLATFORM_VARS.has(name)), secrets: keep('secret', secrets, () => false), dropped };
}

/**
 * The workload's whole environment, built from nothing: the control plane's
 * locale, a PATH that finds this Node, then `variables` in order (later win).
 */
export function buildWorkloadEnv(...variables: Record<string, string>[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) if (process.env[name] !== undefined) env[name] = process.env[name]!;
  env.PATH = [...new Set([dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'])].join(':');
  return Object.assign(env, ...variables);
}

/** uids of every running process, so a uid another control plane's workload holds is not handed out again. */
export function runningUids(): Set<number> {
  const uids = new Set<number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return uids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    // The owner of /proc/<pid> is the process's user, and a stat costs far less than reading its status (a burst of
    // launches scanned every process once per launch). A process that is not dumpable shows as root there: read it.
    let uid: number | undefined;
    try {
      uid = statSync(`/proc/${entry}`).uid;
    } catch {
      continue;
    }
    if (uid === 0) uid = readUid(Number(entry));
    if (uid !== undefined) uids.add(uid);
  }
  return uids;
}

/**
 * The environment's uid: the one its record holds, else the lowest of the range
 * that no environment of this dataDir holds and no running process uses. Chosen
 * and recorded under the state lock, so two environments never get the same one
 * and a restarted control plane reuses it. A recorded uid never changes, so
 * `recorded` (the uid of the record the caller holds) is answered without the lock.
 */
export async function assignIdentity(opts: ResolvedLocalOptions, key: string, recorded?: number): Promise<WorkloadIdentity> {
  if (recorded !== undefined) return { uid: recorded, gid: recorded };
  const rec = await updateRecord(opts.dataDir, key, (current, state) => {
    if (!current) throw new DriverError('local', 'not_found', `environment ${key} does not exist; call ensureInfrastructure first`);
    return current.uid !== undefined ? current : { ...current, uid: pickUid(opts, state, key) };
  });
  return { uid: rec!.uid!, gid: rec!.uid! };
}

/**
 * The uids running processes use, per state read: the environments of one write of the state file (a launch of
 * demo, test and live) share one scan of /proc. No workload starts while the lock is held, and the uids picked
 * meanwhile are in the records.
 */
const scanned = new WeakMap<RuntimeState, Set<number>>();

/** A uid for `key` that no record of `state` holds and no running process uses; call under the state lock. */
export function pickUid(opts: ResolvedLocalOptions, state: RuntimeState, key: string): number {
  const taken = new Set(Object.values(state.environments).map((r) => r.uid));
  let busy = scanned.get(state);
  if (!busy) scanned.set(state, (busy = runningUids()));
  for (let uid = opts.uidRange.from; uid <= opts.uidRange.to; uid += 1) {
    if (!taken.has(uid) && !busy.has(uid)) return uid;
  }
  const { from, to } = opts.uidRange;
  throw new DriverError(
    'local',
    'failed',
    `no free uid left in ${from}–${to} for ${key}; widen the local driver's uidRange (LOCAL_UID_RANGE) or destroy unused environments`,
  );
}

/**
 * Creates the environment's folders with the modes above: `data/` (and its
 * `.tmp`) owned by `identity` — every file in it too, when it changed hands —
 * `logs/` readable by the control plane only.
 */
export async function prepareFolders(opts: ResolvedLocalOptions, envDir: string, identity?: WorkloadIdentity): Promise<WorkloadFolders> {
  // Synchronous calls, microseconds each on a local disk: a launch waited a turn of a busy event loop for each of
  // these (issue 19). Only handing a whole tree to a new owner, which is rare, stays asynchronous.
  const folders = { dataDir: join(envDir, 'data'), tmpDir: join(envDir, 'data', '.tmp'), logDir: join(envDir, 'logs') };
  mkdirSync(folders.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(folders.logDir, { recursive: true, mode: 0o700 });
  // envs/<key> is the control plane's, so the workload cannot swap data/ or logs/ for links.
  chmodSync(folders.logDir, 0o700);
  for (const file of readdirSync(folders.logDir)) chmodSync(join(folders.logDir, file), 0o600);
  chmodSync(folders.dataDir, 0o700);
  if (identity && statSync(folders.dataDir).uid !== identity.uid) {
    // A new environment's folder is empty: one call. A whole tree changing hands (a changed uid) is rare and may be large.
    if (readdirSync(folders.dataDir).length === 0) lchownSync(folders.dataDir, identity.uid, identity.gid);
    else await chownTree(folders.dataDir, identity);
  }
  ownTmpDir(folders.tmpDir, identity);
  if (!identity) return folders;
  for (const dir of [envDir, dirname(envDir), opts.dataDir]) chmodSync(dir, 0o711);
  try {
    chmodSync(join(opts.dataDir, 'locks'), 0o700);
  } catch {}
  allowTraverse(dirname(opts.dataDir));
  return folders;
}

/**
 * `data/.tmp` lies in the workload's own folder, where it could have put a link
 * to a file of root's: so it is opened without following links and changed
 * through that descriptor, and anything but a real folder there is replaced.
 */
function ownTmpDir(tmpDir: string, identity: WorkloadIdentity | undefined): void {
  for (let attempt = 0; ; attempt += 1) {
    try {
      mkdirSync(tmpDir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let fd: number;
    try {
      fd = openSync(tmpDir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (attempt > 2 || (code !== 'ELOOP' && code !== 'ENOTDIR')) throw error;
      rmSync(tmpDir, { force: true });
      continue;
    }
    try {
      if (identity) fchownSync(fd, identity.uid, identity.gid);
      fchmodSync(fd, 0o700);
      return;
    } finally {
      closeSync(fd);
    }
  }
}

/** Hands a folder and everything in it to `identity`, changing links themselves, never what they point to. */
async function chownTree(path: string, identity: WorkloadIdentity): Promise<void> {
  const info = await lstat(path);
  if (info.isDirectory()) {
    for (const entry of await readdir(path)) await chownTree(join(path, entry), identity);
  }
  await lchown(path, identity.uid, identity.gid);
}

/** Adds o+x (traverse, not read) to `dir` and every folder above it that lacks it. */
function allowTraverse(dir: string): void {
  for (let current = dir; ; current = dirname(current)) {
    const { mode } = statSync(current);
    if ((mode & 0o001) === 0) chmodSync(current, (mode & 0o7777) | 0o001);
    if (dirname(current) === current) return;
  }
}

/**
 * Checks that the workload's user can run the command: each absolute path in
 * `argv` that exists must be readable by others and sit in folders others may
 * traverse. @throws DriverError `not_configured` naming the path and the fix.
 */
export async function checkRunnableBy(argv: string[], identity: WorkloadIdentity): Promise<void> {
  for (const [index, arg] of argv.entries()) {
    if (!isAbsolute(arg)) continue;
    const info = statSync(arg, { throwIfNoEntry: false });
    if (!info) continue;
    const need = info.isDirectory() ? 0o005 : index === 0 ? 0o005 : 0o004;
    const problems: string[] = [];
    if (info.uid !== identity.uid && (info.mode & need) !== need) problems.push(`chmod o+${need & 0o001 ? 'rx' : 'r'} ${arg}`);
    for (let dir = dirname(arg); ; dir = dirname(dir)) {
      const d = statSync(dir);
      if (d.uid !== identity.uid && (d.mode & 0o001) === 0) problems.push(`chmod o+x ${dir}`);
      if (dirname(dir) === dir) break;
    }
    if (problems.length > 0) {
      throw new DriverError(
        'local',
        'not_configured',
        `the workload's user (uid ${identity.uid}) cannot reach ${arg}; run ${problems.map((p) => `"${p}"`).join(', ')}, or move the workload to a folder others may read`,
      );
    }
  }
}
