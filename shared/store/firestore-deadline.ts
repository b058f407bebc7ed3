/**
 * A deadline on every Firestore RPC. The client retries an unreachable server
 * for minutes (45 s per attempt against a refused port, then more attempts),
 * so a request waiting on it hung far past any client's patience. Both funnels
 * every read, query, commit and transaction goes through (`request` for unary
 * calls, `requestStream` until a stream yields) are wrapped; `listen` (the
 * snapshot listeners behind event streams) is long-lived and keeps the
 * client's own reconnects.
 */
import type { Firestore } from '@google-cloud/firestore';
import { asUnavailable, withDeadline } from '../deadline.ts';

type Funnels = {
  request(methodName: string, ...rest: unknown[]): Promise<unknown>;
  requestStream(methodName: string, ...rest: unknown[]): Promise<{ destroy?: () => void }>;
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
  funnels.requestStream = (methodName, ...rest) => {
    const started = requestStream(methodName, ...rest);
    if (methodName === 'listen') return started;
    // A stream that opens after the deadline is released: nobody will read it.
    return withDeadline('store', ms, started, (stream) => stream.destroy?.()).catch((err) => Promise.reject(asUnavailable('store', err)));
  };
  applied.add(db);
  return db;
}
