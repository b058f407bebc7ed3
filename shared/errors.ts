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

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new AppError('invalid_request', message, details);
export const validationFailed = (message: string, details?: Record<string, unknown>) =>
  new AppError('validation_failed', message, details);
export const unauthenticated = (message = 'Sign in first: send "Authorization: Bearer <Firebase ID token>".') =>
  new AppError('unauthenticated', message);
export const forbidden = (message = 'You are not allowed to do this.') => new AppError('forbidden', message);
export const notFound = (what: string) => new AppError('not_found', `${what} was not found.`);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new AppError('conflict', message, details);
export const illegalTransition = (from: string, action: string) =>
  new AppError('illegal_transition', `Cannot ${action} while the tenant is ${from}.`, { state: from, action });
export const notSupported = (driver: string, capability: string) =>
  new AppError('not_supported', `The ${driver} runtime does not support ${capability}.`, { driver, capability });

/** Turns anything thrown into an AppError; unknown errors become a generic 500 that keeps the cause for the log. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('internal', 'Something went wrong on our side. Quote the request id when you report it.', undefined, {
    cause: err,
  });
}
