import type { IncomingMessage, ServerResponse } from 'node:http';

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/** Whether an Origin may call us: the configured list, plus localhost outside production. */
export function isAllowedOrigin(origin: string, allowed: string[], allowLocalhost: boolean): boolean {
  return allowed.includes(origin) || (allowLocalhost && LOCALHOST.test(origin));
}

/**
 * Sets CORS headers for allowed origins only; other origins get none, so the
 * browser blocks them. Returns true when the request was a preflight and has been answered.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, options: { allowed: string[]; allowLocalhost: boolean }): boolean {
  const origin = req.headers.origin;
  const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
  res.setHeader('Vary', 'Origin');
  if (origin && isAllowedOrigin(origin, options.allowed, options.allowLocalhost)) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After');
    if (preflight) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Last-Event-ID, X-Request-Id, X-Tenantplane-Client');
      res.setHeader('Access-Control-Max-Age', '600');
    }
  }
  if (preflight) {
    res.statusCode = 204;
    res.end();
    return true;
  }
  return false;
}
