/**
 * The usage sampler for the local runtime (R-BILL-2): every `intervalSeconds` it
 * reads the driver's cumulative counters of each environment and records what
 * was added since the previous sample.
 *
 * Layout (each document written at most once per interval, ≥ 1 s, so never more
 * than about once a second):
 * - `usage/{day}/records/{tenantId}-{env}-{sampledAtMs}`: one immutable record per
 *   environment per sample that saw usage {tenantId, env, day, at, instanceSeconds,
 *   memoryMibSeconds, requests}.
 * - `usageCursors/{tenantId}-{env}`: the counters last recorded {runningSeconds, requests, at}.
 * The record and the cursor are written in one transaction, so two samplers (or a
 * retried sample) never count the same seconds twice. Counters that went down (the
 * environment was destroyed and created again) count from zero.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Logger } from '../log.ts';
import type { EnvironmentRef } from '../runtime/types.ts';
import { usageCollection, type UsageRecord } from './metered.ts';
import { toDay } from './types.ts';
import { tenantsInStates } from '../store/tenants.ts';

/** The part of the local driver the sampler reads (LocalDriver.usage). */
export interface UsageMeter {
  usage(ref: EnvironmentRef): Promise<{ runningSeconds: number; memoryMb: number; requests: number }>;
}

export interface UsageSamplerOptions {
  db: Firestore;
  meter: UsageMeter;
  /** Environments to sample; default: every environment of tenants that may have run (from `tenants`). */
  environments?: () => Promise<EnvironmentRef[]>;
  intervalSeconds: number;
  now?: () => Date;
  log?: Logger;
}

export interface UsageSampler {
  /** Samples every environment once; returns how many records were written. */
  sampleOnce(): Promise<{ environments: number; written: number }>;
  /** Samples on an interval until stopped. */
  start(): void;
  /** Stops the interval and waits for a running sample to finish. */
  stop(): Promise<void>;
}

/** Environments of tenants whose workloads may have run since the last sample (suspended ones: their last seconds). */
export function listTenantEnvironments(db: Firestore): () => Promise<EnvironmentRef[]> {
  return async () => {
    const tenants = await tenantsInStates(db, ['provisioning', 'ready', 'suspended', 'deleting'], ['ownerId', 'environments']);
    return tenants.flatMap((t) => (t.environments ?? []).map((env) => ({ ownerId: String(t.ownerId), tenantId: t.id!, env })));
  };
}

/** Creates the sampler; nothing runs until `start()` or `sampleOnce()`. */
export function createUsageSampler(options: UsageSamplerOptions): UsageSampler {
  const { db, meter } = options;
  const now = options.now ?? (() => new Date());
  const environments = options.environments ?? listTenantEnvironments(db);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  async function sampleEnvironment(ref: EnvironmentRef): Promise<boolean> {
    let counters: Awaited<ReturnType<typeof meter.usage>>;
    try {
      counters = await meter.usage(ref);
    } catch (error) {
      // Not created yet, or already destroyed: nothing to meter.
      options.log?.debug('usage not available', { tenantId: ref.tenantId, env: ref.env, error: (error as Error).message });
      return false;
    }
    const key = `${ref.tenantId}-${ref.env}`;
    const cursorRef = db.doc(`usageCursors/${key}`);
    return db.runTransaction(async (tx) => {
      const cursor = (await tx.get(cursorRef)).data() as { runningSeconds: number; requests: number } | undefined;
      const delta = (current: number, last: number | undefined) => (last === undefined || current < last ? current : current - last);
      const instanceSeconds = delta(counters.runningSeconds, cursor?.runningSeconds);
      const requests = delta(counters.requests, cursor?.requests);
      if (instanceSeconds <= 0 && requests <= 0) return false;
      const at = now();
      const day = toDay(at);
      const record: UsageRecord & { at: string } = {
        tenantId: ref.tenantId,
        env: ref.env,
        day,
        at: at.toISOString(),
        instanceSeconds,
        memoryMibSeconds: instanceSeconds * counters.memoryMb,
        requests,
      };
      tx.set(db.doc(`${usageCollection(day)}/${key}-${at.getTime()}`), record);
      tx.set(cursorRef, { runningSeconds: counters.runningSeconds, requests: counters.requests, at: at.toISOString() });
      return true;
    });
  }

  async function sampleOnce() {
    const refs = await environments();
    let written = 0;
    // A few at a time: the driver probes each running process over HTTP.
    for (let i = 0; i < refs.length; i += 8) {
      const results = await Promise.all(refs.slice(i, i + 8).map(sampleEnvironment));
      written += results.filter(Boolean).length;
    }
    return { environments: refs.length, written };
  }

  return {
    sampleOnce,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (running) return;
        running = sampleOnce()
          .catch((error) => options.log?.warn('usage sample failed', { err: error }))
          .finally(() => (running = undefined));
      }, Math.max(1, options.intervalSeconds) * 1000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
