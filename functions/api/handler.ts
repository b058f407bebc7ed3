import type { Deps } from '../../shared/deps.ts';
import type { Handler } from '../../shared/http/wrap.ts';
import { verifyBearer } from '../../shared/auth/principal.ts';
import { checkHealth } from './health.ts';
import { createApiRouter, type ApiRoute } from './route.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { backupRoutes } from './routes/backups.ts';
import { exportRoutes } from './routes/exports.ts';
import { billingRoutes } from './routes/billing.ts';
import { userRoutes } from './routes/users.ts';
import { projectRoutes } from './routes/projects.ts';
import { createProjectService } from '../../shared/projects/service.ts';
import { webConfigRoutes } from './routes/web-config.ts';
import { auditRoutes } from './routes/audit.ts';
import { fleetRoutes } from './routes/fleet.ts';
import { deviceRoutes } from './routes/device.ts';
import { imageRoutes } from './routes/images.ts';
import { releaseRoutes } from './routes/releases.ts';
import { createTenantService } from '../../shared/tenants/service.ts';
import { createSecretsService } from '../../shared/tenants/secrets-service.ts';
import { createStreamGate, type StreamGate } from '../../shared/http/stream-gate.ts';

/**
 * The route table of the REST API; each area adds its routes from `routes/<area>.ts`.
 * `streams` counts open streams per user on this instance (STREAMS_PER_USER).
 */
export function apiRoutes(deps: Deps, streams: StreamGate = createStreamGate(deps.config.streams)): ApiRoute[] {
  const tenants = createTenantService(deps);
  const secrets = createSecretsService(deps);
  return [
    {
      method: 'GET',
      path: '/api/health',
      action: 'health.read',
      handler: async (ctx) => {
        const health = await checkHealth(deps);
        const status = health.status === 'ok' ? 200 : 503;
        // Anyone may ask whether the platform is up; only admins learn which dependency is down and why.
        const caller = ctx.header('authorization') ? await verifyBearer(ctx.header('authorization'), deps.auth).catch(() => null) : null;
        if (caller?.role === 'admin') return { status, body: health };
        return { status, body: { status: health.status === 'ok' ? 'ok' : 'unavailable' } };
      },
    },
    ...tenantRoutes(deps, tenants, secrets, streams),
    ...backupRoutes(deps),
    ...exportRoutes(deps),
    ...billingRoutes(deps, { tenants }),
    ...userRoutes(deps),
    ...projectRoutes(deps, createProjectService(deps), streams),
    ...webConfigRoutes(deps),
    ...auditRoutes(deps),
    ...fleetRoutes(deps),
    ...deviceRoutes(deps),
    ...imageRoutes(deps),
    ...releaseRoutes(deps, streams),
  ];
}

/**
 * Builds the REST API function: the route table of every area behind the one
 * router that authenticates and authorizes each route. Needs the platform's
 * deps; the services it routes to are built from them here, so a test passes
 * emulator-backed deps and gets the same API as production.
 */
export function createApiHandler(deps: Deps): Handler {
  return createApiRouter(deps, apiRoutes(deps));
}
