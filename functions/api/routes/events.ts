import type { Principal } from '../../../shared/auth/principal.ts';
import type { Deps } from '../../../shared/deps.ts';
import { openLimitedSse, type StreamGate } from '../../../shared/http/stream-gate.ts';
import { watchEvents } from '../../../shared/store/tenants.ts';
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
export async function streamTenantEvents(
  deps: Deps,
  tenants: TenantServiceImpl,
  gate: StreamGate,
  ctx: Context,
  p: Principal,
): Promise<void> {
  const id = ctx.params.id;
  const resumeFrom = ctx.header('last-event-id') ?? ctx.url.searchParams.get('lastEventId') ?? undefined;
  const afterId = resumeFrom && /^\d{1,12}$/.test(resumeFrom) ? resumeFrom.padStart(8, '0') : undefined;
  const release = gate.enter(p.uid);
  let history: TenantEvent[];
  try {
    history = await tenants.events(p, id, afterId); // authorizes before the stream opens
  } catch (err) {
    release();
    throw err;
  }
  const sse = openLimitedSse(ctx.res, release, deps.config.streams);
  let last = afterId ?? '';
  const send = (event: TenantEvent) => {
    if (event.id <= last) return;
    last = event.id;
    sse.send({ id: event.id, event: event.type, data: event });
  };
  history.forEach(send);
  if (ctx.url.searchParams.get('follow') === 'false') return sse.close();
  if (sse.isClosed) return; // the client left while the history was read
  const unsubscribe = watchEvents(deps.db, id, last, send, (err) => {
    ctx.log.warn('event listener failed', { err, tenantId: id });
    sse.close();
  });
  await sse.closed;
  unsubscribe();
}
