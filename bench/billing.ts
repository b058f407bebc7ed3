/**
 * Benchmark of daily billing aggregation (R-BILL-2 at scale): one day of
 * 1,000,000 metered usage records for 10,000 tenants, generated in memory and
 * streamed through the real metered source and aggregator (sum per tenant,
 * price, sum per tenant and service). Target: < 20 s and < 1 GiB peak RSS.
 *
 * The Firestore part (replacing the day's cost documents with BulkWriter) runs
 * only when FIRESTORE_EMULATOR_HOST is set, against a throwaway project; by default
 * it writes the day's documents for all of them (or `writeTenants`) and reports the time and documents per second.
 *
 * Run directly: `npx tsx bench/billing.ts [records] [tenants]`
 * (with `FIRESTORE_EMULATOR_HOST=127.0.0.1:PORT` to include the writes).
 */
import { randomBytes } from 'node:crypto';
import { writeDay, sumCosts, writeInBatches, type Write } from '../shared/billing/aggregate.ts';
import { costPath } from '../shared/billing/costs.ts';
import type { DailyCost } from '../shared/billing/types.ts';
import type { Firestore } from '@google-cloud/firestore';
import { DEFAULT_PRICE_SHEET } from '../shared/billing/config.ts';
import { createMeteredSource, type UsageReader } from '../shared/billing/metered.ts';
import { createFirestore } from '../shared/store/db.ts';

/** One benchmark's figures. */
export interface BenchResult {
  name: string;
  figures: Record<string, number>;
  unit: Record<string, string>;
}

export interface BillingBenchOptions {
  records?: number;
  tenants?: number;
  /** Tenants whose documents are written to the emulator (0: skip; needs FIRESTORE_EMULATOR_HOST). */
  writeTenants?: number;
  firestoreHost?: string;
}

/** Deterministic records: tenant i gets records i, i + tenants, …; numbers from a small LCG. */
function generateRecords(records: number, tenants: number): UsageReader {
  const ids = Array.from({ length: tenants }, (_, i) => `t-${i.toString(32).padStart(10, '0')}`);
  return async function* () {
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    for (let i = 0; i < records; i++) {
      const seconds = 30 + Math.floor(next() * 60);
      yield { tenantId: ids[i % tenants], instanceSeconds: seconds, memoryMibSeconds: seconds * 512, requests: Math.floor(next() * 200) };
    }
  };
}

/** Tracks the highest resident set size seen while `fn` runs (sampled every 20 ms, plus getrusage's maxRSS). */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
    return { value, peakRssMb: Math.round(peak / 1_048_576) };
  } finally {
    clearInterval(timer);
  }
}

/** Writes `docs` as another day's cost documents with one writer; ms taken (the better of the two rounds is reported). */
async function timeWrites(
  db: Firestore,
  docs: (readonly [string, DailyCost])[],
  day: string,
  writer: 'batches' | 'bulkWriter',
): Promise<number> {
  const writes: Write[] = docs.map(([tenantId, doc]) => [db.doc(costPath(tenantId, day)), { ...doc, day }]);
  const started = performance.now();
  if (writer === 'batches') await writeInBatches(db, writes);
  else {
    const bulk = db.bulkWriter({ throttling: false });
    // Throttling off: its ramp-up (500 ops/s, +50% every 5 min) is for production's hot-spotting, and would only measure itself here.
    bulk.onWriteError((err) => err.failedAttempts < 5);
    for (const [ref, data] of writes) void bulk.set(ref, data!).catch(() => undefined);
    await bulk.close();
  }
  return performance.now() - started;
}

export async function benchBilling(opts: BillingBenchOptions = {}): Promise<BenchResult> {
  const records = opts.records ?? 1_000_000;
  const tenants = opts.tenants ?? 10_000;
  const day = '2024-01-15';
  const source = createMeteredSource({ priceSheet: DEFAULT_PRICE_SHEET, read: generateRecords(records, tenants) });

  const started = performance.now();
  const { value: sums, peakRssMb } = await withPeakRss(() => sumCosts(source, { from: day, to: day }));
  const aggregateMs = performance.now() - started;
  const daySums = sums.get(day)!;
  if (daySums.tenants.size !== tenants) throw new Error(`benchBilling: expected ${tenants} tenants, summed ${daySums.tenants.size}`);

  const figures: Record<string, number> = {
    records,
    tenants,
    aggregateMs: Math.round(aggregateMs),
    recordsPerSecond: Math.round(records / (aggregateMs / 1000)),
    peakRssMb,
  };
  const unit: Record<string, string> = {
    records: 'records',
    tenants: 'tenants',
    aggregateMs: 'ms',
    recordsPerSecond: 'records/s',
    peakRssMb: 'MiB',
  };

  const host = opts.firestoreHost ?? process.env.FIRESTORE_EMULATOR_HOST;
  const writeTenants = Math.min(opts.writeTenants ?? tenants, tenants);
  if (host && writeTenants > 0) {
    const db = createFirestore({ projectId: `demo-bench-${randomBytes(4).toString('hex')}`, emulators: { firestore: host } });
    const sample = { ...daySums, tenants: new Map([...daySums.tenants].slice(0, writeTenants)) };
    try {
      // A warm-up day first, not counted: the emulator's JVM serves its first thousands of writes several times slower.
      await writeDay({ db, now: () => new Date() }, '2024-01-14', sample, 'metered');
      const writeStarted = performance.now();
      await writeDay({ db, now: () => new Date() }, day, sample, 'metered');
      const writeMs = performance.now() - writeStarted;
      figures.writtenTenants = writeTenants;
      figures.writeMs = Math.round(writeMs);
      figures.docsPerSecond = Math.round(writeTenants / (writeMs / 1000));
      figures.projectedWriteAllMs = Math.round((writeMs / writeTenants) * tenants);
      Object.assign(unit, { writtenTenants: 'tenants', writeMs: 'ms', docsPerSecond: 'docs/s', projectedWriteAllMs: 'ms' });
      // The two writers on the same documents, alternating so a drifting load skews both alike (issue 19 asked for BulkWriter).
      const updatedAt = new Date().toISOString();
      const docs = [...sample.tenants].map(([tenantId, sum]) => {
        const services = Object.fromEntries([...sum.services].map(([name, amount]) => [name, Math.round(amount * 100) / 100]));
        const doc: DailyCost = { day, currency: 'USD', total: Math.round(sum.total * 100) / 100, services, source: 'metered', updatedAt };
        return [tenantId, doc] as const;
      });
      figures.comparedDocs = docs.length;
      unit.comparedDocs = 'docs';
      const asBatches: number[] = [];
      const asBulkWriter: number[] = [];
      for (let round = 0; round < 2; round++) {
        asBatches.push(await timeWrites(db, docs, `2024-02-0${round + 1}`, 'batches'));
        asBulkWriter.push(await timeWrites(db, docs, `2024-03-0${round + 1}`, 'bulkWriter'));
      }
      figures.batchesWriteMs = Math.round(Math.min(...asBatches));
      figures.bulkWriterWriteMs = Math.round(Math.min(...asBulkWriter));
      Object.assign(unit, { batchesWriteMs: 'ms', bulkWriterWriteMs: 'ms' });
    } finally {
      await db.terminate();
    }
  }
  return { name: 'billing aggregation (metered, one day)', figures, unit };
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const records = process.argv[2] ? Number(process.argv[2]) : undefined;
  const tenants = process.argv[3] ? Number(process.argv[3]) : undefined;
  const result = await benchBilling({ records, tenants });
  console.log(result.name);
  for (const [key, value] of Object.entries(result.figures))
    console.log(`  ${key.padEnd(22)} ${String(value).padStart(10)} ${result.unit[key]}`);
  if (!process.env.FIRESTORE_EMULATOR_HOST) console.log('  (set FIRESTORE_EMULATOR_HOST to also measure the Firestore writes)');
}
