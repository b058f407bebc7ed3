/** What the API answered, in words a person can act on (SPEC §9 error bodies, never raw JSON). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly requestId: string | null = null,
    readonly retryAfter: number | null = null,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** "in 3 minutes" / "in 40 seconds" for a Retry-After value. */
export function describeWait(seconds: number | null): string {
  if (!seconds) return 'later';
  if (seconds < 90) return `in ${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes < 90 ? `in ${minutes} minutes` : `in ${Math.ceil(minutes / 60)} hours`;
}

/** Builds the error for a failed response from its body: the server's message, or one that names the status. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  const requestId = res.headers.get('X-Request-Id');
  const retryAfter = Number(res.headers.get('Retry-After')) || null;
  const code = body?.error?.code ?? 'http_' + res.status;
  let message = body?.error?.message ?? `The server answered ${res.status} ${res.statusText}`.trim() + '.';
  if (res.status === 429) message = `Too many requests. Please try again ${describeWait(retryAfter)}.`;
  if (res.status >= 500 && requestId) message += ` If it keeps happening, quote reference ${requestId}.`;
  return new ApiError(message, res.status, code, requestId, retryAfter, body?.error?.details ?? {});
}

/** The message to show for anything thrown: API errors as the server worded them, network failures plainly. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof TypeError) return 'We could not reach the server. Check your connection and try again.';
  if (err instanceof Error && err.name === 'AbortError') return 'Stopped.';
  return err instanceof Error ? err.message : String(err);
}

export const networkError = () => new ApiError('We could not reach the server. Check your connection and try again.', 0, 'network');
