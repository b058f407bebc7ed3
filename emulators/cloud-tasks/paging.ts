/**
 * Page sizes, page tokens and the queue filter for the List RPCs. Tokens are
 * opaque to callers (base64url JSON of the parent and the last name
 * returned), so listing stays correct while tasks come and go.
 */
import { ApiError } from './api-error.ts';
import type { QueueRecord } from './model.ts';

/** Page size with the API's rule: unset means the maximum, negative is invalid. */
export function readPageSize(value: unknown, max: number): number {
  const size = Number(value ?? 0);
  if (!Number.isInteger(size) || size < 0)
    throw new ApiError('INVALID_ARGUMENT', `Invalid page_size ${String(value)}: must be a non-negative integer.`);
  return size === 0 ? max : Math.min(size, max);
}

/** A token that resumes listing of `parent` after `lastName`. */
export function encodePageToken(parent: string, lastName: string): string {
  return Buffer.from(JSON.stringify({ p: parent, a: lastName })).toString('base64url');
}

/** The name to resume after, or undefined for the first page. */
export function decodePageToken(token: string, parent: string): string | undefined {
  if (!token) return undefined;
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { p?: string; a?: string };
    if (decoded.p === parent && typeof decoded.a === 'string') return decoded.a;
  } catch {
    // fall through to the error below
  }
  throw new ApiError('INVALID_ARGUMENT', `Invalid page_token: it was not returned by a previous list call for "${parent}".`);
}

/**
 * Supports the filter the API documents as its example, on the queue state:
 * `state: PAUSED` or `state = RUNNING` (also `!=`). Other filters are
 * refused rather than silently ignored.
 */
export function parseQueueFilter(filter: string): (queue: QueueRecord) => boolean {
  const text = filter.trim();
  if (!text) return () => true;
  const match = /^state\s*(:|=|!=)\s*([A-Z_]+)$/.exec(text);
  if (!match) {
    throw new ApiError(
      'INVALID_ARGUMENT',
      `Unsupported filter "${filter}": the local Cloud Tasks server supports only "state: STATE", "state = STATE" and "state != STATE".`,
    );
  }
  const [, op, state] = match;
  return op === '!=' ? (q) => q.state !== state : (q) => q.state === state;
}
