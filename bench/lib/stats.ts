/** Small statistics for latency samples. */

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  mean: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), mean, max: sorted.at(-1) ?? NaN };
}

/** Times `fn` in milliseconds with the monotonic clock. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the order of results. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Adds to `gaps`, per event type, the ms from the event before it to this one
 * (the events' own timestamps, in log order): which step of a launch costs the time.
 */
export function addEventGaps(gaps: Record<string, number[]>, events: { id: string; type: string; at?: string }[]): void {
  const timed = events.filter((e) => e.at).sort((a, b) => a.id.localeCompare(b.id));
  for (let e = 1; e < timed.length; e++) (gaps[timed[e].type] ??= []).push(Date.parse(timed[e].at!) - Date.parse(timed[e - 1].at!));
}
