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
import type { FakeResponse, RecordedRequest } from './http-server.ts';
import { status } from './kubernetes-validation.ts';

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
    if (this.log)
      this.log.record({
        rv: Number(object.metadata?.resourceVersion ?? 0),
        type: existed ? 'MODIFIED' : 'ADDED',
        plural: this.plural,
        namespace: this.namespace,
        object,
      });
    return this;
  }
  override delete(name: string): boolean {
    const object = this.get(name);
    const deleted = super.delete(name);
    if (object && this.log) {
      const rv = this.nextResourceVersion();
      this.log.record({
        rv: Number(rv),
        type: 'DELETED',
        plural: this.plural,
        namespace: this.namespace,
        object: { ...object, metadata: { ...object.metadata, resourceVersion: rv } },
      });
    }
    return deleted;
  }
}

/** What a watch needs from the fake: the kind and namespace, a filter, the current objects and version. */
export interface WatchTarget {
  plural: string;
  /** Empty for every namespace. */
  namespace: string;
  matches(object: Json): boolean;
  current(): Json[];
  resourceVersion(): number;
  isClosed(): boolean;
}

/** `?watch=true`: a stream of events after `resourceVersion` for the target. */
export function watchResponse(changes: ReturnType<typeof createWatchLog>, request: RecordedRequest, target: WatchTarget): FakeResponse {
  const rv = request.query.get('resourceVersion');
  const line = (e: { type: string; object: Json }) => `${JSON.stringify({ type: e.type, object: e.object })}\n`;
  const timeoutMs = Number(request.query.get('timeoutSeconds') ?? 300) * 1000;
  const mine = (e: WatchEvent) =>
    e.plural === target.plural && (!target.namespace || e.namespace === target.namespace) && target.matches(e.object);
  return {
    status: 200,
    stream: async (write, signal) => {
      let since = Number(rv);
      if (!rv || rv === '0') {
        since = target.resourceVersion();
        for (const object of target.current()) write(line({ type: 'ADDED', object }));
      } else if (since < changes.oldest()) {
        return write(
          line({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${rv} (${changes.oldest()})`).body as Json }),
        );
      }
      const deadline = Date.now() + timeoutMs;
      while (!signal.aborted && !target.isClosed() && Date.now() < deadline) {
        for (const event of await changes.next(since, mine, deadline - Date.now(), signal)) {
          write(line(event));
          since = event.rv;
        }
      }
    },
  };
}
