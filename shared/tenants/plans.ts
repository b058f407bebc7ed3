import type { EnvName } from './types.ts';

/** What a plan gives a tenant, and the limits it sets (R-PLAN-1); the plans API adds prices on top. */
export interface PlanDefaults {
  /** Environments a new tenant gets when the request names none; also the only ones it may have. */
  environments: EnvName[];
  /** Memory of a new tenant when the request names none. */
  memoryMb: number;
  /** The largest memory a tenant on this plan may ask for. */
  maxMemoryMb: number;
  /** How many tenants (not deleted) one user may have on this plan. */
  tenants: number;
}

/** The built-in plans; `PLANS` (shared/billing/config.ts) may override each field. */
export const PLAN_DEFAULTS: Readonly<Record<string, PlanDefaults>> = Object.freeze({
  free: { environments: ['demo', 'test', 'live'], memoryMb: 256, maxMemoryMb: 512, tenants: 1 },
  starter: { environments: ['demo', 'test', 'live'], memoryMb: 512, maxMemoryMb: 1024, tenants: 3 },
  pro: { environments: ['demo', 'test', 'live'], memoryMb: 1024, maxMemoryMb: 2048, tenants: 20 },
});

/** The plan a tenant gets when the request names none. */
export const DEFAULT_PLAN = 'free';

/** The built-in defaults of `id`; undefined for anything else, prototype keys such as "constructor" included. */
export const planDefaults = (id: string): PlanDefaults | undefined => (Object.hasOwn(PLAN_DEFAULTS, id) ? PLAN_DEFAULTS[id] : undefined);
