import { createHash } from 'node:crypto';
import type { Timestamp, DocumentReference, DocumentSnapshot, Firestore, Transaction } from '@google-cloud/firestore';
import { firestore } from '../store/firestore-lib.ts';
import { AppError } from '../errors.ts';
import { runKeyedTransaction } from '../store/transact.ts';

/** What enforceRateLimit needs: the key (e.g. `signup:203.0.113.7`), how many per window, the window and the clock. */
export interface RateLimitOptions {
  key: string;
  limit: number;
  windowMs: number;
  now: Date;
}

export interface RateLimitState {
  /** Requests still allowed in this window after this one. */
  remaining: number;
  resetAt: Date;
}

/** The collection; documents carry `expiresAt` for a Firestore TTL policy to delete them. */
export const RATE_LIMITS = 'rateLimits';

/**
 * Counts one request against `key` and throws `429 rate_limited` (with
 * `Retry-After` in seconds) once `limit` requests were counted in the window.
 *
 * A fixed window: the first request after a window ended opens a new one of
 * `windowMs`. It is exact under concurrency (a Firestore transaction) and shared
 * by every instance; the known cost of a fixed window is that a client can fit
 * up to 2 × limit around a window boundary. A refused request writes nothing,
 * so a client hammering past the limit does not extend its own ban or cost a
 * write per request. The document id is a hash of the key, so client addresses
 * are not stored in clear.
 */
export async function enforceRateLimit(db: Firestore, options: RateLimitOptions): Promise<RateLimitState> {
  const ref = rateLimitRef(db, options.key);
  const outcome = await runKeyedTransaction(db, ref.path, async (tx) => countRequest(tx, ref, await tx.get(ref), options));
  return rateLimitState(outcome, options);
}

/** The document counting `key`'s requests. */
export function rateLimitRef(db: Firestore, key: string): DocumentReference {
  return db.collection(RATE_LIMITS).doc(hashRateLimitKey(key));
}

export type RateLimitOutcome = { allowed: false; resetAt: number } | { allowed: true; resetAt: number; count: number };

/**
 * The counting step of enforceRateLimit inside a caller's transaction that
 * read `snap` (the document at `ref`): counts the request when the window
 * allows it; a refused one writes nothing. Lets a handler count its request in
 * the transaction it runs anyway (signup: one commit instead of two).
 */
export function countRequest(tx: Transaction, ref: DocumentReference, snap: DocumentSnapshot, options: RateLimitOptions): RateLimitOutcome {
  const { limit, windowMs, now } = options;
  const data = snap.data() as { windowStart?: Timestamp; count?: number } | undefined;
  const windowStart = data?.windowStart?.toMillis();
  const open = windowStart !== undefined && windowStart + windowMs > now.getTime();
  if (open && (data?.count ?? 0) >= limit) return { allowed: false, resetAt: windowStart + windowMs };
  const start = open ? windowStart : now.getTime();
  const count = open ? (data?.count ?? 0) + 1 : 1;
  const doc = {
    windowStart: firestore().Timestamp.fromMillis(start),
    count,
    expiresAt: firestore().Timestamp.fromMillis(start + windowMs),
    updatedAt: firestore().Timestamp.fromDate(now),
  };
  if (snap.exists) tx.set(ref, doc);
  else tx.create(ref, doc);
  return { allowed: true, resetAt: start + windowMs, count };
}

/** The state after a counted request, or `429 rate_limited` (with `Retry-After` in seconds) for a refused one. */
export function rateLimitState(outcome: RateLimitOutcome, options: Pick<RateLimitOptions, 'limit' | 'now'>): RateLimitState {
  if (!outcome.allowed) throw rateLimited(outcome.resetAt, options.now);
  return { remaining: Math.max(0, options.limit - outcome.count), resetAt: new Date(outcome.resetAt) };
}

/** `429 rate_limited` with `Retry-After`: the window ends at `resetAt` (ms). */
export function rateLimited(resetAt: number, now: Date): AppError {
  const retryAfter = Math.max(1, Math.ceil((resetAt - now.getTime()) / 1000));
  return new AppError('rate_limited', `Too many requests from your address; try again in ${retryAfter} seconds.`, {
    retryAfterSeconds: retryAfter,
  }).withHeader('Retry-After', String(retryAfter));
}

/** The document id of a key: SHA-256 hex, safe for any key (IPv6 colons, slashes) and not the address itself. */
export function hashRateLimitKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
