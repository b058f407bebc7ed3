import { AUDIT_SOURCES, listAudit } from '../../../shared/audit/store.ts';
import type { Deps } from '../../../shared/deps.ts';
import { AppError } from '../../../shared/errors.ts';
import { enumParam, pageSizeParam, textParam } from '../../../shared/store/table-query.ts';
import { isTenantId } from '../../../shared/tenants/types.ts';
import { signedIn, type ApiRoute } from '../route.ts';

/** An ISO-8601 time (or a day, `2026-11-30`) as the ISO string audit ids start with; anything else is 400 naming it. */
function timeParam(q: URLSearchParams, name: string): string | undefined {
  const raw = textParam(q, name, 40);
  if (raw === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(ms))
    throw new AppError('validation_failed', `${name} must be a time like 2026-11-30 or 2026-11-30T12:00:00Z.`, { field: name });
  return new Date(ms).toISOString();
}

/** R-AUDIT-1: who changed what, from where, and how it ended; admins see every entry, users their own and those about what they own. */
export function auditRoutes(deps: Deps): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/audit',
      action: 'audit.read',
      handler: async (ctx, p) => {
        const q = ctx.url.searchParams;
        const tenantId = textParam(q, 'tenantId', 20);
        if (tenantId !== undefined && !isTenantId(tenantId))
          throw new AppError('validation_failed', 'tenantId must be a tenant id like t-abcde23456.', { field: 'tenantId' });
        const actor = textParam(q, 'actor', 320);
        if (actor !== undefined && (actor.includes('/') || /\s/.test(actor)))
          throw new AppError('validation_failed', 'actor must be a user id or an email address.', { field: 'actor' });
        const page = await listAudit(deps.db, signedIn(p), {
          tenantId,
          actor,
          action: textParam(q, 'action', 200),
          source: enumParam(q, 'source', AUDIT_SOURCES),
          from: timeParam(q, 'from'),
          to: timeParam(q, 'to'),
          pageSize: pageSizeParam(q, 200, 50),
          pageToken: q.get('pageToken') ?? undefined,
        });
        return { body: page };
      },
    },
  ];
}
