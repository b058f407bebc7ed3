/**
 * Billing entry points: the one place the cost source is chosen from config,
 * and reading a tenant's stored daily costs back (R-BILL-3).
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Config } from '../config.ts';
import { DriverError } from '../errors.ts';
import { createBigQuerySource } from './bigquery.ts';
import { costsPath } from './costs.ts';
import { createMeteredSource, readUsageFromFirestore } from './metered.ts';
import { roundMoney, type CostSource, type DailyCost, type DayRange } from './types.ts';

export { aggregateDay, aggregateDays } from './aggregate.ts';
export type { CostRow, CostSource, DailyCost, DayRange } from './types.ts';

/**
 * The configured cost source: `bigquery` (the Cloud Billing export) or `metered`
 * (local runtime usage priced by the price sheet). `authClient` is for tests.
 */
export function createCostSource(
  config: Pick<Config, 'projectId' | 'billing'>,
  db: Firestore,
  options: { authClient?: unknown } = {},
): CostSource {
  const billing = config.billing;
  switch (billing.source) {
    case 'bigquery':
      if (!billing.exportTable)
        throw new DriverError('bigquery', 'not_configured', 'BILLING_EXPORT_TABLE must be set for the bigquery billing source');
      return createBigQuerySource({
        projectId: config.projectId,
        table: billing.exportTable,
        apiEndpoint: billing.bigqueryEndpoint,
        location: billing.exportLocation,
        authClient: options.authClient,
      });
    case 'metered':
      return createMeteredSource({ priceSheet: billing.priceSheet, read: readUsageFromFirestore(db) });
    default:
      throw new DriverError(
        'billing',
        'not_configured',
        `unknown billing source ${JSON.stringify(billing.source)}; valid sources are "bigquery", "metered"`,
      );
  }
}

/** A tenant's costs over a range, as `GET /api/v1/tenants/{id}/billing` answers. */
export interface TenantBilling {
  tenantId: string;
  currency: string;
  from: string;
  to: string;
  total: number;
  days: { day: string; total: number; services: Record<string, number> }[];
  services: Record<string, number>;
}

/** Reads `tenants/{id}/costs/{day}` for the range (days without costs are left out). */
export async function readTenantCosts(db: Firestore, tenantId: string, range: DayRange, fallbackCurrency = 'USD'): Promise<TenantBilling> {
  const snap = await db.collection(costsPath(tenantId)).where('day', '>=', range.from).where('day', '<=', range.to).orderBy('day').get();
  const services: Record<string, number> = {};
  let total = 0;
  let currency: string | undefined;
  const days = snap.docs.map((doc) => {
    const cost = doc.data() as DailyCost;
    currency ??= cost.currency;
    total += cost.total;
    for (const [name, amount] of Object.entries(cost.services ?? {})) services[name] = (services[name] ?? 0) + amount;
    return { day: cost.day, total: cost.total, services: cost.services ?? {} };
  });
  for (const name of Object.keys(services)) services[name] = roundMoney(services[name]);
  return { tenantId, currency: currency ?? fallbackCurrency, from: range.from, to: range.to, total: roundMoney(total), days, services };
}
