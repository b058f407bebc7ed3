/**
 * What a rollout is and how it is planned (R-ROLL-1): its input, states and
 * waves, pure functions only, so the service, the worker, the pages and the
 * CLI read one definition.
 */
import type { z } from 'zod';
import { lazySchema } from '../zod-lib.ts';
import type { EnvName } from '../tenants/types.ts';

export type RolloutState = 'pending' | 'running' | 'paused' | 'succeeded' | 'failed' | 'cancelled' | 'rolling_back' | 'rolled_back';
export type WavePhase = 'pending' | 'updating' | 'soaking' | 'done' | 'failed';
export type TargetStatus = 'pending' | 'updating' | 'healthy' | 'failed' | 'skipped' | 'rolled_back';

/** Which states an action may start from, and where it leads. */
export const ROLLOUT_ACTIONS = {
  pause: { from: ['pending', 'running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['pending', 'running', 'paused'], to: 'cancelled' },
  rollback: { from: ['running', 'paused', 'succeeded', 'failed', 'cancelled'], to: 'rolling_back' },
} as const satisfies Record<string, { from: readonly RolloutState[]; to: RolloutState }>;
export type RolloutAction = keyof typeof ROLLOUT_ACTIONS;

export const FINAL_STATES: readonly RolloutState[] = ['succeeded', 'failed', 'cancelled', 'rolled_back'];

export const ENV_ORDER: readonly EnvName[] = ['demo', 'test', 'live'];

/** Waves as cumulative shares of the targeted tenants: a count (`1`) or a percentage (`"10%"`). */
const waveSize = lazySchema((z) =>
  z.union([z.number().int().min(1).max(100_000), z.string().regex(/^(100|[1-9]?\d)%$/, 'a percentage such as "10%"')]),
);

const strategySchema = lazySchema((z) =>
  z
    .object({
      waves: z.array(waveSize()).min(1).max(20).optional(),
      maxParallel: z.number().int().min(1).max(100).optional(),
      soakSeconds: z.number().int().min(0).max(86_400).optional(),
      errorBudget: z.number().int().min(0).max(100_000).optional(),
      maxErrorRate: z.number().min(0).max(1).optional(),
    })
    .strict(),
);

const targetSchema = lazySchema((z) =>
  z.union([
    z.literal('all'),
    z.object({ plan: z.string().min(1).max(40) }).strict(),
    z.object({ label: z.string().regex(/^[a-z][a-z0-9_-]{0,62}=[a-z0-9_.-]{0,63}$/, 'key=value in lowercase') }).strict(),
    z
      .object({
        ids: z
          .array(z.string().regex(/^t-[a-z2-7]{10}$/, 'tenant ids (t-…)'))
          .min(1)
          .max(1000),
      })
      .strict(),
  ]),
);

export const createRolloutSchema = lazySchema((z) =>
  z.object({ release: z.string().min(1).max(63), target: targetSchema(), strategy: strategySchema().optional() }).strict(),
);

export type RolloutTarget = z.infer<ReturnType<typeof targetSchema>>;

export interface Strategy {
  waves: (number | string)[];
  maxParallel: number;
  soakSeconds: number;
  errorBudget: number;
  /** Share of an environment's requests answered with a 5xx since the update above which it fails the health gate (where the driver reports it). */
  maxErrorRate: number;
}

/** An error rate is judged only once an environment served this many requests on the new version. */
export const MIN_REQUESTS_FOR_ERROR_RATE = 10;

export const DEFAULT_STRATEGY: Strategy = {
  waves: [1, '10%', '50%', '100%'],
  maxParallel: 5,
  soakSeconds: 60,
  errorBudget: 0,
  maxErrorRate: 0.1,
};

export interface Wave {
  index: number;
  tenantIds: string[];
  phase: WavePhase;
  startedAt?: string;
  soakUntil?: string;
  endedAt?: string;
  failedTenants: string[];
}

/** Splits tenants into waves: each entry is the cumulative number (or share) updated once its wave is done; empty waves are dropped. */
export function planWaves(tenantIds: string[], sizes: (number | string)[]): Wave[] {
  const total = tenantIds.length;
  const bounds = sizes.map((s) => (typeof s === 'number' ? s : Math.ceil((Number(s.slice(0, -1)) / 100) * total)));
  bounds.push(total);
  const waves: Wave[] = [];
  let done = 0;
  for (const bound of bounds) {
    const upTo = Math.min(total, Math.max(done, bound));
    if (upTo > done) waves.push({ index: waves.length, tenantIds: tenantIds.slice(done, upTo), phase: 'pending', failedTenants: [] });
    done = upTo;
  }
  return waves;
}

/** `key=value` of a label target. */
export function splitLabel(label: string): [string, string] {
  const at = label.indexOf('=');
  return [label.slice(0, at), label.slice(at + 1)];
}
