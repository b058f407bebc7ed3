/**
 * A deadline on every Firestore RPC. The client retries an unreachable server
 * for minutes (45 s per attempt against a refused port, then more attempts),
 * so a request waiting on it hung far past any client's patience. Both funnels
 * every read, query, commit and transaction goes through (`request` for unary
 * calls, `requestStream` until a stream yields) are wrapped; `listen` (the
 * snapshot listeners behind event streams) is long-lived and keeps the
 * client's own reconnects.
 *
 * A transaction's first read also begins it (`newTransaction`), and the
 * client keeps sending a read it could not deliver: once the store is back,
 * the read that was given up on begins a transaction that holds its documents'
 * locks with nobody to end it. The store keeps them until the transaction
 * expires (about a minute on the emulator), and every transaction on those
 * documents waited for them: a signup from the same address after a 6 s
 * outage took 62–88 s, its commits refused with "Transaction lock timeout"
 * and retried. So such a late read is read on until it names its
 * transaction, which is rolled back at once.
 */
import type { Firestore } from '@google-cloud/firestore';
import { asUnavailable, withDeadline } from '../deadline.ts';

/** The part of the client's response stream used here. */
interface ResponseStream {
  destroy?: () => void;
  resume?: () => void;
  on?: (event: string, listener: (value?: unknown) => void) => unknown;
}

type Funnels = {
  request(methodName: string, ...rest: unknown[]): Promise<unknown>;
  requestStream(methodName: string, bidirectional: unknown, request?: unknown, ...rest: unknown[]): Promise<ResponseStream>;
};

const applied = new WeakSet<Firestore>();

/** Makes every Firestore call on `db` answer within `ms` or reject with a 503 naming the store. */
export function applyFirestoreDeadline(db: Firestore, ms: number): Firestore {
  if (applied.has(db)) return db;
  const funnels = db as unknown as Funnels;
  if (typeof funnels.request !== 'function' || typeof funnels.requestStream !== 'function') {
    // A client version without these funnels: fail loudly in tests rather than silently hang in an outage.
    throw new Error('@google-cloud/firestore changed its request funnels; update shared/store/firestore-deadline.ts');
  }
  const request = funnels.request.bind(db);
  const requestStream = funnels.requestStream.bind(db);
  funnels.request = (methodName, ...rest) =>
    withDeadline('store', ms, request(methodName, ...rest)).catch((err) => Promise.reject(asUnavailable('store', err)));
  funnels.requestStream = (methodName, bidirectional, body, ...rest) => {
    const started = requestStream(methodName, bidirectional, body, ...rest);
    if (methodName === 'listen') return started;
    // A stream that opens after the deadline is released (nobody will read it); one that began a transaction is read on, and its transaction rolled back.
    const { newTransaction, database } = (body ?? {}) as { newTransaction?: unknown; database?: string };
    const late = newTransaction && database ? (stream: ResponseStream) => rollBackLate(stream, database, request) : releaseLate;
    return withDeadline('store', ms, started, late).catch((err) => Promise.reject(asUnavailable('store', err)));
  };
  applied.add(db);
  return db;
}

const releaseLate = (stream: ResponseStream) => stream.destroy?.();

/**
 * Reads a late stream that began a transaction to its end, and rolls that
 * transaction back as soon as the stream names it (best effort: a rollback
 * that fails leaves the locks to expire, as before).
 */
function rollBackLate(stream: ResponseStream, database: string, request: Funnels['request']): void {
  let named = false;
  stream.on?.('data', (response) => {
    const transaction = (response as { transaction?: unknown } | undefined)?.transaction;
    if (named || !(transaction instanceof Uint8Array) || transaction.length === 0) return;
    named = true;
    request('rollback', { database, transaction }).catch(() => undefined);
  });
  stream.on?.('error', () => undefined);
  // The client hands its streams over paused; read on, so the stream ends by itself.
  stream.resume?.();
}
