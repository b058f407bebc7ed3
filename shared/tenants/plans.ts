import type { EnvName } from './types.ts';

export interface PlanDefaults {
  environments: EnvName[];
  memoryMb: number;
}

/** What a plan gives a tenant when the request does not say; the plans API adds prices on top. */
export const PLAN_DEFAULTS: Record<string, PlanDefaults> = {
  free: { environments: ['live'], memoryMb: 256 },
  starter: { environments: ['test', 'live'], memoryMb: 512 },
  pro: { environments: ['demo', 'test', 'live'], memoryMb: 1024 },
};

export const DEFAULT_PLAN = 'pro';
