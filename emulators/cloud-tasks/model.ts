/**
 * The emulator's own records for queues, tasks and attempts, kept in plain
 * JSON-friendly units (milliseconds, base64 bodies) so persistence is a
 * straight `JSON.stringify`. Conversion to API shapes lives in `convert.ts`.
 */
import { ApiError } from './api-error.ts';

export interface RateLimitsRecord {
  maxDispatchesPerSecond: number;
  maxBurstSize: number;
  maxConcurrentDispatches: number;
}

export interface RetryConfigRecord {
  /** -1 = unlimited. */
  maxAttempts: number;
  /** 0 = unlimited task age. */
  maxRetryDurationMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  maxDoublings: number;
}

export type QueueState = 'RUNNING' | 'PAUSED' | 'DISABLED';

export interface QueueRecord {
  name: string;
  state: QueueState;
  rateLimits: RateLimitsRecord;
  retryConfig: RetryConfigRecord;
  purgeTimeMs?: number;
  loggingSamplingRatio?: number;
}

export interface AttemptRecord {
  scheduleTimeMs?: number;
  dispatchTimeMs: number;
  responseTimeMs?: number;
  responseStatus?: { code: number; message: string };
}

export interface HttpTargetRecord {
  url: string;
  httpMethod: string;
  headers: Record<string, string>;
  bodyBase64: string;
  oidcToken?: { serviceAccountEmail: string; audience: string };
  oauthToken?: { serviceAccountEmail: string; scope: string };
}

export interface TaskRecord {
  name: string;
  /** True when the caller chose the id: only such names are reserved after deletion. */
  named: boolean;
  http: HttpTargetRecord;
  scheduleTimeMs: number;
  createTimeMs: number;
  dispatchDeadlineMs: number;
  dispatchCount: number;
  responseCount: number;
  /** Responses that were not 5xx, sent as X-CloudTasks-TaskExecutionCount. */
  executionCount: number;
  firstAttempt?: AttemptRecord;
  lastAttempt?: AttemptRecord;
  /** HTTP status of the previous response, for X-CloudTasks-TaskPreviousResponse. */
  previousHttpStatus?: number;
  previousFailure?: string;
}

/** Production defaults for a queue created without settings (SPEC R-TASKS-2). */
export const DEFAULT_RATE_LIMITS: RateLimitsRecord = {
  maxDispatchesPerSecond: 500,
  maxBurstSize: 100,
  maxConcurrentDispatches: 1000,
};
export const DEFAULT_RETRY_CONFIG: RetryConfigRecord = {
  maxAttempts: 100,
  maxRetryDurationMs: 0,
  minBackoffMs: 100,
  maxBackoffMs: 3_600_000,
  maxDoublings: 16,
};
export const MAX_DISPATCHES_PER_SECOND = 500;
export const MAX_CONCURRENT_DISPATCHES = 5000;
export const DEFAULT_DISPATCH_DEADLINE_MS = 10 * 60_000;
export const MIN_DISPATCH_DEADLINE_MS = 15_000;
export const MAX_DISPATCH_DEADLINE_MS = 30 * 60_000;
/** Production keeps a deleted or executed task's name reserved about an hour. */
export const DEFAULT_DEDUP_WINDOW_MS = 60 * 60_000;
/** Cloud Tasks' documented maximum task size for HTTP targets. */
export const MAX_TASK_BYTES = 1024 * 1024;

const PROJECT = '[a-z0-9.:-]{1,100}';
const LOCATION = '[a-zA-Z0-9-]{1,100}';
const QUEUE_ID = '[a-zA-Z0-9-]{1,100}';
const TASK_ID = '[a-zA-Z0-9_-]{1,500}';
const LOCATION_RE = new RegExp(`^projects/${PROJECT}/locations/${LOCATION}$`);
const QUEUE_RE = new RegExp(`^projects/${PROJECT}/locations/${LOCATION}/queues/${QUEUE_ID}$`);
const TASK_RE = new RegExp(`^(projects/${PROJECT}/locations/${LOCATION}/queues/${QUEUE_ID})/tasks/(${TASK_ID})$`);

/** Checks `projects/P/locations/L`; throws INVALID_ARGUMENT otherwise. */
export function checkLocationName(name: unknown, field = 'parent'): string {
  if (typeof name !== 'string' || !LOCATION_RE.test(name)) {
    throw new ApiError(
      'INVALID_ARGUMENT',
      `Invalid resource field value in the request: ${field} "${String(name ?? '')}" must be formatted "projects/PROJECT_ID/locations/LOCATION_ID".`,
    );
  }
  return name;
}

/** Checks `projects/P/locations/L/queues/Q`; throws INVALID_ARGUMENT otherwise. */
export function checkQueueName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !QUEUE_RE.test(name)) {
    throw new ApiError(
      'INVALID_ARGUMENT',
      `Invalid resource field value in the request: ${field} "${String(name ?? '')}" must be formatted "projects/PROJECT_ID/locations/LOCATION_ID/queues/QUEUE_ID" (QUEUE_ID: letters, digits and hyphens, at most 100).`,
    );
  }
  return name;
}

/** Checks a full task name and returns its queue name. */
export function checkTaskName(name: unknown, field = 'name'): { queue: string; id: string } {
  const match = typeof name === 'string' ? TASK_RE.exec(name) : null;
  if (!match) {
    throw new ApiError(
      'INVALID_ARGUMENT',
      `Invalid resource field value in the request: ${field} "${String(name ?? '')}" must be formatted "projects/PROJECT_ID/locations/LOCATION_ID/queues/QUEUE_ID/tasks/TASK_ID" (TASK_ID: letters, digits, hyphens and underscores, at most 500).`,
    );
  }
  return { queue: match[1], id: match[2] };
}

/** The last path segment: the "short" id headers carry. */
export function shortId(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** The location part of a queue name. */
export function locationOf(queueName: string): string {
  return queueName.slice(0, queueName.indexOf('/queues/'));
}
