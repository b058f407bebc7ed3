/**
 * Validates a CreateTask request's Task and turns it into a TaskRecord,
 * following the documented rules of google.cloud.tasks.v2.HttpRequest and
 * Task (url scheme, body only with POST/PUT/PATCH, dispatch_deadline
 * 15 s – 30 min, schedule_time in the past means now, 1 MB task size).
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from './api-error.ts';
import { toMs, type SecondsNanos } from './convert.ts';
import {
  DEFAULT_DISPATCH_DEADLINE_MS,
  MAX_DISPATCH_DEADLINE_MS,
  MAX_TASK_BYTES,
  MIN_DISPATCH_DEADLINE_MS,
  checkTaskName,
  type TaskRecord,
} from './model.ts';

/** A Task message as the API layer receives it. */
export interface TaskInput {
  name?: string;
  messageType?: string;
  httpRequest?: {
    url?: string;
    httpMethod?: string | number;
    headers?: Record<string, string> | null;
    body?: Buffer | string | null;
    oidcToken?: { serviceAccountEmail?: string; audience?: string } | null;
    oauthToken?: { serviceAccountEmail?: string; scope?: string } | null;
  } | null;
  appEngineHttpRequest?: unknown;
  scheduleTime?: SecondsNanos | null;
  dispatchDeadline?: SecondsNanos | null;
}

const METHODS = ['HTTP_METHOD_UNSPECIFIED', 'POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
// Headers Cloud Tasks computes or reserves; user values for them are dropped.
const DROPPED_HEADER = /^(host|content-length|user-agent|x-google-.*|x-appengine-.*|x-cloudtasks-.*)$/i;

function readMethod(value: string | number | undefined): string {
  const name = typeof value === 'number' ? METHODS[value] : value;
  if (name === undefined || name === '' || name === 'HTTP_METHOD_UNSPECIFIED') return 'POST';
  if (!name || !METHODS.includes(name))
    throw new ApiError('INVALID_ARGUMENT', `Invalid http_request.http_method ${String(value)}; use one of ${METHODS.slice(1).join(', ')}.`);
  return name;
}

/** A random task id like the ones Cloud Tasks generates (decimal digits). */
export function generateTaskId(): string {
  return (randomBytes(8).readBigUInt64BE() % 10n ** 19n).toString().padStart(19, '0');
}

/** Builds the stored task for `queueName` from a CreateTask request. */
export function createTaskRecord(queueName: string, input: TaskInput | null | undefined, now: number): TaskRecord {
  if (!input) throw new ApiError('INVALID_ARGUMENT', 'Missing required field: task.');
  let name: string;
  let named = false;
  if (input.name) {
    const parsed = checkTaskName(input.name, 'task.name');
    if (parsed.queue !== queueName) {
      throw new ApiError('INVALID_ARGUMENT', `The task name "${input.name}" does not belong to the parent queue "${queueName}".`);
    }
    name = input.name;
    named = true;
  } else {
    name = `${queueName}/tasks/${generateTaskId()}`;
  }
  if (input.appEngineHttpRequest) {
    throw new ApiError(
      'UNIMPLEMENTED',
      'App Engine tasks (app_engine_http_request) are not supported by the local Cloud Tasks server; create an HTTP target task with http_request instead.',
    );
  }
  const http = input.httpRequest;
  if (!http)
    throw new ApiError('INVALID_ARGUMENT', 'Task must set http_request (the local Cloud Tasks server dispatches HTTP target tasks).');
  const url = http.url ?? '';
  if (!/^https?:\/\/[^/]+/.test(url)) {
    throw new ApiError(
      'INVALID_ARGUMENT',
      `Invalid http_request.url "${url}": it must begin with "http://" or "https://" followed by a host.`,
    );
  }
  const httpMethod = readMethod(http.httpMethod);
  const body = typeof http.body === 'string' ? Buffer.from(http.body, 'base64') : (http.body ?? Buffer.alloc(0));
  if (body.length > 0 && !BODY_METHODS.has(httpMethod)) {
    throw new ApiError('INVALID_ARGUMENT', `A request body is allowed only with POST, PUT or PATCH; this task uses ${httpMethod}.`);
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(http.headers ?? {})) if (!DROPPED_HEADER.test(key)) headers[key] = String(value);
  if (http.oidcToken && http.oauthToken)
    throw new ApiError('INVALID_ARGUMENT', 'Set at most one of http_request.oidc_token and http_request.oauth_token.');
  if (http.oidcToken && !http.oidcToken.serviceAccountEmail)
    throw new ApiError('INVALID_ARGUMENT', 'http_request.oidc_token.service_account_email is required.');
  if (http.oauthToken && !http.oauthToken.serviceAccountEmail)
    throw new ApiError('INVALID_ARGUMENT', 'http_request.oauth_token.service_account_email is required.');

  const deadline = toMs(input.dispatchDeadline);
  if (deadline !== undefined && (deadline < MIN_DISPATCH_DEADLINE_MS || deadline > MAX_DISPATCH_DEADLINE_MS)) {
    throw new ApiError('INVALID_ARGUMENT', `Invalid dispatch_deadline ${deadline / 1000}s: it must be between 15 seconds and 30 minutes.`);
  }
  const size = Buffer.byteLength(url) + body.length + Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length, 0);
  if (size > MAX_TASK_BYTES)
    throw new ApiError('INVALID_ARGUMENT', `Task size ${size} bytes exceeds the maximum of ${MAX_TASK_BYTES} bytes.`);
  const requested = toMs(input.scheduleTime);
  return {
    name,
    named,
    http: {
      url,
      httpMethod,
      headers,
      bodyBase64: body.toString('base64'),
      ...(http.oidcToken
        ? { oidcToken: { serviceAccountEmail: http.oidcToken.serviceAccountEmail!, audience: http.oidcToken.audience ?? '' } }
        : {}),
      ...(http.oauthToken
        ? {
            oauthToken: {
              serviceAccountEmail: http.oauthToken.serviceAccountEmail!,
              scope: http.oauthToken.scope || 'https://www.googleapis.com/auth/cloud-platform',
            },
          }
        : {}),
    },
    scheduleTimeMs: requested === undefined || requested < now ? now : requested,
    createTimeMs: now,
    dispatchDeadlineMs: deadline ?? DEFAULT_DISPATCH_DEADLINE_MS,
    dispatchCount: 0,
    responseCount: 0,
    executionCount: 0,
  };
}
