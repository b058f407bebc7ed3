import { listAudit } from '../../../shared/audit/store.ts';
import type { Deps } from '../../../shared/deps.ts';
import { AppError } from '../../../shared/errors.ts';
import { isTenantId } from '../../../shared/tenants/types.ts';
import { signedIn, type ApiRoute } from '../route.ts';

/** R-AUDIT-1: who changed what, from where, and how it ended; admins see every entry, users their own and those about what they own. */
export function auditRoutes(deps: Deps): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/audit',
      action: 'audit.read',
      handler: async (ctx, p) => {
        const q = ctx.url.searchParams;
        const tenantId = q.get('tenantId') ?? undefined;
        if (tenantId !== undefined && !isTenantId(tenantId))
          throw new AppError('validation_failed', 'tenantId must be a tenant id like t-abcde23456.', { field: 'tenantId' });
        const pageSize = q.get('pageSize');
        if (pageSize !== null && !/^\d{1,3}$/.test(pageSize))
          throw new AppError('validation_failed', 'pageSize must be a number from 1 to 200.', { field: 'pageSize' });
        const page = await listAudit(deps.db, signedIn(p), {
          tenantId,
          pageSize: pageSize ? Number(pageSize) : undefined,
          pageToken: q.get('pageToken') ?? undefined,
        });
        return { body: page };
      },
    },
  ];
}
