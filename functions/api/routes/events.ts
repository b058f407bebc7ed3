import type { Principal } from '../../../shared/auth/principal.ts';
import type { Deps } from '../../../shared/deps.ts';
import { openSse } from '../../../shared/http/sse.ts';
import { watchEvents } from '../../../shared/store/tenants.ts';
import type { Context } from '../../../shared/http/wrap.ts';
import type { TenantServiceImpl } from '../../../shared/tenants/service.ts';
import type { TenantEvent } from '../../../shared/tenants/types.ts';

/**
 * R-TENANT-4: the tenant's events as Server-Sent Events — history first, then
 * live from a Firestore snapshot listener; `Last-Event-ID` (or `?lastEventId=`)
 * resumes after the last event the client saw, so a reconnect misses nothing.
 */
export async function streamTenantEvents(deps: Deps, tenants: TenantServiceImpl, ctx: Context, p: Principal): Promise<void> {
  const id = ctx.params.id;
  const resumeFrom = ctx.header('last-event-id') ?? ctx.url.searchParams.get('lastEventId') ?? undefined;
  const afterId = resumeFrom && /^\d{1,12}$/.test(resumeFrom) ? resumeFrom.padStart(8, '0') : undefined;
  const history = await tenants.events(p, id, afterId); // authorizes before the stream opens
  const sse = openSse(ctx.res, { heartbeatMs: 15_000 });
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
