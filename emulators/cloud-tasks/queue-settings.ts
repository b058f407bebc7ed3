/**
 * Turns a Queue message from CreateQueue/UpdateQueue into a QueueRecord:
 * unset fields take the production defaults, update masks pick which fields
 * change, and values outside the API's limits are refused as the real API
 * refuses them (INVALID_ARGUMENT).
 */
import { ApiError } from './api-error.ts';
import { toMs, type SecondsNanos } from './convert.ts';
import {
  DEFAULT_RATE_LIMITS,
  DEFAULT_RETRY_CONFIG,
  MAX_CONCURRENT_DISPATCHES,
  MAX_DISPATCHES_PER_SECOND,
  type QueueRecord,
  type RateLimitsRecord,
  type RetryConfigRecord,
} from './model.ts';

/** A Queue message as the API layer receives it. */
export interface QueueInput {
  name?: string;
  rateLimits?: { maxDispatchesPerSecond?: number; maxBurstSize?: number; maxConcurrentDispatches?: number } | null;
  retryConfig?: {
    maxAttempts?: number;
    maxRetryDuration?: SecondsNanos | null;
    minBackoff?: SecondsNanos | null;
    maxBackoff?: SecondsNanos | null;
    maxDoublings?: number;
  } | null;
  appEngineRoutingOverride?: Record<string, unknown> | null;
  stackdriverLoggingConfig?: { samplingRatio?: number } | null;
}

// proto3 cannot tell an explicit 0 from "unset", so 0 picks the default, as
// the real API does for a queue created without settings.
const pick = (value: number | undefined | null, fallback: number): number =>
  value === undefined || value === null || value === 0 ? fallback : Number(value);

function rateLimitsFrom(input: QueueInput['rateLimits']): RateLimitsRecord {
  return {
    maxDispatchesPerSecond: pick(input?.maxDispatchesPerSecond, DEFAULT_RATE_LIMITS.maxDispatchesPerSecond),
    maxBurstSize: 0, // output only: derived in finishRateLimits
    maxConcurrentDispatches: pick(input?.maxConcurrentDispatches, DEFAULT_RATE_LIMITS.maxConcurrentDispatches),
  };
}

function retryConfigFrom(input: QueueInput['retryConfig']): RetryConfigRecord {
  return {
    maxAttempts: pick(input?.maxAttempts, DEFAULT_RETRY_CONFIG.maxAttempts),
    maxRetryDurationMs: pick(toMs(input?.maxRetryDuration), DEFAULT_RETRY_CONFIG.maxRetryDurationMs),
    minBackoffMs: pick(toMs(input?.minBackoff), DEFAULT_RETRY_CONFIG.minBackoffMs),
    maxBackoffMs: pick(toMs(input?.maxBackoff), DEFAULT_RETRY_CONFIG.maxBackoffMs),
    maxDoublings: pick(input?.maxDoublings, DEFAULT_RETRY_CONFIG.maxDoublings),
  };
}

/**
 * max_burst_size is output only and "picked based on max_dispatches_per_second";
 * the formula is not published. Locally: one second's worth of dispatches,
 * at most 100 — which gives production's 100 for the default 500/s.
 */
function finishRateLimits(limits: RateLimitsRecord): RateLimitsRecord {
  return { ...limits, maxBurstSize: Math.max(1, Math.min(100, Math.ceil(limits.maxDispatchesPerSecond))) };
}

function validate(queue: QueueRecord): QueueRecord {
  const { rateLimits: l, retryConfig: r } = queue;
  const bad = (message: string): never => {
    throw new ApiError('INVALID_ARGUMENT', message);
  };
  if (!(l.maxDispatchesPerSecond > 0) || l.maxDispatchesPerSecond > MAX_DISPATCHES_PER_SECOND) {
    bad(
      `Invalid rate_limits.max_dispatches_per_second ${l.maxDispatchesPerSecond}: must be greater than 0 and at most ${MAX_DISPATCHES_PER_SECOND}.`,
    );
  }
  if (
    !Number.isInteger(l.maxConcurrentDispatches) ||
    l.maxConcurrentDispatches < 1 ||
    l.maxConcurrentDispatches > MAX_CONCURRENT_DISPATCHES
  ) {
    bad(`Invalid rate_limits.max_concurrent_dispatches ${l.maxConcurrentDispatches}: must be between 1 and ${MAX_CONCURRENT_DISPATCHES}.`);
  }
  if (r.maxAttempts < -1) bad(`Invalid retry_config.max_attempts ${r.maxAttempts}: must be >= -1 (-1 means unlimited).`);
  if (r.maxDoublings < 0) bad(`Invalid retry_config.max_doublings ${r.maxDoublings}: must be >= 0.`);
  if (r.minBackoffMs < 0 || r.maxBackoffMs < 0 || r.maxRetryDurationMs < 0) bad('Invalid retry_config: durations must not be negative.');
  if (r.minBackoffMs > r.maxBackoffMs) {
    bad(`Invalid retry_config: min_backoff (${r.minBackoffMs / 1000}s) must not be greater than max_backoff (${r.maxBackoffMs / 1000}s).`);
  }
  return queue;
}

function checkNoAppEngine(input: QueueInput): void {
  const routing = input.appEngineRoutingOverride;
  if (routing && Object.values(routing).some((v) => v)) {
    throw new ApiError(
      'UNIMPLEMENTED',
      'app_engine_routing_override is not supported by the local Cloud Tasks server: it dispatches HTTP-target tasks only.',
    );
  }
}

/** A new queue from a CreateQueue request (defaults for everything unset). */
export function createQueueRecord(name: string, input: QueueInput): QueueRecord {
  checkNoAppEngine(input);
  const ratio = input.stackdriverLoggingConfig?.samplingRatio;
  return validate({
    name,
    state: 'RUNNING',
    rateLimits: finishRateLimits(rateLimitsFrom(input.rateLimits)),
    retryConfig: retryConfigFrom(input.retryConfig),
    ...(input.stackdriverLoggingConfig ? { loggingSamplingRatio: Number(ratio ?? 0) } : {}),
  });
}

const snake = (path: string): string => path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const RATE_FIELDS: Record<string, keyof RateLimitsRecord> = {
  max_dispatches_per_second: 'maxDispatchesPerSecond',
  max_concurrent_dispatches: 'maxConcurrentDispatches',
  max_burst_size: 'maxBurstSize',
};
const RETRY_FIELDS: Record<string, keyof RetryConfigRecord> = {
  max_attempts: 'maxAttempts',
  max_retry_duration: 'maxRetryDurationMs',
  min_backoff: 'minBackoffMs',
  max_backoff: 'maxBackoffMs',
  max_doublings: 'maxDoublings',
};
const IGNORED_PATHS = new Set(['name', 'state', 'purge_time', 'app_engine_routing_override']);

/**
 * Applies an UpdateQueue request to an existing queue. An empty mask
 * replaces every settable field (unset ones fall back to defaults), as
 * documented for UpdateQueue; output-only fields are ignored.
 */
export function updateQueueRecord(existing: QueueRecord, input: QueueInput, maskPaths: string[]): QueueRecord {
  checkNoAppEngine(input);
  const paths = maskPaths.map(snake);
  if (paths.length === 0) {
    const replaced = createQueueRecord(existing.name, input);
    return validate({ ...replaced, state: existing.state, purgeTimeMs: existing.purgeTimeMs });
  }
  const next: QueueRecord = { ...existing, rateLimits: { ...existing.rateLimits }, retryConfig: { ...existing.retryConfig } };
  const rate = rateLimitsFrom(input.rateLimits);
  const retry = retryConfigFrom(input.retryConfig);
  for (const path of paths) {
    const [head, field, ...rest] = path.split('.');
    if (IGNORED_PATHS.has(head) && !field) continue;
    if (head === 'rate_limits' && !field) next.rateLimits = rate;
    else if (head === 'rate_limits' && field in RATE_FIELDS && rest.length === 0) {
      if (field !== 'max_burst_size') (next.rateLimits[RATE_FIELDS[field]] as number) = rate[RATE_FIELDS[field]];
    } else if (head === 'retry_config' && !field) next.retryConfig = retry;
    else if (head === 'retry_config' && field in RETRY_FIELDS && rest.length === 0) {
      next.retryConfig[RETRY_FIELDS[field]] = retry[RETRY_FIELDS[field]];
    } else if (head === 'stackdriver_logging_config' && (!field || (field === 'sampling_ratio' && rest.length === 0))) {
      next.loggingSamplingRatio = Number(input.stackdriverLoggingConfig?.samplingRatio ?? 0);
    } else {
      throw new ApiError('INVALID_ARGUMENT', `Invalid update_mask path "${path}": not a settable field of google.cloud.tasks.v2.Queue.`);
    }
  }
  next.rateLimits = finishRateLimits(next.rateLimits);
  return validate(next);
}
