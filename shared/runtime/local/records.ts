/**
 * Access to one local dataDir's environment records for the driver: load,
 * save, lock, and reserve a port for a new environment.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedLocalOptions } from './options.ts';
import { envDir, logDirOf } from './paths.ts';
import { pickUid } from './sandbox.ts';
import { readState, updateRecord, withLock, type EnvRecord } from './state.ts';
import { findFreePort } from './ports.ts';
import { DriverError, type EnvironmentRef } from '../types.ts';

export interface EnvRecords {
  /** Runs `fn` holding the environment's lock (this process and others sharing the dataDir). */
  withEnv<T>(key: string, fn: () => Promise<T>): Promise<T>;
  load(key: string): Promise<EnvRecord | undefined>;
  /** @throws DriverError `not_found` naming the environment. */
  require(key: string): Promise<EnvRecord>;
  /** Writes the record, or deletes it when `undefined`. */
  save(key: string, rec: EnvRecord | undefined): Promise<void>;
  /** The environment's record, created with a free port of the range if new; call under its lock. */
  reserve(ref: EnvironmentRef, key: string): Promise<EnvRecord>;
  /**
   * The record if it already holds its port (and uid, with users isolated),
   * read without any lock: a reserved port and uid never change.
   */
  reserved(key: string): Promise<EnvRecord | undefined>;
  /** reserved(key), else reserve's answer; call under the environment's lock. */
  ensure(ref: EnvironmentRef, key: string): Promise<EnvRecord>;
}

/**
 * Builds the local driver's access to the environment records in
 * `opts.dataDir`. Its lock waits long enough for a stop and a start, because
 * another process on the same dataDir may be doing just that.
 */
export function createEnvRecords(opts: ResolvedLocalOptions): EnvRecords {
  // Long enough for a stop (SIGTERM grace, then SIGKILL) followed by a start.
  const lockTimeoutMs = opts.stopTimeoutMs * 2 + opts.startTimeoutMs + 30_000;
  const load = async (key: string) => (await readState(opts.dataDir)).environments[key];
  const records: EnvRecords = {
    withEnv: (key, fn) => withLock(join(opts.dataDir, 'locks', `${key}.lock`), lockTimeoutMs, fn),
    load,
    async require(key) {
      const rec = await load(key);
      if (!rec)
        throw new DriverError('local', 'not_found', `environment ${key} does not exist; call ensureInfrastructure and deploy first`);
      return rec;
    },
    async save(key, rec) {
      await updateRecord(opts.dataDir, key, () => rec);
    },
    async reserve(ref, key) {
      const rec = await updateRecord(opts.dataDir, key, async (current, state) => {
        // The uid is chosen with the port, so every later save of this record carries it.
        const uid = opts.isolateUsers && current?.uid === undefined ? pickUid(opts, state, key) : current?.uid;
        if (current) return uid === current.uid ? current : { ...current, uid };
        const reserved = new Set(Object.values(state.environments).map((r) => r.port));
        const { port, busy } = await findFreePort(opts.portRange, reserved, opts.host);
        if (port === undefined) {
          const { from, to } = opts.portRange;
          throw new DriverError(
            'local',
            'failed',
            `no free port left in ${from}–${to} for ${key}: ${reserved.size} reserved by environments, ${busy.length} used by other programs; widen the local driver's portRange or destroy unused environments`,
          );
        }
        return {
          ref: { ownerId: ref.ownerId, tenantId: ref.tenantId, env: ref.env },
          port,
          uid,
          desired: 'none',
          runningSeconds: 0,
          requests: 0,
          createdAt: new Date().toISOString(),
        };
      });
      // Private from the start; a workload start hands data/ to the environment's own user (sandbox.ts).
      mkdirSync(join(envDir(opts, key), 'data'), { recursive: true, mode: 0o700 });
      mkdirSync(logDirOf(opts, key), { recursive: true, mode: 0o700 });
      return rec!;
    },
    async reserved(key) {
      const rec = await load(key);
      return rec && (!opts.isolateUsers || rec.uid !== undefined) ? rec : undefined;
    },
    async ensure(ref, key) {
      return (await records.reserved(key)) ?? records.reserve(ref, key);
    },
  };
  return records;
}
