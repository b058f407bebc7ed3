/**
 * The `/messages` proxy (R-PROJECTS-2): forwards a JSON body to the project's
 * agent and pipes its Server-Sent Events back as each chunk arrives. Plain
 * node:http on both sides, so nothing collects the stream: every upstream
 * chunk is written to the caller at once (Nagle off, no proxy buffering), and
 * a caller who leaves aborts the upstream request.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { ServerResponse } from 'node:http';
import { AppError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface ProxyOptions {
  /** How long to wait for the agent's response headers (default 30 s). */
  headersTimeoutMs?: number;
  /** A comment line this often while the agent is quiet between events (SSE answers only); default 15 s. */
  heartbeatMs?: number;
  /** The answer is cut after this long (STREAM_DEADLINE_MS), like every stream; none by default. */
  deadlineMs?: number;
  /** Sent upstream so one request can be followed across both logs. */
  requestId?: string;
  log?: Logger;
}

/** Agent statuses that describe the caller's message, answered with the agent's own words; any other failure is a 502. */
const CALLER_ERRORS = new Map<number, ErrorCode>([
  [400, 'validation_failed'],
  [413, 'payload_too_large'],
  [415, 'unsupported_media_type'],
  [422, 'validation_failed'],
  [429, 'rate_limited'],
]);
const MAX_ERROR_BODY = 64 * 1024;

/**
 * Streams `POST <endpoint>/messages` with `body` into `res`. Resolves when the
 * stream ended (or the caller left). Before anything is written it throws
 * AppError: 502 when the agent is unreachable or answers with a failure.
 */
export function proxyMessages(
  res: ServerResponse,
  endpoint: string,
  body: Record<string, unknown>,
  options: ProxyOptions = {},
): Promise<void> {
  const target = new URL('messages', endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
  const payload = Buffer.from(JSON.stringify(body));
  const client = target.protocol === 'https:' ? https : http;
  const badGateway = (message: string, cause?: unknown) =>
    new AppError('unavailable', `The project's agent at ${target.origin} ${message}`, { upstream: target.origin }, { status: 502, cause });

  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      res.off('close', abandon);
      if (error) reject(error);
      else resolve();
    };
    const upstream = client.request(target, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': payload.length,
        accept: 'text/event-stream',
        ...(options.requestId ? { 'x-request-id': options.requestId } : {}),
      },
    });
    // The caller left (or the answer is complete): the agent need not keep talking.
    const abandon = () => {
      upstream.destroy();
      settle();
    };
    res.on('close', abandon);
    upstream.setTimeout(options.headersTimeoutMs ?? 30_000, () =>
      upstream.destroy(badGateway(`did not answer within ${Math.round((options.headersTimeoutMs ?? 30_000) / 1000)} s.`)),
    );
    upstream.on('error', (err) => {
      if (res.headersSent) {
        // Mid-stream: the status is already sent, so end the stream; the client sees it close.
        options.log?.warn('message stream from the agent broke off', { err, upstream: target.origin });
        if (!res.writableEnded) res.end();
        return settle();
      }
      settle(
        err instanceof AppError
          ? err
          : badGateway(
              `is not reachable (${(err as NodeJS.ErrnoException).code ?? err.message}); the project may have stopped: deactivate and activate it again.`,
              err,
            ),
      );
    });
    upstream.on('response', (answer) => {
      upstream.setTimeout(0);
      const status = answer.statusCode ?? 502;
      if (status >= 200 && status < 300) {
        pipeStream(answer, res, status, options);
        // After a normal end the pipe has ended res already; after an agent that died mid-stream, end it here.
        answer.on('close', () => {
          if (!res.writableEnded) res.end();
          settle();
        });
        answer.on('error', () => undefined);
        return;
      }
      readBounded(answer).then(
        (text) => {
          const message = parseErrorMessage(text);
          const code = CALLER_ERRORS.get(status);
          if (code && message)
            return settle(new AppError(code, `The project's agent refused the message: ${message}`, undefined, { status }));
          settle(badGateway(`answered ${status} to POST /messages${message ? `: ${message}` : '.'}`));
        },
        (err) => settle(badGateway('broke off its answer.', err)),
      );
    });
    // The caller left while the project was being looked up: nothing to ask the agent.
    if (res.destroyed) return abandon();
    upstream.end(payload);
  });
}

function pipeStream(answer: IncomingMessage, res: ServerResponse, status: number, options: ProxyOptions): void {
  res.statusCode = status;
  const type = answer.headers['content-type'] ?? 'text/event-stream; charset=utf-8';
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  answer.pipe(res);
  keepAlive(answer, res, type.includes('text/event-stream'), options);
}

/**
 * Heartbeats and the deadline on a piped answer. A comment line may only go
 * between two events, never inside one the agent is still writing, so the
 * last bytes passed through are watched for an event's end (a blank line).
 */
function keepAlive(answer: IncomingMessage, res: ServerResponse, isSse: boolean, options: ProxyOptions): void {
  let tail = '\n\n';
  const atBoundary = () => /(\r\n|\n|\r)(\r\n|\n|\r)$/.test(tail);
  if (isSse) answer.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString('latin1')).slice(-4)));
  const heartbeat = isSse
    ? setInterval(() => atBoundary() && !res.writableEnded && res.write(': heartbeat\n\n'), options.heartbeatMs ?? 15_000)
    : undefined;
  const deadline =
    options.deadlineMs === undefined
      ? undefined
      : setTimeout(() => {
          options.log?.info('message stream reached its deadline', { deadlineMs: options.deadlineMs });
          answer.unpipe(res);
          answer.destroy();
          if (isSse && atBoundary() && !res.writableEnded) res.write(': deadline reached; the answer was cut\n\n');
          if (!res.writableEnded) res.end();
        }, options.deadlineMs);
  heartbeat?.unref();
  deadline?.unref();
  res.on('close', () => {
    clearInterval(heartbeat);
    clearTimeout(deadline);
  });
}

async function readBounded(answer: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of answer) {
    size += (chunk as Buffer).length;
    if (size > MAX_ERROR_BODY) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The message of a SPEC §9 error body, if that is what the agent sent. */
function parseErrorMessage(text: string): string | undefined {
  try {
    const value = JSON.parse(text);
    if (typeof value?.error?.message === 'string') return value.error.message.slice(0, 500);
  } catch {
    // Not JSON: not an error body we can pass on.
  }
  return undefined;
}
