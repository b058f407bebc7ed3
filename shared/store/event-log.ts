/**
 * Reading an event log kept as a collection of documents whose ids are their
 * zero-padded sequence numbers (a tenant's events, a rollout's): string order
 * is numeric order, so "after id X" is `startAfter(X)` on `orderBy('id')`.
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { stripUndefined } from './plain.ts';

/** Up to `limit` events of `collection` after `afterId` (all of them without one), oldest first. */
export async function listLog<E>(db: Firestore, collection: string, afterId: string | undefined, limit: number): Promise<E[]> {
  let query = db.collection(collection).orderBy('id').limit(limit);
  if (afterId) query = query.startAfter(afterId);
  return (await query.get()).docs.map((d) => d.data() as E);
}

/**
 * Calls `onEvent` for each event after `afterId` as it is appended (a snapshot
 * listener) until the returned function is called; `onReady` once the
 * listener's first snapshot has been handed over.
 */
export function watchLog<E>(
  db: Firestore,
  collection: string,
  afterId: string,
  onEvent: (event: E) => void,
  onError: (err: Error) => void,
  onReady?: () => void,
): () => void {
  let first = true;
  return db
    .collection(collection)
    .orderBy('id')
    .startAfter(afterId)
    .onSnapshot((snap) => {
      for (const change of snap.docChanges()) if (change.type === 'added') onEvent(change.doc.data() as E);
      if (first) onReady?.();
      first = false;
    }, onError);
}

/**
 * Appends an event after `eventSeq` in a transaction that has read the log's
 * counter (so the id cannot collide); answers the new sequence for the caller
 * to store on the counter's document.
 */
export function appendLog(
  db: Firestore,
  tx: Transaction,
  collection: string,
  eventSeq: number,
  event: Record<string, unknown>,
  now: Date,
): number {
  const seq = eventSeq + 1;
  const id = String(seq).padStart(8, '0');
  tx.create(db.doc(`${collection}/${id}`), stripUndefined({ id, at: now.toISOString(), ...event }));
  return seq;
}
