import test from 'ava';
import { DEFAULT_RETRY_CONFIG } from './model.ts';
import { computeBackoffMs, shouldRetry } from './retry-math.ts';

// Backoff

test('backoff follows the documented example: 10s, 20s, 40s, 80s, 160s, 240s, 300s, 300s', (t) => {
  const config = { ...DEFAULT_RETRY_CONFIG, minBackoffMs: 10_000, maxBackoffMs: 300_000, maxDoublings: 3 };
  const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((failures) => computeBackoffMs(config, failures) / 1000);
  t.deepEqual(delays, [10, 20, 40, 80, 160, 240, 300, 300]);
});

test('with production defaults backoff doubles from 0.1 s and is capped at one hour', (t) => {
  t.is(computeBackoffMs(DEFAULT_RETRY_CONFIG, 1), 100);
  t.is(computeBackoffMs(DEFAULT_RETRY_CONFIG, 2), 200);
  t.is(computeBackoffMs(DEFAULT_RETRY_CONFIG, 10), 51_200);
  t.is(computeBackoffMs(DEFAULT_RETRY_CONFIG, 50), 3_600_000);
});

// When to stop

test('retrying stops only when both maxAttempts and maxRetryDuration are reached', (t) => {
  const config = { ...DEFAULT_RETRY_CONFIG, maxAttempts: 3, maxRetryDurationMs: 10_000 };
  t.true(shouldRetry(config, 3, 0, 5_000), 'attempts reached, duration not');
  t.true(shouldRetry(config, 2, 0, 20_000), 'duration reached, attempts not');
  t.false(shouldRetry(config, 3, 0, 20_000));
});

test('a zero maxRetryDuration leaves maxAttempts in charge and -1 attempts never stops', (t) => {
  t.true(shouldRetry(DEFAULT_RETRY_CONFIG, 99, 0, 1e12));
  t.false(shouldRetry(DEFAULT_RETRY_CONFIG, 100, 0, 1));
  t.true(shouldRetry({ ...DEFAULT_RETRY_CONFIG, maxAttempts: -1 }, 10_000, 0, 1e12));
});
