/**
 * What the chat needs from the rest of the platform, as small ports so the
 * function wires the real services and tests can pass their own.
 */
import type { Principal } from '../auth/principal.ts';

/** A tenant's costs over a date range (both days inclusive, YYYY-MM-DD). */
export interface BillingTotals {
  tenantId: string;
  from: string;
  to: string;
  currency: string;
  total: number;
  byService?: Record<string, number>;
}

/** Reads billing totals; authorization of the tenant happens before it is called (tenants.resolve). */
export interface BillingPort {
  totals(p: Principal, tenantId: string, range: { from: string; to: string }): Promise<BillingTotals>;
}

/** Throws a 429 AppError when the caller has used up its chat budget. */
export type RateLimiter = (p: Principal) => Promise<void>;
