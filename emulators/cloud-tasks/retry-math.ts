/**
 * Retry timing for failed attempts, as documented for
 * google.cloud.tasks.v2.RetryConfig (queue.proto, field max_doublings):
 *
 *   "A task's retry interval starts at min_backoff, then doubles
 *    max_doublings times, then increases linearly, and finally retries at
 *    intervals of max_backoff up to max_attempts times. For example, if
 *    min_backoff is 10s, max_backoff is 300s, and max_doublings is 3, then
 *    the task will first be retried in 10s. The retry interval will double
 *    three times, and then increase linearly by 2^3 * 10s. [...] Thus, the
 *    requests will retry at 10s, 20s, 40s, 80s, 160s, 240s, 300s, 300s, ...."
 *
 * and for max_retry_duration: "Once max_retry_duration time has passed *and*
 * the task has been attempted max_attempts times, no further attempts will
 * be made and the task will be deleted. If zero, then the task age is
 * unlimited."
 */
import type { RetryConfigRecord } from './model.ts';

/**
 * Delay before the next attempt after `failedAttempts` failures (1 = the
 * first attempt failed, so this is the first retry).
 */
export function computeBackoffMs(config: RetryConfigRecord, failedAttempts: number): number {
  const retryIndex = Math.max(0, failedAttempts - 1);
  const doublings = Math.min(retryIndex, config.maxDoublings);
  const lastDoubled = config.minBackoffMs * 2 ** doublings;
  const linearSteps = retryIndex - doublings;
  // After the doublings the interval grows by the last doubled interval each time.
  const interval = lastDoubled + linearSteps * config.minBackoffMs * 2 ** config.maxDoublings;
  return Math.min(interval, config.maxBackoffMs);
}

/**
 * Whether a task that has just failed its `attempts`-th attempt gets another
 * one. Both limits must be reached to stop: -1 attempts never is, and a zero
 * max_retry_duration (unlimited age) never holds a task back on its own.
 */
export function shouldRetry(config: RetryConfigRecord, attempts: number, firstAttemptMs: number, now: number): boolean {
  const attemptsReached = config.maxAttempts !== -1 && attempts >= config.maxAttempts;
  const durationReached = config.maxRetryDurationMs === 0 || now - firstAttemptMs >= config.maxRetryDurationMs;
  return !(attemptsReached && durationReached);
}
