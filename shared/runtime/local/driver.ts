/**
 * The local runtime driver: each environment is a real child process (the
 * sample tenant by default) on its own port, with its own data and log folders.
 *
 * Processes are detached, so they outlive the control plane; a new driver on
 * the same dataDir re-adopts them (or starts again those that died). Every
 * operation on an environment holds its lock, in this process and across
 * processes sharing the dataDir, so one environment never gets two processes.
 *
 * The workload's environment is built from nothing: `spec.vars`, then
 * `spec.secrets` (names the secret-name rule refuses are dropped and noted in
 * `system.log`), then the driver's own variables, which win: `PORT`, `HOST`,
 * `TENANT_ID`, `ENV_NAME`, `IMAGE`, `DATA_DIR` (= `HOME`, the persistent
 * folder), `TMPDIR` (inside it), `MEMORY_MB`, `TENANTPLANE_SECRET_KEYS` (names
 * only), and a `PATH` that finds this Node. Of the control plane's own
 * environment only `LANG`, `LC_ALL` and `TZ` pass through. A Node workload
 * also gets `--max-old-space-size` of three quarters of `memoryMb`.
 *
 * Run as root, each environment's process runs as its own uid and gid from
 * `uidRange` and its data folder is that user's alone (see sandbox.ts);
 * otherwise every workload runs as the control plane's user, and
 * `flags.isolatedUsers` says so. With users isolated, a firewall chain also
 * refuses the workloads' connections to this machine's own addresses (other
 * tenants, the platform's servers; see network.ts); `flags.isolatedNetwork`
 * says whether it is in place, and the driver logs once why not.
 *
 * Every environment runs behind a front (sleep.ts): an HTTP proxy in this
 * process holds its public port and forwards to the workload's inner port. A
 * deploy or restart of a running environment starts the new process beside
 * the old, waits for its health, switches the front, drains the old one's
 * requests and stops it, so no request fails; a new version that never gets
 * healthy is stopped and the old one keeps serving (`alwaysFront: false`
 * restores a workload binding its public port, down during a restart).
 * With `idleSleepMs`, an environment idle that long sleeps: its process stops,
 * the front keeps its port, and its next request starts it again. To the API
 * it stays `running`.
 */
import { rm } from 'node:fs/promises';
import {
  adoptAll,
  describeExit,
  findEndTime,
  findSecrets,
  finishRun,
  isOurs,
  isSameSpec,
  describeUnready,
  discardHeld,
  holdWorkload,
  probeHealth,
  probeMetrics,
  startWorkload,
  stopWorkload,
  toStoredSpec,
  urlOf,
  type HeldWorkload,
  type LifecycleContext,
} from './lifecycle.ts';
import { readLogs, writeSystemLog } from './logs.ts';
import { createPausedPages } from './paused.ts';
import { createFronts, type Route } from './sleep.ts';
import { isRunning } from './process.ts';
import { setUpNetwork, type NetworkIsolationState } from './network.ts';
import { CpuSampler, readRssBytes } from './metrics.ts';
import { resolveLocalOptions, type LocalDriverOptions } from './options.ts';
import { envDir, logDirOf } from './paths.ts';
import { createEnvRecords } from './records.ts';
import { waitForListener } from './ports.ts';
import { readState, toEnvKey, type EnvRecord } from './state.ts';
import { pollUntilReady } from '../poll-until-ready.ts';
import {
  DriverError,
  type EnvironmentMetrics,
  type EnvironmentRef,
  type EnvironmentSpec,
  type EnvironmentStatus,
  type RuntimeDriver,
} from '../types.ts';

/** Metered usage of one environment, for billing (R-BILL-2). */
export interface LocalUsage {
  /** Seconds the workload has run, all runs summed, including the current one up to now. */
  runningSeconds: number;
  /** Memory limit of the current spec. */
  memoryMb: number;
  /** Requests served, all runs summed (probes excluded); runs that died unseen count what they reported last. */
  requests: number;
}

export interface LocalDriver extends RuntimeDriver {
  /** Resolves once processes recorded as running have been re-adopted or started again. */
  readonly adopted: Promise<void>;
  /** Usage counters of an environment. @throws DriverError `not_found` for an unknown environment. */
  usage(ref: EnvironmentRef): Promise<LocalUsage>;
  /**
   * Stops every environment's process (npm start on Ctrl-C) but keeps its desired
   * state, so the next driver on this dataDir starts them again.
   */
  stopAll(): Promise<void>;
  /** Whether workloads are kept from this machine's own addresses, and if not, why. */
  readonly network: NetworkIsolationState;
  /** Lets go of the firewall chain: the last driver of a uid range removes it, unless workloads of the range still run. */
  close(): Promise<void>;
}

/** How long a workload started ahead by prepare waits for its deploy before it is let go. */
const HOLD_UNUSED_MS = 60_000;

/** How long waitReady watches a new process's port before reading its status with growing pauses. */
const FIRST_LISTEN_MS = 2_000;

/** Creates the local driver; see {@link LocalDriverOptions} for the folder layout and defaults. */
export function createLocalDriver(options: LocalDriverOptions): LocalDriver {
  const opts = resolveLocalOptions(options);
  // Before adoption, so no workload of this driver runs a moment without the rules.
  const network = setUpNetwork(opts);
  const ctx: LifecycleContext = { opts, secrets: new Map(), exits: new Map() };
  const cpu = new CpuSampler();
  const records = createEnvRecords(opts);
  const { withEnv, load, save } = records;
  const requireRecord = records.require;
  const reserve = records.reserve;

  const paused = createPausedPages((key, message) => writeSystemLog(logDirOf(opts, key), message));
  const fronts = createFronts({ route: wake, sleep, report: (key, message) => writeSystemLog(logDirOf(opts, key), message) });
  const adopted = adoptAll(ctx, records).then(showPausedPages).then(openFronts);
  // Surface adoption failures through the methods that await it, not as an unhandled rejection.
  adopted.catch(() => {});

  /** After a restart of the control plane, suspended environments answer "paused" again. */
  async function showPausedPages(): Promise<void> {
    const state = await readState(opts.dataDir);
    for (const [key, rec] of Object.entries(state.environments)) if (rec.desired === 'stopped') await paused.open(key, opts.host, rec.port);
  }

  /** The idle time after which the environment sleeps; 0: never. */
  const idleOf = (rec: EnvRecord) => (rec.spec ? opts.idleSleepMs(rec.ref, rec.spec.vars) : 0);

  /** After a restart of the control plane, environments that sleep or run behind a front get their front again. */
  async function openFronts(): Promise<void> {
    const state = await readState(opts.dataDir);
    for (const [key, rec] of Object.entries(state.environments)) {
      if (rec.desired !== 'running' || (!rec.sleepingSince && !(rec.pid && rec.innerPort))) continue;
      if ((await fronts.open(key, opts.host, rec.port, idleOf(rec))) && !rec.sleepingSince) fronts.setTarget(key, rec.innerPort);
    }
  }

  /** Before a start: a workload that will bind its public port itself needs this process's front gone from it. */
  async function beforeStart(key: string, rec: EnvRecord): Promise<void> {
    await paused.close(key);
    if (!opts.alwaysFront && !idleOf(rec) && !rec.sleepingSince) await fronts.close(key);
  }

  /** Whether an update can start the new process beside the running one: it runs (ours) on an inner port behind a front. */
  async function canUpdateBeside(rec: EnvRecord): Promise<boolean> {
    return rec.desired === 'running' && !rec.sleepingSince && !!rec.pid && !!rec.innerPort && (await isOurs(opts, rec));
  }

  /**
   * An update without downtime (sleep.ts): starts `next` (the record with the
   * spec to run) beside the running `rec` on a new inner port, waits for its
   * health, moves the front to it, waits for the requests in progress on the
   * old process, then stops that one. When the new process never answers its
   * health check it is stopped and the old one keeps serving, untouched.
   * Both processes are in the record (`spare`) while they run side by side, so
   * adoption after a crash stops the one left over. Under the environment's lock.
   * @throws DriverError `failed` naming the reason when the new version did not come up.
   */
  async function updateBeside(key: string, rec: EnvRecord, next: EnvRecord, secrets: Record<string, string>, reason: string) {
    const previousSecrets = ctx.secrets.get(key);
    const startedAt = Date.now();
    const started = await startWorkload(ctx, key, { ...next, sleepingSince: undefined }, secrets);
    const runOf = (r: EnvRecord) => ({
      pid: r.pid,
      argv: r.argv,
      pidStartTicks: r.pidStartTicks,
      uid: r.uid,
      innerPort: r.innerPort,
      startedAt: r.startedAt,
    });
    await save(key, { ...rec, spare: runOf(started) });
    const deadline = startedAt + opts.startTimeoutMs;
    let why: string | undefined;
    while ((await probeHealth(opts, started)) === undefined) {
      if (!isRunning(started.pid!)) why = describeExit(ctx, key, started);
      else if (Date.now() > deadline) why = await describeUnready(opts, started);
      if (why) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (why) {
      const stopped = await stopWorkload(ctx, key, started, 'the new version did not come up; the previous one keeps serving');
      if (previousSecrets) ctx.secrets.set(key, previousSecrets);
      await save(key, { ...rec, spare: undefined, runningSeconds: stopped.runningSeconds, requests: stopped.requests });
      const message = `${key}: ${next.spec?.image ?? 'the new version'} did not come up (${why}); the previous version (${rec.spec?.image}) keeps serving`;
      await writeSystemLog(logDirOf(opts, key), message);
      throw new DriverError('local', 'failed', message);
    }
    await save(key, { ...started, spare: runOf(rec) });
    // The front here switches at once; one in another process sharing the dataDir finds the new port when the old one stops.
    if (fronts.has(key)) fronts.setTarget(key, started.innerPort);
    else await afterStart(key, started);
    const left = await fronts.drain(key, rec.innerPort!, opts.drainTimeoutMs);
    await writeSystemLog(
      logDirOf(opts, key),
      `switched to pid ${started.pid} on port ${started.innerPort} in ${Date.now() - startedAt} ms (${reason}); ` +
        (left
          ? `${left} requests still in progress on pid ${rec.pid} after ${opts.drainTimeoutMs} ms, stopping it anyway`
          : `pid ${rec.pid} drained`),
    );
    const old = await stopWorkload(ctx, key, rec, reason);
    cpu.forget(key);
    await save(key, { ...started, spare: undefined, runningSeconds: old.runningSeconds, requests: old.requests });
  }

  /** After a start: a workload on an inner port gets its front. */
  async function afterStart(key: string, rec: EnvRecord): Promise<void> {
    if (!rec.innerPort) return;
    await fronts.open(key, opts.host, rec.port, idleOf(rec));
    fronts.setTarget(key, rec.innerPort);
  }

  /**
   * Where the front sends a connection; under the environment's lock, so
   * concurrent wakes, from this process or another, start one process.
   * Suspended, destroyed or never-deployed environments are never started here.
   */
  async function wake(key: string): Promise<Route> {
    return withEnv(key, async () => {
      const rec = await load(key);
      if (!rec || rec.desired === 'none') return { kind: 'gone' };
      if (rec.desired === 'stopped') return { kind: 'paused' };
      // A workload on its public port itself has no front to come through (only a stale front here, which closes).
      if (rec.pid && (await isOurs(opts, rec))) return rec.innerPort ? { kind: 'forward', port: rec.innerPort } : { kind: 'gone' };
      // Only a sleeping environment (or one that may sleep) is started by a request; another one whose process died stays failed.
      if (!rec.sleepingSince && !idleOf(rec))
        throw new DriverError('local', 'failed', `${key} is not running: ${rec.lastError ?? describeExit(ctx, key, rec)}`);
      const from = rec.pid ? finishRun(rec, await findEndTime(ctx, key, rec)) : rec;
      const startedAt = Date.now();
      const started = await startWorkload(ctx, key, from, await findSecrets(ctx, key, from));
      await save(key, started);
      const deadline = startedAt + opts.startTimeoutMs;
      while ((await probeHealth(opts, started)) === undefined) {
        if (!isRunning(started.pid!) || Date.now() > deadline) {
          const why = isRunning(started.pid!) ? await describeUnready(opts, started) : describeExit(ctx, key, started);
          const stopped = await stopWorkload(ctx, key, started, 'wake failed');
          await save(key, {
            ...stopped,
            innerPort: undefined,
            sleepingSince: rec.sleepingSince ?? new Date().toISOString(),
            lastError: why,
          });
          throw new DriverError('local', 'failed', `could not wake ${key}: ${why}`);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await writeSystemLog(logDirOf(opts, key), `woke in ${Date.now() - startedAt} ms for a request`);
      return { kind: 'forward', port: started.innerPort ?? started.port };
    });
  }

  /** Stops an idle environment's process; it stays `running` to the API. False when a connection came meanwhile. */
  async function sleep(key: string, stillIdle: () => boolean): Promise<boolean> {
    return withEnv(key, async () => {
      const rec = await load(key);
      if (!stillIdle()) return false;
      // Nothing to stop (suspended, destroyed, or its process died): the next connection asks again.
      if (rec?.desired !== 'running' || !rec.pid || rec.sleepingSince) return true;
      const stopped = await stopWorkload(ctx, key, rec, 'idle; sleeping until its next request');
      cpu.forget(key);
      await save(key, { ...stopped, innerPort: undefined, sleepingSince: new Date().toISOString() });
      return true;
    });
  }

  async function status(ref: EnvironmentRef): Promise<EnvironmentStatus> {
    await adopted;
    const key = toEnvKey(ref);
    const rec = await load(key);
    if (!rec) return { state: 'absent', ready: false };
    const base = { url: urlOf(opts, rec), image: rec.spec?.image };
    if (rec.desired === 'none') return { ...base, state: 'provisioning', ready: false, message: 'infrastructure ready; not deployed yet' };
    if (rec.desired === 'stopped') return { ...base, state: 'stopped', ready: false };
    // Sleep is invisible to users but for the wake's latency.
    if (rec.sleepingSince) return { ...base, state: 'running', ready: true };
    if (!rec.pid) return { ...base, state: 'failed', ready: false, message: rec.lastError ?? `${key} is not running` };
    if (!(await isOurs(opts, rec))) {
      const message = describeExit(ctx, key, rec);
      await withEnv(key, async () => {
        const now = await load(key);
        if (now && now.pid === rec.pid) await save(key, { ...finishRun(now, await findEndTime(ctx, key, now)), lastError: message });
      });
      return { ...base, state: 'failed', ready: false, message };
    }
    const healthy = (await probeHealth(opts, rec)) !== undefined;
    if (healthy) return { ...base, state: 'running', ready: true };
    return { ...base, state: 'running', ready: false, message: `waiting for GET ${opts.healthPath} to answer 200` };
  }

  async function waitReady(ref: EnvironmentRef, options: { timeoutMs?: number } = {}): Promise<EnvironmentStatus> {
    const timeoutMs = options.timeoutMs ?? opts.startTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const key = toEnvKey(ref);
    // A process just started: watch its port first (issue 19: the status poll's pauses, which grow, cost a launch
    // 20–30 ms on average after the process was listening); the status read then usually finds it healthy at once.
    const rec = await load(key);
    if (rec?.pid && rec.desired === 'running' && !rec.sleepingSince) {
      const pid = rec.pid;
      await waitForListener(
        rec.innerPort ?? rec.port,
        opts.host,
        Math.min(timeoutMs, FIRST_LISTEN_MS),
        () => ctx.exits.get(key)?.pid === pid,
      );
    }
    return pollUntilReady(() => status(ref), {
      timeoutMs: Math.max(0, deadline - Date.now()),
      firstIntervalMs: 10,
      intervalMs: 100,
      isFinal: (current) => current.state === 'absent' || current.state === 'stopped' || current.state === 'failed',
      async fail(current, reason) {
        const done = reason === 'final';
        const tail = (await readLogs(logDirOf(opts, key), { limit: 5 }, Object.values(ctx.secrets.get(key) ?? {})))
          .map((l) => `  ${l.stream}: ${l.text}`)
          .join('\n');
        const why = done ? `is ${current.state}` : `was not ready after ${timeoutMs} ms`;
        return new DriverError(
          'local',
          done ? (current.state === 'absent' ? 'not_found' : 'failed') : 'timeout',
          `${key} ${why}${current.message ? `: ${current.message}` : ''}${tail ? `\nlast log lines:\n${tail}` : ''}`,
        );
      },
    });
  }

  /** Stops the current run (if any) and saves the record; under the environment's lock. */
  async function stopAndSave(key: string, rec: EnvRecord, reason: string, desired: EnvRecord['desired']): Promise<void> {
    const stopped = await stopWorkload(ctx, key, rec, reason);
    cpu.forget(key);
    await save(key, { ...stopped, desired, sleepingSince: desired === 'running' ? stopped.sleepingSince : undefined });
  }

  async function ensureInfrastructure(spec: Parameters<RuntimeDriver['ensureInfrastructure']>[0]) {
    await adopted;
    const key = toEnvKey(spec);
    // Usually reserved already (by prepare or an earlier attempt): then a read, without the environment's lock.
    const rec = (await records.reserved(key)) ?? (await withEnv(key, () => reserve(spec, key)));
    return { url: urlOf(opts, rec) };
  }

  /**
   * Workloads started ahead of their first deploy (hold.ts), by environment
   * key. One not deployed within HOLD_UNUSED_MS is let go.
   */
  const held = new Map<string, { workload: HeldWorkload; timer: NodeJS.Timeout }>();
  function takeHeld(key: string): HeldWorkload | undefined {
    const entry = held.get(key);
    held.delete(key);
    if (entry) clearTimeout(entry.timer);
    return entry?.workload;
  }
  function dropHeld(key: string): void {
    const workload = takeHeld(key);
    if (workload) discardHeld(workload);
  }
  /** Lets every held workload go (stopAll, close). */
  function dropAllHeld(): void {
    for (const key of [...held.keys()]) dropHeld(key);
  }

  /** Reserves the environment and, for one never deployed, starts its workload ahead, held until the deploy. */
  async function prepare(spec: EnvironmentSpec): Promise<void> {
    await adopted;
    const key = toEnvKey(spec);
    await withEnv(key, async () => {
      const rec = await records.ensure(spec, key);
      if (rec.desired !== 'none' || rec.pid || held.has(key)) return;
      const workload = await holdWorkload(ctx, key, { ...rec, spec: toStoredSpec(spec) });
      const timer = setTimeout(() => dropHeld(key), HOLD_UNUSED_MS);
      timer.unref();
      held.set(key, { workload, timer });
    });
  }

  async function deploy(spec: Parameters<RuntimeDriver['deploy']>[0]): Promise<void> {
    await adopted;
    const key = toEnvKey(spec);
    await withEnv(key, async () => {
      const rec = await records.ensure(spec, key);
      const stored = toStoredSpec(spec, rec.spec);
      if (rec.desired === 'running' && isSameSpec(rec.spec, stored)) {
        // A repeated deploy leaves a sleeping environment asleep.
        if (rec.sleepingSince) return void (await fronts.open(key, opts.host, rec.port, idleOf(rec)));
        if (await isOurs(opts, rec)) return;
      }
      if (await canUpdateBeside(rec)) return updateBeside(key, rec, { ...rec, spec: stored }, { ...spec.secrets }, 'redeploy');
      const stopped = await stopWorkload(ctx, key, rec, 'redeploy');
      cpu.forget(key);
      const next = { ...stopped, spec: stored, sleepingSince: undefined };
      await beforeStart(key, next);
      try {
        const started = await startWorkload(ctx, key, next, { ...spec.secrets }, takeHeld(key));
        await save(key, started);
        await afterStart(key, started);
      } catch (error) {
        await save(key, { ...next, desired: 'running', lastError: error instanceof Error ? error.message : String(error) });
        throw error;
      }
    });
  }

  async function suspend(ref: EnvironmentRef): Promise<void> {
    await adopted;
    const key = toEnvKey(ref);
    await withEnv(key, async () => {
      const rec = await requireRecord(key);
      if (rec.desired === 'stopped' && !rec.pid) return;
      await stopAndSave(key, rec, 'suspend', 'stopped');
      await fronts.close(key);
      await paused.open(key, opts.host, rec.port);
    });
  }

  /** Starts the recorded spec again (resume, restart); secrets come from the provider or memory. */
  async function startAgain(key: string, rec: EnvRecord): Promise<void> {
    const next = { ...rec, sleepingSince: undefined };
    await beforeStart(key, next);
    const started = await startWorkload(ctx, key, next, await findSecrets(ctx, key, next));
    await save(key, started);
    await afterStart(key, started);
  }

  async function resume(ref: EnvironmentRef): Promise<void> {
    await adopted;
    const key = toEnvKey(ref);
    await withEnv(key, async () => {
      const rec = await requireRecord(key);
      if (rec.desired === 'running' && rec.sleepingSince) {
        // Asleep is running: its front (here, or in another process sharing the dataDir) wakes it.
        await fronts.open(key, opts.host, rec.port, idleOf(rec));
        return;
      }
      if (rec.desired === 'running' && (await isOurs(opts, rec))) return;
      await startAgain(key, await stopWorkload(ctx, key, rec, 'resume after failure'));
    });
  }

  async function restart(ref: EnvironmentRef): Promise<void> {
    await adopted;
    const key = toEnvKey(ref);
    await withEnv(key, async () => {
      const rec = await requireRecord(key);
      // A suspended environment starts with current secrets on resume anyway; restarting it would resume it.
      // A sleeping one likewise on its next request.
      if (rec.desired === 'stopped' || rec.desired === 'none' || rec.sleepingSince) return;
      if (await canUpdateBeside(rec)) return updateBeside(key, rec, rec, await findSecrets(ctx, key, rec), 'restart');
      const stopped = await stopWorkload(ctx, key, rec, 'restart');
      cpu.forget(key);
      await startAgain(key, stopped);
    });
  }

  async function destroy(ref: EnvironmentRef): Promise<void> {
    await adopted;
    const key = toEnvKey(ref);
    await withEnv(key, async () => {
      dropHeld(key);
      const rec = await load(key);
      if (rec) await stopWorkload(ctx, key, rec, 'destroy');
      await fronts.close(key);
      await paused.close(key);
      await rm(envDir(opts, key), { recursive: true, force: true });
      if (rec) await save(key, undefined);
      ctx.secrets.delete(key);
      ctx.exits.delete(key);
      cpu.forget(key);
    });
  }

  async function metrics(ref: EnvironmentRef): Promise<EnvironmentMetrics> {
    await adopted;
    const key = toEnvKey(ref);
    const rec = await requireRecord(key);
    const sampledAt = new Date().toISOString();
    if (!rec.pid || !rec.startedAt || !(await isOurs(opts, rec))) return { cpu: 0, memoryBytes: 0, uptimeSeconds: 0, sampledAt };
    const started = Date.parse(rec.startedAt);
    const fromApp = await probeMetrics(opts, rec);
    const requests = typeof fromApp?.requests === 'number' ? fromApp.requests : undefined;
    const errors = typeof fromApp?.errors === 'number' ? fromApp.errors : undefined;
    return {
      cpu: cpu.sample(key, rec.pid, started) ?? 0,
      memoryBytes: readRssBytes(rec.pid) ?? 0,
      requests,
      errors,
      uptimeSeconds: Math.max(0, (Date.now() - started) / 1000),
      sampledAt,
    };
  }

  async function usage(ref: EnvironmentRef): Promise<LocalUsage> {
    await adopted;
    const rec = await requireRecord(toEnvKey(ref));
    const live = rec.pid && rec.startedAt && (await isOurs(opts, rec));
    const current = live ? Number((await probeMetrics(opts, rec))?.requests) || 0 : 0;
    const runningNow = live ? Math.max(0, Date.now() - Date.parse(rec.startedAt!)) / 1000 : 0;
    return { runningSeconds: rec.runningSeconds + runningNow, memoryMb: rec.spec?.memoryMb ?? 0, requests: rec.requests + current };
  }

  async function stopAll(): Promise<void> {
    await adopted.catch(() => {});
    dropAllHeld();
    const state = await readState(opts.dataDir);
    await Promise.all(
      Object.keys(state.environments).map((key) =>
        withEnv(key, async () => {
          const rec = await load(key);
          if (rec?.pid)
            await stopAndSave(
              key,
              { ...rec, lastError: 'stopped with the control plane; starts again with the next one' },
              'control plane shutting down',
              rec.desired,
            );
        }),
      ),
    );
    await paused.closeAll();
    await fronts.closeAll();
  }

  return {
    name: 'local',
    flags: { logs: true, metrics: true, restart: true, volumes: true, isolatedUsers: opts.isolateUsers, isolatedNetwork: network.isolated },
    network: { isolated: network.isolated, chain: network.chain, reason: network.reason },
    adopted,
    ensureInfrastructure,
    prepare,
    deploy,
    waitReady,
    status,
    suspend,
    resume,
    restart,
    destroy,
    async logs(ref, query) {
      await adopted;
      const key = toEnvKey(ref);
      await requireRecord(key);
      return readLogs(logDirOf(opts, key), query, Object.values(ctx.secrets.get(key) ?? {}));
    },
    metrics,
    usage,
    stopAll,
    async close() {
      // Children are unref'd and log to files, so nothing of theirs holds this process; only wait for adoption to settle.
      await adopted.catch(() => {});
      dropAllHeld();
      await paused.closeAll();
      await fronts.closeAll();
      network.release();
    },
  };
}
