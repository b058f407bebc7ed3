/**
 * Daily cost aggregation (R-BILL-1, R-BILL-2): sums a source's rows per day,
 * tenant and service in memory maps, then REPLACES each day's documents:
 *
 * - `tenants/{id}/costs/{day}`: {day, currency, total, services: {name: amount}, source, updatedAt}
 * - `billing/unattributed/costs/{day}`: the same for rows without a tenant label (never dropped)
 * - `billingDays/{day}`: the day's summary, and `billingDays/{day}/tenantIds/{n}` the ids written
 *   that day (chunks of 2,000), so a re-run can delete the documents of tenants that
 *   disappeared without a collection-group query (which would need an extra index).
 *
 * Re-running a day writes full documents (set, never increment), so it cannot double count.
 * Before touching tenant documents the manifest is widened to old ∪ new ids; after, it is
 * narrowed to the new ids. A run killed halfway therefore leaves nothing a later run cannot find.
 */
import type { DocumentReference, Firestore } from '@google-cloud/firestore';
import type { Logger } from '../log.ts';
import { costPath } from './costs.ts';
import { listDays, roundMoney, type CostSource, type DailyCost, type DayRange } from './types.ts';

export interface AggregateDeps {
  db: Firestore;
  now: () => Date;
  log?: Logger;
}

interface Sum {
  total: number;
  services: Map<string, number>;
}

/** What one day summed to. */
export interface DaySums {
  currency?: string;
  tenants: Map<string, Sum>;
  unattributed?: Sum;
  rows: number;
}

export interface DayResult {
  day: string;
  currency: string | null;
  tenants: number;
  total: number;
  unattributed: number;
  /** Tenants that had costs from an earlier run of this day and none now. */
  removed: number;
}

export interface AggregateResult {
  source: string;
  from: string;
  to: string;
  rows: number;
  days: DayResult[];
  durationMs: number;
}

const CHUNK = 2000;
/** Label values are [a-z0-9_-], ≤ 63 chars; anything else cannot be a tenant id (or a safe document id). */
const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function add(sum: Sum, service: string, amount: number) {
  sum.total += amount;
  sum.services.set(service, (sum.services.get(service) ?? 0) + amount);
}

/** Sums rows per day, tenant and service; rows outside the range are ignored. Throws when one day mixes currencies. */
export async function sumCosts(source: CostSource, range: DayRange): Promise<Map<string, DaySums>> {
  const days = new Map<string, DaySums>(listDays(range).map((day) => [day, { tenants: new Map(), rows: 0 }]));
  for await (const row of source.rows(range)) {
    const day = days.get(row.day);
    if (!day) continue;
    day.rows += 1;
    if (day.currency && row.currency !== day.currency) {
      throw new Error(
        `the ${source.name} source mixes currencies ${day.currency} and ${row.currency} on ${row.day}; costs are stored in one currency per day`,
      );
    }
    day.currency = row.currency;
    const tenantId = row.tenantId && TENANT_ID.test(row.tenantId) ? row.tenantId : null;
    let sum: Sum | undefined = tenantId ? day.tenants.get(tenantId) : day.unattributed;
    if (!sum) {
      sum = { total: 0, services: new Map() };
      if (tenantId) day.tenants.set(tenantId, sum);
      else day.unattributed = sum;
    }
    add(sum, row.service, row.amount);
  }
  return days;
}

function toDoc(day: string, currency: string, sum: Sum, source: string, updatedAt: string): DailyCost {
  const services: Record<string, number> = {};
  for (const [name, amount] of sum.services) services[name] = roundMoney(amount);
  return { day, currency, total: roundMoney(sum.total), services, source, updatedAt };
}

/** Ids recorded for a day by earlier runs. */
async function readManifest(db: Firestore, day: string): Promise<Set<string>> {
  const snap = await db.collection(`billingDays/${day}/tenantIds`).get();
  // A comma-separated string since issue 19; days written before hold an array.
  return new Set(
    snap.docs.flatMap((d) => {
      const ids = d.get('ids') as string | string[] | undefined;
      return typeof ids === 'string' ? ids.split(',').filter(Boolean) : (ids ?? []);
    }),
  );
}

/**
 * Replaces the manifest chunks with `ids`; returns when written. Each chunk
 * holds its ids as one comma-separated string (tenant ids have no comma), not
 * an array: Firestore indexes every element of an array, so 2,000 ids made
 * 2,000 index entries per chunk, and writing the manifest twice took longer
 * than the 10,000 cost documents (bench/billing.ts).
 */
async function writeManifest(db: Firestore, day: string, ids: string[], previousChunks: number): Promise<number> {
  const batch = db.batch();
  const chunks = Math.ceil(ids.length / CHUNK);
  for (let i = 0; i < chunks; i++)
    batch.set(db.doc(`billingDays/${day}/tenantIds/${i}`), { ids: ids.slice(i * CHUNK, (i + 1) * CHUNK).join(',') });
  for (let i = chunks; i < previousChunks; i++) batch.delete(db.doc(`billingDays/${day}/tenantIds/${i}`));
  await batch.commit();
  return chunks;
}

/** Writes one day's documents (see the file comment for the order and why). */
export async function writeDay(deps: AggregateDeps, day: string, sums: DaySums, source: string): Promise<DayResult> {
  const { db } = deps;
  const updatedAt = deps.now().toISOString();
  const previous = await readManifest(db, day);
  const previousChunks = Math.ceil(previous.size / CHUNK);
  const current = [...sums.tenants.keys()].sort();
  const removed = [...previous].filter((id) => !sums.tenants.has(id));
  const widened = await writeManifest(db, day, [...new Set([...current, ...removed])].sort(), previousChunks);

  const writes: Write[] = [];
  const currency = sums.currency ?? 'USD';
  let total = 0;
  for (const [tenantId, sum] of sums.tenants) {
    total += sum.total;
    writes.push([db.doc(costPath(tenantId, day)), toDoc(day, currency, sum, source, updatedAt)]);
  }
  for (const tenantId of removed) writes.push([db.doc(costPath(tenantId, day)), null]);
  writes.push([
    db.doc(`billing/unattributed/costs/${day}`),
    sums.unattributed ? toDoc(day, currency, sums.unattributed, source, updatedAt) : null,
  ]);
  await writeInBatches(db, writes);

  const chunks = await writeManifest(db, day, current, widened);
  const unattributed = roundMoney(sums.unattributed?.total ?? 0);
  const result: DayResult = {
    day,
    currency: sums.currency ?? null,
    tenants: current.length,
    total: roundMoney(total + unattributed),
    unattributed,
    removed: removed.length,
  };
  await db.doc(`billingDays/${day}`).set({ ...result, source, chunks, rows: sums.rows, updatedAt });
  return result;
}

/**
 * Aggregates every day of `range` from `source` and replaces the stored costs of
 * those days. A day with no rows is replaced by nothing (earlier documents are removed).
 */
export async function aggregateDays(deps: AggregateDeps, options: { source: CostSource; range: DayRange }): Promise<AggregateResult> {
  const started = performance.now();
  const { source, range } = options;
  const sums = await sumCosts(source, range);
  const days: DayResult[] = [];
  let rows = 0;
  for (const [day, daySums] of sums) {
    rows += daySums.rows;
    days.push(await writeDay(deps, day, daySums, source.name));
  }
  const result = { source: source.name, from: range.from, to: range.to, rows, days, durationMs: Math.round(performance.now() - started) };
  deps.log?.info('billing aggregated', {
    source: result.source,
    from: range.from,
    to: range.to,
    rows,
    days: days.length,
    durationMs: result.durationMs,
  });
  return result;
}

/** Aggregates one day; see {@link aggregateDays}. */
export function aggregateDay(deps: AggregateDeps, options: { source: CostSource; day: string }) {
  return aggregateDays(deps, { source: options.source, range: { from: options.day, to: options.day } });
}

/** A document to set, or to delete (`null`). */
export type Write = [DocumentReference, DailyCost | null];

const BATCH_SIZE = 500;
const BATCHES_IN_FLIGHT = 8;

/**
 * Writes `writes` as batches of 500 (Firestore's limit per commit), 8 in
 * flight, each retried on a transient failure. Not BulkWriter: it sends 20
 * writes per request, and the cost of a write is mostly its request's:
 * 10,000 documents took 12.2 s through BulkWriter (throttling off) and 2.9 s
 * as batches of 500 against the emulator on the 2-core machine (bench/billing.ts).
 * Every write is a whole-document set or a delete, so a retried batch is harmless.
 */
export async function writeInBatches(db: Firestore, writes: Write[]): Promise<void> {
  const batches: Write[][] = [];
  for (let i = 0; i < writes.length; i += BATCH_SIZE) batches.push(writes.slice(i, i + BATCH_SIZE));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const chunk = batches[next++];
      for (let attempt = 1; ; attempt++) {
        const batch = db.batch();
        for (const [ref, data] of chunk) data ? batch.set(ref, data) : batch.delete(ref);
        try {
          await batch.commit();
          break;
        } catch (err) {
          // ABORTED, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, RESOURCE_EXHAUSTED: worth another try.
          if (attempt >= 5 || ![4, 8, 10, 13, 14].includes((err as { code?: number }).code ?? -1)) throw err;
          await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCHES_IN_FLIGHT, batches.length) }, worker));
}
