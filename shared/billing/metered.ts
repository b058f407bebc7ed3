/**
 * The local cost source (R-BILL-2): usage records the sampler wrote for the
 * local runtime, summed per tenant and day, then priced by the price sheet.
 *
 * Records live in `usage/{day}/records/{tenantId}-{env}-{sampledAtMs}`: one
 * immutable document per environment per sample (see sampler.ts), so no document
 * is ever written twice and a day's records are one collection to stream.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { PriceSheet } from './config.ts';
import type { CostRow, CostSource, DayRange } from './types.ts';
import { listDays } from './types.ts';

/** What one sample of one environment adds (increments since the previous sample). */
export interface UsageRecord {
  /** Empty when the environment belongs to no tenant (it is kept as unattributed). */
  tenantId: string;
  env: string;
  day: string;
  /** Seconds the instance ran during the window. */
  instanceSeconds: number;
  /** instanceSeconds × memory limit in MiB. */
  memoryMibSeconds: number;
  requests: number;
}

/** Reads a day's usage records, one at a time. */
export type UsageReader = (
  day: string,
) => AsyncIterable<Pick<UsageRecord, 'tenantId' | 'instanceSeconds' | 'memoryMibSeconds' | 'requests'>>;

/** Service names on metered cost documents (like `service.description` in the billing export). */
export const METERED_SERVICES = { instances: 'Instance time', memory: 'Memory', requests: 'Requests' } as const;

/** The Firestore collection of a day's usage records. */
export function usageCollection(day: string): string {
  return `usage/${day}/records`;
}

/** Streams a day's usage records from Firestore, only the fields pricing needs. */
export function readUsageFromFirestore(db: Firestore): UsageReader {
  return async function* (day) {
    const stream = db.collection(usageCollection(day)).select('tenantId', 'instanceSeconds', 'memoryMibSeconds', 'requests').stream();
    for await (const snap of stream as AsyncIterable<FirebaseFirestore.QueryDocumentSnapshot>) {
      yield {
        tenantId: String(snap.get('tenantId') ?? ''),
        instanceSeconds: Number(snap.get('instanceSeconds') ?? 0),
        memoryMibSeconds: Number(snap.get('memoryMibSeconds') ?? 0),
        requests: Number(snap.get('requests') ?? 0),
      };
    }
  };
}

/** Prices one tenant-day of usage; zero amounts are left out. */
export function priceUsage(usage: { instanceSeconds: number; memoryMibSeconds: number; requests: number }, sheet: PriceSheet) {
  const amounts: [string, number][] = [
    [METERED_SERVICES.instances, usage.instanceSeconds * sheet.instanceSecond],
    [METERED_SERVICES.memory, (usage.memoryMibSeconds / 1024) * sheet.gibSecond],
    [METERED_SERVICES.requests, (usage.requests / 1_000_000) * sheet.millionRequests],
  ];
  return amounts.filter(([, amount]) => amount > 0);
}

/**
 * The metered source. Usage is summed per tenant before pricing, so a day of a
 * million records becomes one small map (three numbers per tenant) and then a few rows per tenant.
 */
export function createMeteredSource(options: { priceSheet: PriceSheet; read: UsageReader }): CostSource {
  const { priceSheet, read } = options;
  return {
    name: 'metered',
    async *rows(range: DayRange): AsyncIterable<CostRow> {
      for (const day of listDays(range)) {
        const totals = new Map<string, [number, number, number]>();
        for await (const record of read(day)) {
          let t = totals.get(record.tenantId);
          if (!t) totals.set(record.tenantId, (t = [0, 0, 0]));
          t[0] += record.instanceSeconds;
          t[1] += record.memoryMibSeconds;
          t[2] += record.requests;
        }
        for (const [tenantId, [instanceSeconds, memoryMibSeconds, requests]] of totals) {
          for (const [service, amount] of priceUsage({ instanceSeconds, memoryMibSeconds, requests }, priceSheet)) {
            yield { day, tenantId: tenantId || null, service, currency: priceSheet.currency, amount };
          }
        }
      }
    },
  };
}
