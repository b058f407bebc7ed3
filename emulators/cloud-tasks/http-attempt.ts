/**
 * Sends one dispatch attempt of an HTTP target task, with the request
 * headers Cloud Tasks documents for HTTP targets (X-CloudTasks-QueueName,
 * -TaskName, -TaskRetryCount, -TaskExecutionCount, -TaskETA and, on retries,
 * -TaskPreviousResponse / -TaskRetryReason; User-Agent "Google-Cloud-Tasks").
 */
import { authorizationFor } from './auth-tokens.ts';
import { shortId, type TaskRecord } from './model.ts';

/** What came of one attempt. */
export type AttemptOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'deadline-exceeded' }
  | { kind: 'unreachable'; message: string }
  | { kind: 'aborted' };

// Headers fetch refuses to send or that the transport owns.
const TRANSPORT_HEADER = /^(connection|keep-alive|transfer-encoding|upgrade|expect|te|trailer|proxy-.*)$/i;

/** The headers for the next attempt of `task` (call before counting the attempt). */
export function buildDispatchHeaders(queueName: string, task: TaskRecord, now: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(task.http.headers)) if (!TRANSPORT_HEADER.test(key)) headers[key] = value;
  headers['User-Agent'] = 'Google-Cloud-Tasks';
  headers['X-CloudTasks-QueueName'] = shortId(queueName);
  headers['X-CloudTasks-TaskName'] = shortId(task.name);
  headers['X-CloudTasks-TaskRetryCount'] = String(task.dispatchCount);
  headers['X-CloudTasks-TaskExecutionCount'] = String(task.executionCount);
  headers['X-CloudTasks-TaskETA'] = (task.scheduleTimeMs / 1000).toFixed(6);
  if (task.dispatchCount > 0) {
    if (task.previousHttpStatus !== undefined) headers['X-CloudTasks-TaskPreviousResponse'] = String(task.previousHttpStatus);
    if (task.previousFailure) headers['X-CloudTasks-TaskRetryReason'] = task.previousFailure;
  }
  const authorization = authorizationFor(task.http, now);
  if (authorization) headers.Authorization = authorization;
  return headers;
}

/**
 * Performs the HTTP request. The deadline covers the whole exchange
 * (headers and body); `shutdown` aborts it when the server closes.
 */
export async function sendAttempt(
  task: TaskRecord,
  headers: Record<string, string>,
  shutdown: AbortSignal,
): Promise<AttemptOutcome> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; controller.abort(); }, task.dispatchDeadlineMs);
  const onShutdown = (): void => controller.abort();
  shutdown.addEventListener('abort', onShutdown, { once: true });
  try {
    const body = task.http.bodyBase64 ? Buffer.from(task.http.bodyBase64, 'base64') : undefined;
    const response = await fetch(task.http.url, {
      method: task.http.httpMethod,
      headers,
      body,
      redirect: 'follow',
      signal: controller.signal,
    });
    // Drain the body so the connection is reusable and a slow body counts against the deadline.
    await response.arrayBuffer();
    return { kind: 'response', status: response.status };
  } catch (error) {
    if (shutdown.aborted) return { kind: 'aborted' };
    if (timedOut) return { kind: 'deadline-exceeded' };
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'unreachable', message: cause?.code ?? cause?.message ?? (error as Error).message };
  } finally {
    clearTimeout(timer);
    shutdown.removeEventListener('abort', onShutdown);
  }
}
