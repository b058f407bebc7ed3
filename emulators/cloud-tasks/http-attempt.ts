/**
 * Sends one dispatch attempt of an HTTP target task, with the request
 * headers Cloud Tasks documents for HTTP targets (X-CloudTasks-QueueName,
 * -TaskName, -TaskRetryCount, -TaskExecutionCount, -TaskETA and, on retries,
 * -TaskPreviousResponse / -TaskRetryReason; User-Agent "Google-Cloud-Tasks").
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { authorizationFor } from './auth-tokens.ts';
import { MAX_CONCURRENT_DISPATCHES, shortId, type TaskRecord } from './model.ts';

/** What came of one attempt. */
export type AttemptOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'deadline-exceeded' }
  | { kind: 'unreachable'; message: string }
  | { kind: 'aborted' };

// Hop-by-hop headers the transport owns.
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

/** Keep-alive connection pools for dispatching; one set per server so close() can free them. */
export interface DispatchAgents {
  http: HttpAgent;
  https: HttpsAgent;
  destroy(): void;
}

/** Creates the connection pools (node:http is several times faster than fetch for this). */
export function createDispatchAgents(): DispatchAgents {
  const http = new HttpAgent({ keepAlive: true, maxSockets: MAX_CONCURRENT_DISPATCHES });
  const https = new HttpsAgent({ keepAlive: true, maxSockets: MAX_CONCURRENT_DISPATCHES });
  return {
    http,
    https,
    destroy: () => {
      http.destroy();
      https.destroy();
    },
  };
}

const MAX_REDIRECTS = 10;

function sendOnce(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  agents: DispatchAgents,
  signal: AbortSignal,
): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method,
        headers: body ? { ...headers, 'Content-Length': String(body.length) } : headers,
        agent: url.protocol === 'https:' ? agents.https : agents.http,
        signal,
      },
      (res) => {
        // Drain the body: frees the socket, and a slow body counts against the deadline.
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Performs the HTTP request, following redirects within the same attempt
 * (documented: "The redirect is not counted as a separate attempt"). The
 * deadline covers the whole exchange; `shutdown` aborts it when the server
 * closes.
 */
export async function sendAttempt(
  task: TaskRecord,
  headers: Record<string, string>,
  agents: DispatchAgents,
  shutdown: AbortSignal,
): Promise<AttemptOutcome> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, task.dispatchDeadlineMs);
  const onShutdown = (): void => controller.abort();
  shutdown.addEventListener('abort', onShutdown, { once: true });
  try {
    let url = new URL(task.http.url);
    let method = task.http.httpMethod;
    let body = task.http.bodyBase64 ? Buffer.from(task.http.bodyBase64, 'base64') : undefined;
    let sendHeaders = headers;
    for (let hop = 0; ; hop++) {
      const { status, location } = await sendOnce(url, method, sendHeaders, body, agents, controller.signal);
      if (status < 300 || status > 399 || !location || hop === MAX_REDIRECTS) return { kind: 'response', status };
      const next = new URL(location, url);
      // Same rules as browsers and fetch: 303 (and 301/302 after POST) become GET without a body.
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
      }
      if (next.origin !== url.origin) {
        sendHeaders = Object.fromEntries(Object.entries(sendHeaders).filter(([key]) => key.toLowerCase() !== 'authorization'));
      }
      url = next;
    }
  } catch (error) {
    if (shutdown.aborted) return { kind: 'aborted' };
    if (timedOut) return { kind: 'deadline-exceeded' };
    const code = (error as NodeJS.ErrnoException).code;
    return { kind: 'unreachable', message: code ?? (error as Error).message };
  } finally {
    clearTimeout(timer);
    shutdown.removeEventListener('abort', onShutdown);
  }
}
