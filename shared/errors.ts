/**
 * One error type for everything a caller may see (SPEC §9). The public message
 * is kept apart from the internal cause, which is logged but never returned.
 */

/** The closed set of machine-readable error codes. */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_json'
  | 'validation_failed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unauthenticated'
  | 'payment_required'
  | 'forbidden'
  | 'quota_exceeded'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'illegal_transition'
  | 'already_used'
  | 'gone'
  | 'expired'
  | 'rate_limited'
  | 'not_supported'
  | 'unavailable'
  | 'internal';

/** Status each code answers with unless told otherwise. */
const defaultStatus: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unauthenticated: 401,
  payment_required: 402,
  forbidden: 403,
  quota_exceeded: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  illegal_transition: 409,
  already_used: 409,
  gone: 410,
  expired: 410,
  rate_limited: 429,
  not_supported: 501,
  unavailable: 503,
  internal: 500,
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export class AppError extends Error {
  readonly status: number;
  /** Extra response headers, e.g. Retry-After. */
  headers: Record<string, string> = {};

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { status?: number; cause?: unknown },
  ) {
    super(message, { cause: options?.cause });
    this.name = 'AppError';
    this.status = options?.status ?? defaultStatus[code];
  }

  /** The SPEC §9 body. */
  toBody(): ErrorBody {
    const error: ErrorBody['error'] = { code: this.code, message: this.message };
    if (this.details && Object.keys(this.details).length > 0) error.details = this.details;
    return { error };
  }

  withHeader(name: string, value: string): this {
    this.headers[name] = value;
    return this;
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) => new AppError('invalid_request', message, details);
export const validationFailed = (message: string, details?: Record<string, unknown>) => new AppError('validation_failed', message, details);
export const unauthenticated = (message = 'Sign in first: send "Authorization: Bearer <Firebase ID token>".') =>
  new AppError('unauthenticated', message);
export const forbidden = (message = 'You are not allowed to do this.') => new AppError('forbidden', message);
export const notFound = (what: string) => new AppError('not_found', `${what} was not found.`);
export const conflict = (message: string, details?: Record<string, unknown>) => new AppError('conflict', message, details);
export const illegalTransition = (from: string, action: string) =>
  new AppError('illegal_transition', `Cannot ${action} while the tenant is ${from}.`, { state: from, action });
export const notSupported = (driver: string, capability: string) =>
  new AppError('not_supported', `The ${driver} runtime does not support ${capability}.`, { driver, capability });

/**
 * Thrown by the drivers of outside systems (runtimes and the cloud APIs behind them,
 * mail, cost sources, payment providers) for a missing option, a capability they
 * lack, or a failure of the system they drive. `driver` names the system.
 */
export class DriverError extends Error {
  constructor(
    readonly driver: string,
    readonly code: 'not_configured' | 'not_supported' | 'not_found' | 'failed' | 'timeout',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DriverError';
  }
}

/** Runtime drivers are named "The <name> runtime" in messages; other systems by their own name (Stripe, bigquery, smtp). */
const RUNTIME_DRIVERS = new Set(['local', 'cloud-run', 'kubernetes', 'fly']);

/**
 * What a caller sees of a driver's error: a lacking capability is 501, a failing
 * or slow outside system 503 naming it (come back later), an unknown resource
 * 404, and a misconfiguration the generic 500 (ours to fix; the cause is logged).
 */
function fromDriverError(err: DriverError): AppError {
  const system = RUNTIME_DRIVERS.has(err.driver) ? `The ${err.driver} runtime` : err.driver;
  switch (err.code) {
    case 'not_supported':
      return new AppError('not_supported', `${system} does not support this: ${err.message}`, { driver: err.driver }, { cause: err });
    case 'failed':
    case 'timeout':
      return new AppError(
        'unavailable',
        `${system} did not answer as expected; try again in a minute.`,
        { driver: err.driver },
        { cause: err },
      ).withHeader('Retry-After', '30');
    case 'not_found':
      return new AppError('not_found', `${system} has no such resource.`, { driver: err.driver }, { cause: err });
    default:
      return new AppError('internal', 'Something went wrong on our side. Quote the request id when you report it.', undefined, {
        cause: err,
      });
  }
}

/** Turns anything thrown into an AppError; driver errors by their kind, unknown errors a generic 500 that keeps the cause for the log. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof DriverError) return fromDriverError(err);
  return new AppError('internal', 'Something went wrong on our side. Quote the request id when you report it.', undefined, {
    cause: err,
  });
}
