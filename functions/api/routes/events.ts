import type { Principal } from '../../../shared/auth/principal.ts';
import type { Deps } from '../../../shared/deps.ts';
import { openLimitedSse, type StreamGate } from '../../../shared/http/stream-gate.ts';
import { listEvents, watchEvents } from '../../../shared/store/tenants.ts';
import type { Context } from '../../../shared/http/wrap.ts';
import type { TenantServiceImpl } from '../../../shared/tenants/service.ts';
import type { TenantEvent } from '../../../shared/tenants/types.ts';

/**
 * R-TENANT-4: the tenant's events as Server-Sent Events — history first, then
 * live from a Firestore snapshot listener; `Last-Event-ID` (or `?lastEventId=`)
 * resumes after the last event the client saw, so a reconnect misses nothing.
 * The stream ends at the configured deadline (clients resume), keeps a
 * heartbeat, and counts against the caller's open streams (`gate`).
 */
export function streamTenantEvents(deps: Deps, tenants: TenantServiceImpl, gate: StreamGate, ctx: Context, p: Principal): Promise<void> {
  const id = ctx.params.id;
  return streamSequencedEvents<TenantEvent>(deps, gate, ctx, p, {
    history: (afterId) => tenants.events(p, id, afterId), // authorizes before the stream opens
    since: (afterId) => listEvents(deps.db, id, afterId), // the caller was authorized by history
    watch: (afterId, onEvent, onError, onReady) => watchEvents(deps.db, id, afterId, onEvent, onError, onReady),
    logFields: { tenantId: id },
  });
}

/** An event of a log numbered by a counter: ids zero-padded to 8 digits, so string order is numeric order. */
interface SequencedEvent {
  id: string;
  type: string;
}

/**
 * Streams a sequenced event log (a tenant's, a rollout's) as SSE: the history
 * after the client's `Last-Event-ID`, then each new event once, in order,
 * until the client leaves or the deadline ends the stream. `history` runs
 * inside the caller's stream slot, so its error (404, 403) is a plain JSON
 * answer and gives the slot back.
 *
 * The live part does not trust the listener alone: the Firestore emulator's
 * listener can miss events committed while it is being set up (a suspend that
 * finished within the stream's first 100 ms was never shown), so the history
 * is read once more after the listener's first snapshot, and again whenever
 * a live event skips a number (ids are consecutive), before that event is sent.
 */
export async function streamSequencedEvents<E extends SequencedEvent>(
  deps: Deps,
  gate: StreamGate,
  ctx: Context,
  p: Principal,
  log: {
    history: (afterId: string | undefined) => Promise<E[]>;
    /** The later reads of the log once the stream is open (catch-ups); `history` by default. */
    since?: (afterId: string | undefined) => Promise<E[]>;
    watch: (afterId: string, onEvent: (event: E) => void, onError: (err: Error) => void, onReady: () => void) => () => void;
    logFields: Record<string, string>;
  },
): Promise<void> {
  const resumeFrom = ctx.header('last-event-id') ?? ctx.url.searchParams.get('lastEventId') ?? undefined;
  const afterId = resumeFrom && /^\d{1,12}$/.test(resumeFrom) ? resumeFrom.padStart(8, '0') : undefined;
  const release = gate.enter(p.uid);
  let history: E[];
  try {
    history = await log.history(afterId);
  } catch (err) {
    release();
    throw err;
  }
  const sse = openLimitedSse(ctx.res, release, deps.config.streams);
  let last = afterId ?? '';
  const send = (event: E) => {
    if (event.id <= last) return;
    last = event.id;
    sse.send({ id: event.id, event: event.type, data: event });
  };
  history.forEach(send);
  if (ctx.url.searchParams.get('follow') === 'false') return sse.close();
  if (sse.isClosed) return; // the client left while the history was read
  const failed = (err: unknown) => {
    ctx.log.warn('event stream failed', { err, ...log.logFields });
    sse.close(); // the client resumes from the last event it got
  };
  // One read at a time; live events that arrive meanwhile wait for it, so order holds.
  let catchingUp: Promise<void> | undefined;
  const catchUp = () =>
    (catchingUp ??= (sse.isClosed ? Promise.resolve([]) : (log.since ?? log.history)(last || undefined))
      .then((events) => events.forEach(send), failed)
      .finally(() => {
        catchingUp = undefined;
      }));
  const onLive = (event: E) => {
    const skipped = last !== '' && Number(event.id) > Number(last) + 1;
    if (catchingUp || skipped) void catchUp().then(() => send(event));
    else send(event);
  };
  const unsubscribe = log.watch(last, onLive, failed, () => void catchUp());
  await sse.closed;
  unsubscribe();
  // The request ends with its reads: a server that waits for its requests before closing the Firestore client
  // (the gateway, Cloud Run's shutdown) must not leave one running, which that client would never settle.
  await catchingUp;
}
