import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { AppError, toAppError } from '../errors.ts';
import { redactPath, type Logger } from '../log.ts';
import { readRawBody, parseJsonObject, type IncomingRequest } from './body.ts';
import { applyCors } from './cors.ts';

export interface Context {
  req: IncomingRequest;
  res: ServerResponse;
  requestId: string;
  log: Logger;
  method: string;
  url: URL;
  /** Path parameters filled by the router. */
  params: Record<string, string>;
  /** Client IP as seen by the nearest trusted proxy. */
  ip: string;
  header(name: string): string | undefined;
  raw(): Promise<Buffer>;
  /** The body as a JSON object ({} when empty); 400/413/415 otherwise. */
  json(): Promise<Record<string, unknown>>;
}

/** What a handler answers; a handler that streams (SSE) writes to ctx.res itself and returns nothing. */
export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (ctx: Context) => Promise<Reply | void>;
export type NodeHandler = (req: IncomingRequest, res: ServerResponse) => Promise<void>;

export interface WrapOptions {
  log: Logger;
  corsOrigins: string[];
  allowLocalhost: boolean;
  bodyLimitBytes: number;
  /** How many proxies in front of us append to X-Forwarded-For (config TRUSTED_PROXY_HOPS: 2 behind Hosting, 1 behind the local gateway). */
  trustedProxyHops?: number;
}

const REQUEST_ID = /^[\w-]{8,64}$/;

/**
 * The edge of every function: request id, CORS, body limits, one error mapper
 * and one log line per request. 500 only for bugs, with the id to quote.
 */
export function wrap(handler: Handler, options: WrapOptions): NodeHandler {
  return async (req, res) => {
    const started = performance.now();
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const log = options.log.child({ requestId });
    let status = 200;
    try {
      if (applyCors(req, res, { allowed: options.corsOrigins, allowLocalhost: options.allowLocalhost })) {
        status = 204;
        return;
      }
      let parsed: Record<string, unknown> | undefined;
      const ctx: Context = {
        req,
        res,
        requestId,
        log,
        method: (req.method ?? 'GET').toUpperCase(),
        url,
        params: {},
        ip: clientIp(req, options.trustedProxyHops ?? 1),
        header: (name) => {
          const value = req.headers[name.toLowerCase()];
          return Array.isArray(value) ? value[0] : value;
        },
        raw: () => readRawBody(req, options.bodyLimitBytes),
        json: async () => (parsed ??= parseJsonObject(await readRawBody(req, options.bodyLimitBytes), req.headers['content-type'])),
      };
      const reply = await handler(ctx);
      if (reply && !res.headersSent) {
        status = reply.status ?? 200;
        sendJson(res, status, reply.body, reply.headers);
      } else {
        status = res.statusCode;
      }
    } catch (err) {
      const error = toAppError(err);
      status = error.status;
      // 503 asks the caller (often Cloud Tasks) to come back later: expected, so a warning without a stack.
      if (error.code === 'unavailable') log.warn('request deferred', { reason: error.message, path: redactPath(url.pathname) });
      else if (error.status >= 500) log.error('request failed', { err: error.cause ?? error, path: redactPath(url.pathname) });
      if (!res.headersSent) {
        sendJson(res, error.status, error.toBody(), error.headers);
      } else if (!res.writableEnded) {
        res.end();
      }
    } finally {
      log.info('request', {
        httpRequest: {
          requestMethod: req.method,
          requestUrl: redactPath(url.pathname),
          status,
          latency: `${((performance.now() - started) / 1000).toFixed(3)}s`,
          userAgent: req.headers['user-agent'],
        },
      });
    }
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (status === 204 || body === undefined) {
    res.statusCode = status;
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

/** The address the nearest trusted proxy saw; client-supplied X-Forwarded-For entries to its left are ignored. */
export function clientIp(req: IncomingRequest, hops: number): string {
  const forwarded = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (hops > 0 && forwarded.length > 0) return forwarded[Math.max(0, forwarded.length - hops)];
  return req.socket?.remoteAddress ?? 'unknown';
}

/** Throws a 405 naming the allowed methods. */
export function methodNotAllowed(method: string, allowed: string[]): AppError {
  return new AppError('method_not_allowed', `${method} is not allowed here; use ${allowed.join(' or ')}.`).withHeader(
    'Allow',
    allowed.join(', '),
  );
}
