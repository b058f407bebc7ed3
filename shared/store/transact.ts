import type { Firestore, Transaction } from '@google-cloud/firestore';

/**
 * Transactions on one hot document, queued per document within this client.
 *
 * Firestore serializes transactions across instances with locks, but the
 * emulator deadlocks when dozens of transactions read then write the same
 * document at once (measured: 50 parallel → 49 aborted with "Transaction lock
 * timeout" after 30 s; 20 parallel → 13 s). Queuing same-key work inside one
 * client costs nothing in production (those transactions would wait for each
 * other's locks anyway) and leaves Firestore's own locking to order different
 * instances. The queue lives per Firestore client, so two function instances
 * in one test process are still independent.
 */
const queues = new WeakMap<Firestore, Map<string, Promise<unknown>>>();

const ALREADY_EXISTS = 6;

/**
 * Runs `fn` in a Firestore transaction after every earlier call with the same
 * key on this client has settled. With several keys (a transaction on two hot
 * documents), it waits for the earlier calls on any of them; calls register on
 * all their keys at once, so they only ever wait for older calls: no cycle.
 */
export async function runKeyedTransaction<T>(db: Firestore, key: string | string[], fn: (tx: Transaction) => Promise<T>): Promise<T> {
  let perKey = queues.get(db);
  if (!perKey) queues.set(db, (perKey = new Map()));
  const keys = [...new Set(Array.isArray(key) ? key : [key])];
  const previous = keys.map((k) => perKey.get(k)).filter((p): p is Promise<unknown> => p !== undefined);
  const run = Promise.allSettled(previous).then(() => transactWithCreateRetry(db, fn));
  for (const k of keys) perKey.set(k, run);
  try {
    return await run;
  } finally {
    for (const k of keys) if (perKey.get(k) === run) perKey.delete(k);
  }
}

/**
 * Waits (at most `timeoutMs`) until no transaction of runKeyedTransaction on
 * `db` runs, before the client is terminated: a read the Firestore client
 * starts after its termination is never settled and leaves an unhandled
 * rejection behind (it drops the promise of its own pool), which ends a
 * process run with Node's defaults; a transaction cut off between its reads
 * and its commit would do that.
 */
export async function settleTransactions(db: Firestore, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let running = [...(queues.get(db)?.values() ?? [])]; running.length > 0; running = [...(queues.get(db)?.values() ?? [])]) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(running), new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
}

/**
 * `tx.create` is how a transaction claims a document that did not exist when it
 * read (the emulator does not lock missing documents). When another instance
 * created it first, the commit fails with ALREADY_EXISTS, which the client does
 * not retry; a fresh attempt then reads the document that now exists.
 */
async function transactWithCreateRetry<T>(db: Firestore, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.runTransaction(fn, { maxAttempts: 10 });
    } catch (err) {
      if ((err as { code?: number }).code !== ALREADY_EXISTS || attempt >= 5) throw err;
    }
  }
}

/** What a grouped transaction made of one item: its value, or the error that item alone gets. */
export type ItemOutcome<R> = { value: R } | { error: unknown };

interface Pending<T> {
  item: T;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}
/** Per client and document, the items waiting for the next grouped transaction. */
const openGroups = new WeakMap<Firestore, Map<string, Pending<unknown>[]>>();

/**
 * Adds `item` to the next transaction on document `key` that writes a group
 * (an event log's counter, an owner's tenant count): this process's writes on
 * one document queue one after another (runKeyedTransaction), and items that
 * arrive while one waits or runs are gathered, up to `maxItems`, and written
 * together, in arrival order, by the next. Concurrent writers (a launch's
 * environments, a rollout's batch, a burst of creations) commit a handful of
 * times instead of once each, without contending. `write` gets the whole group
 * and answers each item's outcome, so one item's refusal does not fail the
 * others; a retried attempt writes the same group again. A failed transaction
 * fails every item of the group.
 */
export function runItemsTransaction<T, R>(
  db: Firestore,
  key: string,
  item: T,
  write: (tx: Transaction, items: T[]) => Promise<ItemOutcome<R>[]>,
  maxItems = Number.POSITIVE_INFINITY,
): Promise<R> {
  let perDb = openGroups.get(db);
  if (!perDb) openGroups.set(db, (perDb = new Map()));
  const open = perDb.get(key) as Pending<T>[] | undefined;
  if (open && open.length < maxItems) return new Promise((resolve, reject) => open.push({ item, resolve: resolve as never, reject }));
  const group: Pending<T>[] = [];
  perDb.set(key, group as Pending<unknown>[]);
  const done = new Promise<R>((resolve, reject) => group.push({ item, resolve: resolve as never, reject }));
  let outcomes: ItemOutcome<R>[] = [];
  runKeyedTransaction(db, key, async (tx) => {
    // From the first attempt on, later items form the next group.
    if (perDb.get(key) === group) perDb.delete(key);
    outcomes = await write(
      tx,
      group.map((p) => p.item),
    );
  }).then(
    () => {
      group.forEach((p, i) => {
        const outcome = outcomes[i];
        if (outcome && 'error' in outcome) p.reject(outcome.error);
        else p.resolve(outcome?.value);
      });
    },
    (err: unknown) => {
      if (perDb.get(key) === group) perDb.delete(key);
      for (const p of group) p.reject(err);
    },
  );
  return done;
}

/** runItemsTransaction for items that all succeed or fail together (`write` answers nothing per item). */
export function runGroupedTransaction<T>(
  db: Firestore,
  key: string,
  item: T,
  write: (tx: Transaction, items: T[]) => Promise<void>,
): Promise<void> {
  return runItemsTransaction<T, void>(db, key, item, async (tx, items) => {
    await write(tx, items);
    return items.map(() => ({ value: undefined }));
  });
}
