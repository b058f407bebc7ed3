/**
 * Metrics history (R-OBS-1): one sample per environment per minute at
 * `tenants/{id}/metrics/{env}/samples/{yyyymmddhhmm}`, written when metrics are read
 * (the portal and the sampler read them), so no document is written more than once a minute.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { EnvironmentMetrics } from '../runtime/types.ts';
import { metricSamplesPath } from '../store/tenants.ts';

export interface MetricsSample extends EnvironmentMetrics {
  env: string;
  minute: string;
}

const minuteOf = (date: Date) => date.toISOString().slice(0, 16).replace(/\D/g, '');

export async function recordMetricsSamples(
  db: Firestore,
  tenantId: string,
  metrics: Record<string, EnvironmentMetrics | null | undefined>,
  now: Date,
): Promise<void> {
  const minute = minuteOf(now);
  const writes = Object.entries(metrics)
    .filter((entry): entry is [string, EnvironmentMetrics] => Boolean(entry[1]))
    .map(([env, sample]) =>
      db
        .doc(`${metricSamplesPath(tenantId, env)}/${minute}`)
        .create({ ...sample, env, minute })
        .catch((err: { code?: number }) => {
          if (err.code !== 6) throw err; // ALREADY_EXISTS: this minute is sampled
        }),
    );
  await Promise.all(writes);
}

export async function readMetricsHistory(db: Firestore, tenantId: string, env: string, limit: number): Promise<MetricsSample[]> {
  // One collection per environment: ordering by minute needs only the automatic single-field index.
  const snap = await db.collection(metricSamplesPath(tenantId, env)).orderBy('minute', 'desc').limit(limit).get();
  return snap.docs.map((d) => d.data() as MetricsSample);
}
