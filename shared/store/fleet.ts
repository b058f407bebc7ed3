/**
 * The portal's fleet overview (admins), computed with Firestore aggregation
 * queries rather than by reading every tenant: a count per state, a count of
 * launches per day, the environments failing now (one collection-group query,
 * newest first, with their count), and each day's platform cost from
 * `billingDays/{day}` (the billing aggregation writes one per day).
 */
import type { Firestore } from '@google-cloud/firestore';
import { TENANT_STATES, type EnvName, type TenantState } from '../tenants/types.ts';

export interface FleetOverview {
  generatedAt: string;
  tenantsByState: Record<TenantState, number>;
  failing: { total: number; environments: { tenantId: string; env: EnvName; error?: { code: string; message: string }; since: string }[] };
  /** Oldest first: the last `days` days, today included (UTC). */
  launchesPerDay: { day: string; launches: number }[];
  costsPerDay: { day: string; total: number | null; currency: string | null }[];
}

const DAY_MS = 86_400_000;
/** How many failing environments the overview lists (the count covers all). */
export const FAILING_LISTED = 50;

/** The last `n` UTC days, oldest first, as `yyyy-mm-dd`. */
export function lastDays(now: Date, n: number): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: n }, (_, i) => new Date(today - (n - 1 - i) * DAY_MS).toISOString().slice(0, 10));
}

export async function readFleetOverview(db: Firestore, now: Date, days = 30): Promise<FleetOverview> {
  const tenants = db.collection('tenants');
  const dayList = lastDays(now, days);
  const failingQuery = db.collectionGroup('environments').where('status', '==', 'failed');
  const [states, launches, failingDocs, failingCount, costDocs] = await Promise.all([
    Promise.all(TENANT_STATES.map(async (state) => (await tenants.where('state', '==', state).count().get()).data().count)),
    Promise.all(
      dayList.map(async (day) => {
        const end = new Date(Date.parse(day) + DAY_MS).toISOString().slice(0, 10);
        // createdAt is an ISO string: every time of `day` sorts between the day and the next.
        return (await tenants.where('createdAt', '>=', day).where('createdAt', '<', end).count().get()).data().count;
      }),
    ),
    failingQuery.orderBy('updatedAt', 'desc').limit(FAILING_LISTED).get(),
    failingQuery.count().get(),
    db.getAll(...dayList.map((day) => db.doc(`billingDays/${day}`))),
  ]);
  return {
    generatedAt: now.toISOString(),
    tenantsByState: Object.fromEntries(TENANT_STATES.map((s, i) => [s, states[i]])) as Record<TenantState, number>,
    failing: {
      total: failingCount.data().count,
      environments: failingDocs.docs.map((d) => {
        const env = d.data() as { tenantId?: string; env: EnvName; error?: { code: string; message: string }; updatedAt: string };
        return { tenantId: env.tenantId ?? d.ref.parent.parent?.id ?? '', env: env.env ?? d.id, error: env.error, since: env.updatedAt };
      }),
    },
    launchesPerDay: dayList.map((day, i) => ({ day, launches: launches[i] })),
    costsPerDay: dayList.map((day, i) => {
      const data = costDocs[i].data() as { total?: number; currency?: string | null } | undefined;
      return { day, total: typeof data?.total === 'number' ? data.total : null, currency: data?.currency ?? null };
    }),
  };
}
