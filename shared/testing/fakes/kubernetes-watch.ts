/**
 * Watch for the Kubernetes fake, per
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes:
 * `?watch=true&resourceVersion=N` answers a stream of WatchEvent `{type: ADDED|MODIFIED|DELETED,
 * object}` newer than N; without a resourceVersion (or with "0") it starts with an ADDED event
 * per existing object. A resourceVersion older than the kept history is 410 Gone (`Expired`),
 * after which clients list again. The stream stays open, writing events as they happen, until
 * `timeoutSeconds` (default 5 minutes) or the client hangs up; clients then watch again from the
 * last resourceVersion they saw.
 */
type Json = Record<string, any>;

/** One recorded change. */
export interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  plural: string;
  namespace: string;
  object: Json;
}

const HISTORY = 2000;

/** The change log of a fake cluster and the watches waiting on it. */
export function createWatchLog() {
  const events: WatchEvent[] = [];
  const waiters = new Set<(force: boolean) => void>();
  return {
    record(event: WatchEvent) {
      events.push({ ...event, object: structuredClone(event.object) });
      if (events.length > HISTORY) events.shift();
      for (const wake of [...waiters]) wake(false);
    },
    /** The oldest resourceVersion a watch may resume from. */
    oldest: () => (events.length === HISTORY ? events[0].rv : 0),
    /** Events after `since` that `matches`, waiting up to `waitMs` for the first one. */
    async next(since: number, matches: (e: WatchEvent) => boolean, waitMs: number, signal?: AbortSignal): Promise<WatchEvent[]> {
      const pending = () => events.filter((e) => e.rv > since && matches(e));
      if (pending().length || waitMs <= 0 || signal?.aborted) return pending();
      await new Promise<void>((resolve) => {
        const wake = (force: boolean) => {
          if (!force && !pending().length) return;
          clearTimeout(timer);
          waiters.delete(wake);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => wake(true);
        const timer = setTimeout(onAbort, waitMs);
        waiters.add(wake);
        signal?.addEventListener('abort', onAbort);
      });
      return pending();
    },
    /** Ends every waiting watch (the fake is closing). */
    wakeAll() {
      for (const wake of [...waiters]) wake(true);
    },
  };
}

/** A Map of stored objects that records every set and delete in the watch log. */
export class WatchedMap extends Map<string, Json> {
  constructor(
    private readonly plural: string,
    private readonly namespace: string,
    private readonly log: ReturnType<typeof createWatchLog>,
    private readonly nextResourceVersion: () => string,
  ) {
    super();
  }
  override set(name: string, object: Json): this {
    const existed = this.has(name);
    super.set(name, object);
    // Map's constructor may call set before the fields exist.
    if (this.log) this.log.record({ rv: Number(object.metadata?.resourceVersion ?? 0), type: existed ? 'MODIFIED' : 'ADDED', plural: this.plural, namespace: this.namespace, object });
    return this;
  }
  override delete(name: string): boolean {
    const object = this.get(name);
    const deleted = super.delete(name);
    if (object && this.log) {
      const rv = this.nextResourceVersion();
      this.log.record({ rv: Number(rv), type: 'DELETED', plural: this.plural, namespace: this.namespace, object: { ...object, metadata: { ...object.metadata, resourceVersion: rv } } });
    }
    return deleted;
  }
}
