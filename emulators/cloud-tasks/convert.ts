/**
 * Converts between the API's plain objects (proto-loader shape: camelCase,
 * enums as names, Timestamp/Duration as {seconds, nanos}) and the emulator's
 * millisecond-based records.
 */
import { ApiError } from './api-error.ts';
import type { AttemptRecord, QueueRecord, TaskRecord } from './model.ts';

/** A Timestamp or Duration as proto-loader hands it over. */
export interface SecondsNanos {
  seconds?: string | number | null;
  nanos?: number | null;
}

/** Timestamp/Duration object -> milliseconds; undefined when absent. */
export function toMs(value: SecondsNanos | null | undefined): number | undefined {
  if (!value) return undefined;
  return Number(value.seconds ?? 0) * 1000 + Math.round(Number(value.nanos ?? 0) / 1e6);
}

/** Milliseconds -> Timestamp/Duration object (seconds as a string, like int64 fields). */
export function fromMs(ms: number): { seconds: string; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** The API view of a queue. */
export function queueToApi(queue: QueueRecord): Record<string, unknown> {
  const { retryConfig: r } = queue;
  return {
    name: queue.name,
    rateLimits: { ...queue.rateLimits },
    retryConfig: {
      maxAttempts: r.maxAttempts,
      maxRetryDuration: fromMs(r.maxRetryDurationMs),
      minBackoff: fromMs(r.minBackoffMs),
      maxBackoff: fromMs(r.maxBackoffMs),
      maxDoublings: r.maxDoublings,
    },
    state: queue.state,
    ...(queue.purgeTimeMs !== undefined ? { purgeTime: fromMs(queue.purgeTimeMs) } : {}),
    ...(queue.loggingSamplingRatio !== undefined ? { stackdriverLoggingConfig: { samplingRatio: queue.loggingSamplingRatio } } : {}),
  };
}

function attemptToApi(attempt: AttemptRecord | undefined): Record<string, unknown> | undefined {
  if (!attempt) return undefined;
  return {
    ...(attempt.scheduleTimeMs !== undefined ? { scheduleTime: fromMs(attempt.scheduleTimeMs) } : {}),
    dispatchTime: fromMs(attempt.dispatchTimeMs),
    ...(attempt.responseTimeMs !== undefined ? { responseTime: fromMs(attempt.responseTimeMs) } : {}),
    ...(attempt.responseStatus ? { responseStatus: { ...attempt.responseStatus } } : {}),
  };
}

/** The API view of a task; BASIC leaves out the body, as the real API does. */
export function taskToApi(task: TaskRecord, view: 'BASIC' | 'FULL'): Record<string, unknown> {
  const http = task.http;
  const httpRequest: Record<string, unknown> = {
    url: http.url,
    httpMethod: http.httpMethod,
    headers: { ...http.headers },
  };
  if (view === 'FULL' && http.bodyBase64) httpRequest.body = Buffer.from(http.bodyBase64, 'base64');
  if (http.oidcToken) httpRequest.oidcToken = { ...http.oidcToken };
  if (http.oauthToken) httpRequest.oauthToken = { ...http.oauthToken };
  const api: Record<string, unknown> = {
    name: task.name,
    httpRequest,
    scheduleTime: fromMs(task.scheduleTimeMs),
    createTime: fromMs(task.createTimeMs),
    dispatchDeadline: fromMs(task.dispatchDeadlineMs),
    dispatchCount: task.dispatchCount,
    responseCount: task.responseCount,
    view,
  };
  const first = task.firstAttempt ? { dispatchTime: fromMs(task.firstAttempt.dispatchTimeMs) } : undefined;
  if (first) api.firstAttempt = first;
  const last = attemptToApi(task.lastAttempt);
  if (last) api.lastAttempt = last;
  return api;
}

/** Reads a Task.View enum value (name or number); unspecified means BASIC. */
export function readView(value: unknown): 'BASIC' | 'FULL' {
  if (value === 'FULL' || value === 2) return 'FULL';
  if (
    value === undefined ||
    value === null ||
    value === '' ||
    value === 'BASIC' ||
    value === 'VIEW_UNSPECIFIED' ||
    value === 0 ||
    value === 1
  )
    return 'BASIC';
  throw new ApiError('INVALID_ARGUMENT', `Invalid value for response_view: ${String(value)}; use BASIC or FULL.`);
}
