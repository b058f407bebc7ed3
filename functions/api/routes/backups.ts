import type { Deps } from '../../../shared/deps.ts';
import { createBackupsService } from '../../../shared/tenants/backups.ts';
import { signedIn, type ApiRoute } from '../route.ts';

const T = '/api/v1/tenants/:id';

/** R-DATA-2: list, create and restore backups of a tenant's databases over the backups service. */
export function backupRoutes(deps: Deps): ApiRoute[] {
  const backups = createBackupsService(deps);
  const links = (id: string) => ({
    self: `/api/v1/tenants/${id}`,
    events: `/api/v1/tenants/${id}/events`,
    backups: `/api/v1/tenants/${id}/backups`,
  });
  return [
    {
      method: 'GET',
      path: `${T}/backups`,
      action: 'tenants.read',
      handler: async (ctx, p) => ({ body: { backups: await backups.list(signedIn(p), ctx.params.id) } }),
    },
    {
      method: 'POST',
      path: `${T}/backups`,
      action: 'tenants.operate',
      handler: async (ctx, p) => {
        const { tenant, backups: ids } = await backups.create(signedIn(p), ctx.params.id, await ctx.json());
        return { status: 202, body: { tenant, backups: ids, links: links(tenant.id) } };
      },
    },
    {
      method: 'POST',
      path: `${T}/backups/:backupId/restore`,
      action: 'tenants.operate',
      handler: async (ctx, p) => {
        const tenant = await backups.restore(signedIn(p), ctx.params.id, ctx.params.backupId, await ctx.json());
        return { status: 202, body: { tenant, links: links(tenant.id) } };
      },
    },
  ];
}
