/**
 * Starting and stopping one local environment's process, and everything the
 * driver remembers about it in memory (secret values, exit codes). The
 * callers in driver.ts hold the environment's lock around every function here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { workloadCommand } from './app-image.ts';
import { isNodeCommand, type ResolvedLocalOptions } from './options.ts';
import { writeSystemLog } from './logs.ts';
import { envDir, logDirOf } from './paths.ts';
import { getJson, isOurProcess, startDetached, stopGroup, type StartedProcess } from './process.ts';
import { canHold, discard, heldArgv, isWaiting, release } from './hold.ts';
import type { EnvRecords } from './records.ts';
import { pickInnerPort } from './sleep.ts';
import { allowedVariables, assignIdentity, buildWorkloadEnv, checkRunnableBy, prepareFolders, type WorkloadIdentity } from './sandbox.ts';
import { isPidAlive, readState, type EnvRecord, type StoredSpec } from './state.ts';
import { DriverError, type EnvironmentSpec } from '../types.ts';

/** Path of the workload's request counter; the sample tenant answers it, other workloads may not (requests then stay unknown). */
export const METRICS_PATH = '/metrics';

export interface LifecycleContext {
  opts: ResolvedLocalOptions;
  /** Secret values per environment key: only here and in the child's environment, never on disk. */
  secrets: Map<string, Record<string, string>>;
  /** Exits observed for children this process started, to date and explain them. */
  exits: Map<string, { pid: number; code: number | null; signal: string | null; at: number }>;
}

export function urlOf(opts: ResolvedLocalOptions, rec: EnvRecord, path = ''): string {
  return `http://${opts.publicHost}:${rec.port}${path}`;
}

/** Where the driver itself reaches the workload (its bind address, which may differ from the public host). */
function probeUrl(opts: ResolvedLocalOptions, rec: EnvRecord, path: string): string {
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  // Behind the front (sleep.ts) the workload binds its inner port; probes go to it, so they never count as visits.
  return `http://${host.includes(':') ? `[${host}]` : host}:${rec.innerPort ?? rec.port}${path}`;
}

/** The workload's health answer, or undefined when it does not answer 200. */
export function probeHealth(opts: ResolvedLocalOptions, rec: EnvRecord): Promise<Record<string, unknown> | undefined> {
  return getJson(probeUrl(opts, rec, opts.healthPath));
}

/**
 * Why a running workload is not ready after `startTimeoutMs`: the status its
 * health check answers (a broken release answers 500), or that it never answered.
 */
export async function describeUnready(opts: ResolvedLocalOptions, rec: EnvRecord): Promise<string> {
  const status = await fetch(probeUrl(opts, rec, opts.healthPath), { signal: AbortSignal.timeout(1_000) })
    .then(async (res) => {
      await res.body?.cancel();
      return res.status;
    })
    .catch(() => undefined);
  return status === undefined
    ? `no answer from ${opts.healthPath} within ${opts.startTimeoutMs} ms`
    : `${opts.healthPath} still answered ${status} after ${opts.startTimeoutMs} ms`;
}

export function probeMetrics(opts: ResolvedLocalOptions, rec: EnvRecord): Promise<Record<string, unknown> | undefined> {
  return getJson(probeUrl(opts, rec, METRICS_PATH));
}

/** A salted digest so a redeploy with changed secrets is noticed without storing the values. */
export function digestSecrets(secrets: Record<string, string>, salt = randomBytes(16).toString('hex')): string {
  const sorted = Object.keys(secrets)
    .sort()
    .map((k) => [k, secrets[k]]);
  return `${salt}:${createHash('sha256').update(salt).update(JSON.stringify(sorted)).digest('hex')}`;
}

export function toStoredSpec(spec: EnvironmentSpec, previous?: StoredSpec): StoredSpec {
  const salt = previous?.secretsDigest.split(':')[0];
  return {
    image: spec.image,
    memoryMb: spec.memoryMb,
    vars: { ...spec.vars },
    labels: { ...spec.labels },
    secretKeys: Object.keys(spec.secrets).sort(),
    secretsDigest: digestSecrets(spec.secrets, salt),
  };
}

export function isSameSpec(a: StoredSpec | undefined, b: StoredSpec): boolean {
  return !!a && JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Whether the recorded pid is still our workload. Uses /proc (start time and
 * command line); without /proc, asks the health endpoint which tenant it serves.
 */
export async function isOurs(opts: ResolvedLocalOptions, rec: EnvRecord): Promise<boolean> {
  if (!rec.pid) return false;
  const byProc = isOurProcess(rec.pid, rec.pidStartTicks, rec.argv ?? opts.command, rec.uid);
  if (byProc !== undefined) return byProc;
  const health = isPidAlive(rec.pid) ? await probeHealth(opts, rec) : undefined;
  return health?.tenantId === rec.ref.tenantId && health?.env === rec.ref.env;
}

/**
 * Secrets for a start that is not a deploy: the provider first (it has the
 * current values, e.g. after a rotation), then this process's memory.
 * @throws DriverError `not_configured` naming the keys when neither has them.
 */
export async function findSecrets(ctx: LifecycleContext, key: string, rec: EnvRecord): Promise<Record<string, string>> {
  const needed = rec.spec?.secretKeys ?? [];
  if (needed.length === 0) return {};
  if (ctx.opts.secretsProvider) return ctx.opts.secretsProvider(rec.ref);
  const known = ctx.secrets.get(key);
  if (known && needed.every((k) => k in known)) return known;
  throw new DriverError(
    'local',
    'not_configured',
    `cannot start ${key} again: its secrets ${needed.join(', ')} are not in this process's memory; pass the local driver a secretsProvider option, or deploy the environment again with its full spec`,
  );
}

/**
 * A workload made ready to start (hold.ts): its user, folders and port chosen,
 * and a Node workload's process already started, waiting for its environment.
 */
export interface HeldWorkload {
  image: string;
  memoryMb: number;
  /** The command as recorded (`rec.argv`) and the argv that starts it. */
  command: string[];
  argv: string[];
  cwd: string;
  logDir: string;
  identity?: WorkloadIdentity;
  innerPort?: number;
  /** The driver's own variables, which win over the spec's. */
  own: Record<string, string>;
  /** The started process of a Node workload; other commands start on release. */
  process?: StartedProcess;
}

/** An environment that may sleep binds a port of its own behind the front, which keeps its public port. */
const wantsInnerPort = (opts: ResolvedLocalOptions, rec: EnvRecord) =>
  opts.alwaysFront || opts.idleSleepMs(rec.ref, rec.spec?.vars ?? {}) > 0;

/** Prepares the start of `rec`'s spec up to the point where only its variables are missing (see HeldWorkload). */
export async function holdWorkload(ctx: LifecycleContext, key: string, rec: EnvRecord): Promise<HeldWorkload> {
  const { opts } = ctx;
  const spec = rec.spec;
  if (!spec) throw new DriverError('local', 'failed', `${key} was never deployed; call deploy with its spec first`);
  const identity = opts.isolateUsers ? await assignIdentity(opts, key, rec.uid) : undefined;
  const { dataDir, tmpDir, logDir } = await prepareFolders(opts, envDir(opts, key), identity);
  const innerPort = wantsInnerPort(opts, rec) ? await pickInnerPort(opts.host, opts.portRange) : undefined;
  const own = {
    HOME: dataDir,
    TMPDIR: tmpDir,
    PORT: String(innerPort ?? rec.port),
    HOST: opts.host,
    TENANT_ID: rec.ref.tenantId,
    ENV_NAME: rec.ref.env,
    IMAGE: spec.image,
    DATA_DIR: dataDir,
    MEMORY_MB: String(spec.memoryMb),
  };
  const command = await workloadCommand(opts, key, spec.image);
  const cwd = command.cwd ?? dataDir;
  const node = isNodeCommand(command.argv);
  // Node's heap is only part of its memory; three quarters of the limit leaves room for the rest.
  const flags = node ? [`--max-old-space-size=${Math.max(16, Math.floor(spec.memoryMb * 0.75))}`] : [];
  const argv = [command.argv[0], ...flags, ...command.argv.slice(1)];
  if (identity) await checkRunnableBy(argv, identity);
  const held = { image: spec.image, memoryMb: spec.memoryMb, command: command.argv, argv, cwd, logDir, identity, innerPort, own };
  if (!canHold(command.argv)) return held;
  // Started with the driver's variables only; the rest, secrets included, arrive on release.
  const started = await startDetached(heldArgv(command.argv, flags), { env: buildWorkloadEnv(own), cwd, logDir, identity, hold: true });
  return { ...held, process: started };
}

/** Lets a held workload go unstarted. */
export function discardHeld(held: HeldWorkload): void {
  if (held.process) discard(held.process);
}

/**
 * Starts the workload for `rec` with `secrets` and returns the record
 * describing the new run: `held` when it was held for this image and memory
 * and still waits, else a new start.
 */
export async function startWorkload(
  ctx: LifecycleContext,
  key: string,
  rec: EnvRecord,
  secrets: Record<string, string>,
  held?: HeldWorkload,
): Promise<EnvRecord> {
  const spec = rec.spec;
  const usable =
    held &&
    spec &&
    held.image === spec.image &&
    held.memoryMb === spec.memoryMb &&
    !!held.innerPort === wantsInnerPort(ctx.opts, rec) &&
    (!held.process || isWaiting(held.process));
  if (held && !usable) discardHeld(held);
  const ready = usable ? held : await holdWorkload(ctx, key, rec);
  const allowed = allowedVariables(spec!.vars, secrets);
  // Only what is built here reaches the workload; the driver's own variables win, so a tenant cannot move its port.
  const env = buildWorkloadEnv(allowed.vars, allowed.secrets, {
    ...ready.own,
    TENANTPLANE_SECRET_KEYS: Object.keys(allowed.secrets).sort().join(','),
  });
  if (allowed.dropped.length > 0)
    await writeSystemLog(ready.logDir, `not passed to the workload, reserved names: ${allowed.dropped.join('; ')}`);
  let started: StartedProcess;
  if (ready.process) {
    started = ready.process;
    release(started, env);
  } else {
    started = await startDetached(ready.argv, { env, cwd: ready.cwd, logDir: ready.logDir, identity: ready.identity });
  }
  ctx.secrets.set(key, secrets);
  ctx.exits.delete(key);
  started.child.once('exit', (code, signal) => ctx.exits.set(key, { pid: started.pid, code, signal, at: Date.now() }));
  const as = ready.identity ? ` as uid ${ready.identity.uid}` : '';
  const behind = ready.innerPort ? ` (behind the front on port ${rec.port})` : '';
  const early = usable && ready.process ? ' (its node started ahead)' : '';
  await writeSystemLog(
    ready.logDir,
    `started pid ${started.pid}${as} on port ${ready.innerPort ?? rec.port}${behind}${early} with image ${spec!.image}`,
  );
  return {
    ...rec,
    desired: 'running',
    pid: started.pid,
    argv: ready.command,
    pidStartTicks: started.startTicks,
    uid: ready.identity?.uid ?? rec.uid,
    startedAt: new Date().toISOString(),
    lastError: undefined,
    innerPort: ready.innerPort,
    sleepingSince: undefined,
  };
}

/**
 * Stops the recorded process if it is still ours (never a pid reused by
 * another program), adds the run to the usage counters and clears the pid.
 */
export async function stopWorkload(ctx: LifecycleContext, key: string, rec: EnvRecord, reason: string): Promise<EnvRecord> {
  if (!rec.pid) return rec;
  const logDir = logDirOf(ctx.opts, key);
  let requests = 0;
  let endedAt: number;
  if (await isOurs(ctx.opts, rec)) {
    requests = Number((await probeMetrics(ctx.opts, rec))?.requests) || 0;
    await stopGroup(rec.pid, ctx.opts.stopTimeoutMs);
    endedAt = Date.now();
    await writeSystemLog(logDir, `stopped pid ${rec.pid} (${reason})`);
  } else {
    endedAt = await findEndTime(ctx, key, rec);
    await writeSystemLog(logDir, `pid ${rec.pid} had already exited; nothing to stop (${reason})`);
  }
  return finishRun(rec, endedAt, requests);
}

/** The record after a run that ended at `endedAt`: usage added, pid cleared. */
export function finishRun(rec: EnvRecord, endedAt: number, requests = 0): EnvRecord {
  const started = rec.startedAt ? Date.parse(rec.startedAt) : endedAt;
  return {
    ...rec,
    pid: undefined,
    argv: undefined,
    pidStartTicks: undefined,
    startedAt: undefined,
    runningSeconds: rec.runningSeconds + Math.max(0, endedAt - started) / 1000,
    requests: rec.requests + requests,
  };
}

/**
 * When a process we did not see exit ended: the exit we observed, else its last
 * sign of life (the newest write to its output files), never before it started.
 */
export async function findEndTime(ctx: LifecycleContext, key: string, rec: EnvRecord): Promise<number> {
  const seen = ctx.exits.get(key);
  if (seen && seen.pid === rec.pid) return seen.at;
  const dir = logDirOf(ctx.opts, key);
  const times = await Promise.all(
    ['stdout.log', 'stderr.log'].map((f) =>
      stat(join(dir, f)).then(
        (s) => s.mtimeMs,
        () => 0,
      ),
    ),
  );
  return Math.max(rec.startedAt ? Date.parse(rec.startedAt) : 0, ...times);
}

/** Why a process that should run is gone, for `status().message`. */
export function describeExit(ctx: LifecycleContext, key: string, rec: EnvRecord): string {
  const seen = ctx.exits.get(key);
  const how = seen && seen.pid === rec.pid ? (seen.signal ? ` (signal ${seen.signal})` : ` (exit code ${seen.code})`) : '';
  return `process ${rec.pid} of ${key} exited${how}; see its logs, then deploy or resume it again`;
}

/**
 * Re-adoption when a driver starts on an existing dataDir: every environment
 * that should run keeps its process if that is still ours, else is started
 * again (secrets from the provider). A failure is recorded on the environment
 * and reported by `status`, not thrown, so one broken environment does not
 * block the others.
 */
export async function adoptAll(ctx: LifecycleContext, records: EnvRecords): Promise<void> {
  const state = await readState(ctx.opts.dataDir);
  for (const key of Object.keys(state.environments)) {
    await records.withEnv(key, async () => {
      let rec = await records.load(key);
      if (rec?.spare) {
        // An update was cut short: of its two processes, the one not recorded as current goes.
        const spare = { ...rec, ...rec.spare };
        const stopped = await stopWorkload(ctx, key, spare, 'left over from an interrupted update');
        rec = { ...rec, spare: undefined, runningSeconds: stopped.runningSeconds, requests: stopped.requests };
        await records.save(key, rec);
      }
      // A sleeping environment stays asleep: its next request starts it (sleep.ts).
      if (rec?.desired !== 'running' || rec.sleepingSince || (await isOurs(ctx.opts, rec))) return;
      const logDir = logDirOf(ctx.opts, key);
      const ended = rec.pid ? finishRun(rec, await findEndTime(ctx, key, rec)) : rec;
      if (rec.pid) await writeSystemLog(logDir, `pid ${rec.pid} is gone or is no longer ours; starting ${key} again`);
      try {
        await records.save(key, await startWorkload(ctx, key, ended, await findSecrets(ctx, key, ended)));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await records.save(key, { ...ended, lastError: message });
        await writeSystemLog(logDir, `could not start again: ${message}`);
      }
    });
  }
}
