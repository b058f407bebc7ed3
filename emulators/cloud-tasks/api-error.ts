/**
 * One error type for the whole emulator: a gRPC status code plus a message
 * worded like the real API's, mapped to gRPC metadata or to the Google JSON
 * error shape at the edges.
 */

/** The canonical codes the emulator answers with (google.rpc.Code). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type CodeName = keyof typeof Code;

const HTTP_STATUS: Record<CodeName, number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

/** An API failure with its canonical code; thrown by the API layer. */
export class ApiError extends Error {
  readonly status: CodeName;
  constructor(status: CodeName, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
  get code(): number {
    return Code[this.status];
  }
  get httpStatus(): number {
    return HTTP_STATUS[this.status];
  }
}

/** Maps the HTTP status a task target answered with to a google.rpc.Code, as Attempt.response_status carries one. */
export function codeForHttpStatus(status: number): number {
  if (status >= 200 && status < 300) return Code.OK;
  switch (status) {
    case 400:
      return Code.INVALID_ARGUMENT;
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
      return Code.NOT_FOUND;
    case 409:
      return Code.ABORTED;
    case 429:
      return Code.RESOURCE_EXHAUSTED;
    case 499:
      return Code.CANCELLED;
    case 501:
      return Code.UNIMPLEMENTED;
    case 503:
      return Code.UNAVAILABLE;
    case 504:
      return Code.DEADLINE_EXCEEDED;
    default:
      return status >= 500 ? Code.INTERNAL : Code.UNKNOWN;
  }
}

/** Turns anything thrown into an ApiError; unknown errors become INTERNAL naming the cause. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError('INTERNAL', `Local Cloud Tasks server bug: ${message}`);
}
