import type { Deps } from '../../../shared/deps.ts';
import type { StreamGate } from '../../../shared/http/stream-gate.ts';
import type { SecretsService } from '../../../shared/tenants/secrets-service.ts';
import type { TenantServiceImpl } from '../../../shared/tenants/service.ts';
import { DRIVER_NAMES } from '../../../shared/runtime/index.ts';
import { enumParam, pageSizeParam, textParam } from '../../../shared/store/table-query.ts';
import { TENANT_SORTS } from '../../../shared/store/tenants.ts';
import { TENANT_STATES } from '../../../shared/tenants/types.ts';
import { signedIn, type ApiRoute } from '../route.ts';
import { streamTenantEvents } from './events.ts';
import { streamTenantLogs } from './logs-stream.ts';

const T = '/api/v1/tenants/:id';

/** R-TENANT-1…6, R-DEPLOY-1, R-SECRETS-1/2, R-OBS-1 over the service layer. */
export function tenantRoutes(deps: Deps, tenants: TenantServiceImpl, secrets: SecretsService, streams: StreamGate): ApiRoute[] {
  const links = (id: string) => ({
    self: `/api/v1/tenants/${id}`,
    events: `/api/v1/tenants/${id}/events`,
    status: `/api/v1/tenants/${id}/status`,
  });
  const accepted = (tenant: { id: string }) => ({ status: 202, body: { tenant, links: links(tenant.id) } });
  const op = (name: 'suspend' | 'resume' | 'restart' | 'retryProvision', path: string): ApiRoute => ({
    method: 'POST',
    path: `${T}/${path}`,
    action: 'tenants.operate',
    handler: async (ctx, p) => accepted(await tenants[name](signedIn(p), ctx.params.id)),
  });
  return [
    {
      method: 'POST',
      path: '/api/v1/tenants',
      action: 'tenants.create',
      handler: async (ctx, p) => {
        const { tenant, credentialsToken } = await tenants.createWithToken(signedIn(p), await ctx.json());
        const body = {
          tenant,
          links: { ...links(tenant.id), credentials: `/api/v1/tenants/${tenant.id}/credentials/${credentialsToken}` },
        };
        return { status: 202, body, headers: { Location: `/api/v1/tenants/${tenant.id}` } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/tenants',
      action: 'tenants.list',
      handler: async (ctx, p) => {
        const q = ctx.url.searchParams;
        const page = await tenants.list(signedIn(p), {
          pageSize: pageSizeParam(q, 200, 50),
          pageToken: q.get('pageToken') || undefined,
          ownerId: q.get('ownerId') || undefined,
          q: textParam(q, 'q', 100),
          state: enumParam(q, 'state', TENANT_STATES),
          plan: enumParam(
            q,
            'plan',
            deps.config.billing.plans.map((x) => x.id),
          ),
          driver: enumParam(q, 'driver', DRIVER_NAMES),
          sort: enumParam(
            q,
            'sort',
            TENANT_SORTS.map((s) => s.key),
          ),
          // `?deleted=true`: the deleted tenants that can still be restored, instead of the others.
          deleted: q.get('deleted') === 'true',
        });
        return { body: { tenants: page.items, nextPageToken: page.nextPageToken, total: page.total } };
      },
    },
    {
      method: 'GET',
      path: T,
      action: 'tenants.read',
      handler: async (ctx, p) => ({ body: { tenant: await tenants.get(signedIn(p), ctx.params.id) } }),
    },
    {
      method: 'PATCH',
      path: T,
      action: 'tenants.update',
      handler: async (ctx, p) => ({ body: { tenant: await tenants.update(signedIn(p), ctx.params.id, await ctx.json()) } }),
    },
    {
      method: 'DELETE',
      path: T,
      action: 'tenants.delete',
      handler: async (ctx, p) => accepted(await tenants.remove(signedIn(p), ctx.params.id)),
    },
    {
      // Within the deletion grace period: the tenant comes back, running, with its databases and buckets.
      method: 'POST',
      path: `${T}/restore`,
      action: 'tenants.delete',
      handler: async (ctx, p) => accepted(await tenants.restore(signedIn(p), ctx.params.id)),
    },
    op('suspend', 'suspend'),
    op('resume', 'resume'),
    op('restart', 'restart'),
    op('retryProvision', 'retry-provision'),
    {
      method: 'GET',
      path: `${T}/status`,
      action: 'tenants.read',
      handler: async (ctx, p) => ({ body: await tenants.status(signedIn(p), ctx.params.id) }),
    },
    {
      method: 'GET',
      path: `${T}/environments`,
      action: 'tenants.read',
      handler: async (ctx, p) => ({ body: { environments: await tenants.environments(signedIn(p), ctx.params.id) } }),
    },
    {
      method: 'POST',
      path: `${T}/environments/:env/reset`,
      action: 'tenants.operate',
      handler: async (ctx, p) => accepted(await tenants.resetEnvironment(signedIn(p), ctx.params.id, ctx.params.env)),
    },
    {
      method: 'POST',
      path: `${T}/deploy`,
      action: 'tenants.deploy',
      handler: async (ctx, p) => accepted(await tenants.deploy(signedIn(p), ctx.params.id, (await ctx.json()).image as string)),
    },
    {
      method: 'GET',
      path: `${T}/registry-token`,
      action: 'tenants.deploy',
      handler: async (ctx, p) => ({ body: await tenants.registryToken(signedIn(p), ctx.params.id) }),
    },
    {
      method: 'GET',
      path: `${T}/logs`,
      action: 'tenants.read',
      handler: async (ctx, p) => ({
        body: { lines: await tenants.logs(signedIn(p), ctx.params.id, Object.fromEntries(ctx.url.searchParams)) },
      }),
    },
    {
      method: 'GET',
      path: `${T}/logs/stream`,
      action: 'tenants.read',
      handler: (ctx, p) => streamTenantLogs(deps, tenants, streams, ctx, signedIn(p)),
    },
    {
      method: 'GET',
      path: `${T}/metrics`,
      action: 'tenants.read',
      handler: async (ctx, p) => ({ body: { metrics: await tenants.metrics(signedIn(p), ctx.params.id) } }),
    },
    {
      method: 'GET',
      path: `${T}/metrics/history`,
      action: 'tenants.read',
      handler: async (ctx, p) => ({
        body: { samples: await tenants.metricsHistory(signedIn(p), ctx.params.id, Object.fromEntries(ctx.url.searchParams)) },
      }),
    },
    {
      method: 'GET',
      path: `${T}/events`,
      action: 'tenants.read',
      handler: (ctx, p) => streamTenantEvents(deps, tenants, streams, ctx, signedIn(p)),
    },
    {
      method: 'GET',
      path: `${T}/secrets`,
      action: 'tenants.secrets',
      handler: async (ctx, p) => ({ body: { secrets: await secrets.list(signedIn(p), ctx.params.id) } }),
    },
    {
      method: 'POST',
      path: `${T}/secrets/:key`,
      action: 'tenants.secrets',
      handler: async (ctx, p) => ({
        status: 201,
        body: { secret: await secrets.put(signedIn(p), ctx.params.id, ctx.params.key, await ctx.json(), 'create') },
      }),
    },
    {
      method: 'GET',
      path: `${T}/secrets/:key`,
      action: 'tenants.secrets',
      handler: async (ctx, p) => ({ body: { secret: await secrets.get(signedIn(p), ctx.params.id, ctx.params.key) } }),
    },
    {
      method: 'PATCH',
      path: `${T}/secrets/:key`,
      action: 'tenants.secrets',
      handler: async (ctx, p) => ({
        body: { secret: await secrets.put(signedIn(p), ctx.params.id, ctx.params.key, await ctx.json(), 'update') },
      }),
    },
    {
      method: 'DELETE',
      path: `${T}/secrets/:key`,
      action: 'tenants.secrets',
      handler: async (ctx, p) => ({ body: await secrets.remove(signedIn(p), ctx.params.id, ctx.params.key) }),
    },
    {
      method: 'GET',
      path: `${T}/credentials/:token`,
      action: 'tenants.secrets',
      handler: async (ctx, p) => ({ body: { credentials: await secrets.credentials(signedIn(p), ctx.params.id, ctx.params.token) } }),
    },
    {
      method: 'POST',
      path: `${T}/rotate-credentials`,
      action: 'tenants.secrets',
      handler: async (ctx, p) => {
        const { tenant, credentialsToken } = await secrets.rotate(signedIn(p), ctx.params.id);
        return {
          status: 202,
          body: { tenant, links: { ...links(tenant.id), credentials: `/api/v1/tenants/${tenant.id}/credentials/${credentialsToken}` } },
        };
      },
    },
  ];
}
