import type { Principal } from '../../../shared/auth/principal.ts';
import type { Deps } from '../../../shared/deps.ts';
import { AppError } from '../../../shared/errors.ts';
import { openLimitedSse, type StreamGate } from '../../../shared/http/stream-gate.ts';
import type { Context } from '../../../shared/http/wrap.ts';
import type { LogLine } from '../../../shared/runtime/types.ts';
import type { TenantServiceImpl } from '../../../shared/tenants/service.ts';

/** How often the stream asks the runtime driver for new lines. */
export const LOG_POLL_MS = 1000;
/** Lines one poll may bring; more than this within a poll interval would be cut to the newest. */
const POLL_LIMIT = 1000;

/**
 * `GET /api/v1/tenants/{id}/logs/stream?env=&limit=`: an environment's log as
 * Server-Sent Events (`event: log`, data a LogLine) — the last `limit` lines
 * (default 100), then each new one as the runtime driver reports it. Opened on
 * the api function's own URL like every stream (Hosting buffers), with the
 * per-user cap, heartbeat and deadline of the others.
 *
 * Each event's id is `<time>~<n>`: the line's time and how many lines with
 * that exact time came up to it, so a reconnect with `Last-Event-ID` resumes
 * right after the last line seen, repeating and missing none (the drivers
 * return lines in order, and lines of one time keep their order).
 */
export async function streamTenantLogs(
  deps: Deps,
  tenants: TenantServiceImpl,
  gate: StreamGate,
  ctx: Context,
  p: Principal,
): Promise<void> {
  const id = ctx.params.id;
  const q = ctx.url.searchParams;
  for (const key of q.keys()) {
    if (!['env', 'limit', 'lastEventId'].includes(key))
      throw new AppError('validation_failed', `Unknown parameter "${key}"; the stream takes env, limit and lastEventId.`, { field: key });
  }
  const resume = parseCursor(ctx.header('last-event-id') ?? q.get('lastEventId') ?? undefined);
  const base: Record<string, string> = {};
  if (q.get('env') !== null) base.env = q.get('env') as string;
  const release = gate.enter(p.uid);
  let history: LogLine[];
  try {
    // Authorizes (and validates env and limit) before the stream opens: errors are plain JSON answers.
    const first: Record<string, string> = resume ? { ...base, since: resume.time, limit: String(POLL_LIMIT) } : { ...base };
    if (!resume && q.get('limit') !== null) first.limit = q.get('limit') as string;
    history = await tenants.logs(p, id, first);
  } catch (err) {
    release();
    throw err;
  }
  const sse = openLimitedSse(ctx.res, release, deps.config.streams);
  let newest = resume?.time;
  let atNewest = resume?.count ?? 0;
  const emit = (lines: LogLine[]) => {
    let seenAtNewest = 0;
    for (const line of lines) {
      if (newest !== undefined && line.time < newest) continue;
      if (line.time === newest) {
        // Lines of the newest time already sent come first in the answer: skip that many.
        if (++seenAtNewest <= atNewest) continue;
        atNewest++;
      } else {
        newest = line.time;
        atNewest = 1;
        seenAtNewest = 1;
      }
      sse.send({ id: `${newest}~${atNewest}`, event: 'log', data: line });
    }
  };
  emit(history);
  while (!sse.isClosed) {
    await Promise.race([sse.closed, new Promise((r) => setTimeout(r, LOG_POLL_MS).unref())]);
    if (sse.isClosed) break;
    try {
      const next: Record<string, string> = { ...base, limit: String(POLL_LIMIT) };
      if (newest) next.since = newest;
      emit(await tenants.logs(p, id, next));
    } catch (err) {
      // The tenant went away or its runtime is unreachable: say so and end; the client may reconnect and resume.
      ctx.log.warn('log stream ended', { err, tenantId: id });
      sse.send({
        event: 'error',
        data: { message: err instanceof AppError ? err.message : 'The logs could not be read; reconnect to resume.' },
      });
      sse.close();
    }
  }
}

function parseCursor(raw: string | undefined): { time: string; count: number } | undefined {
  const match = raw ? /^(\d{4}-\d\d-\d\dT[\d:.]+Z)~(\d{1,6})$/.exec(raw) : null;
  return match ? { time: match[1], count: Number(match[2]) } : undefined;
}
