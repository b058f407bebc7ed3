import { authorize, POLICY, type Action } from '../../shared/auth/authorize.ts';
import { verifyBearer, type Principal } from '../../shared/auth/principal.ts';
import { auditSource, recordAudit } from '../../shared/audit/store.ts';
import type { Deps } from '../../shared/deps.ts';
import { toAppError } from '../../shared/errors.ts';
import { getTenantDoc } from '../../shared/store/tenants.ts';
import { createMatcher, type Method } from '../../shared/http/router.ts';
import type { Context, Handler, Reply } from '../../shared/http/wrap.ts';

/** One REST endpoint: every route names the action it performs, so authorization is never forgotten. */
export interface ApiRoute {
  method: Method;
  path: string;
  action: Action;
  /** The resource the edge checks ownership of before the handler (e.g. `/users/:uid/...` → that uid). */
  resource?: (ctx: Context) => { ownerId?: string };
  /** `principal` is null only for public actions. */
  handler: (ctx: Context, principal: Principal | null) => Promise<Reply | void>;
}

/**
 * Dispatches to the route table, authenticating (Firebase ID token) and
 * authorizing (shared/auth/authorize.ts) every non-public route before its handler.
 */
export function createApiRouter(deps: Deps, routes: ApiRoute[]): Handler {
  const match = createMatcher(routes);
  return async (ctx) => {
    const { route, params } = match(ctx.method, ctx.url.pathname);
    ctx.params = params;
    let principal: Principal | null = null;
    try {
      if (POLICY[route.action] !== 'public') principal = await verifyBearer(ctx.header('authorization'), deps.auth);
      authorize(principal, route.action, route.resource?.(ctx));
      const reply = await route.handler(ctx, principal);
      if (isAudited(ctx, principal))
        await audit(deps, ctx, route, principal, { status: reply?.status ?? ctx.res.statusCode }, createdTenant(reply));
      return reply;
    } catch (err) {
      if (isAudited(ctx, principal)) {
        const error = toAppError(err);
        await audit(deps, ctx, route, principal, { status: error.status, code: error.code });
      }
      throw err;
    }
  };
}

/** The tenant a create made (`{tenant: {id, ownerId}}` in its answer), so its entry targets that tenant and its owner. */
function createdTenant(reply: Reply | void): { id: string; ownerId: string } | undefined {
  const tenant = (reply?.body as { tenant?: { id?: unknown; ownerId?: unknown } } | undefined)?.tenant;
  return typeof tenant?.id === 'string' && typeof tenant.ownerId === 'string' ? { id: tenant.id, ownerId: tenant.ownerId } : undefined;
}

/** State changes by a signed-in caller or a payment webhook; anonymous calls (a device-code poll, a bad token) are not anyone's act. */
const isAudited = (ctx: Context, principal: Principal | null) =>
  ctx.method !== 'GET' && ctx.method !== 'HEAD' && (principal !== null || Boolean(ctx.params.provider));

/** One audit entry per state-changing request, whatever its outcome (R-AUDIT-1); a failed write is logged, never the request's failure. */
async function audit(
  deps: Deps,
  ctx: Context,
  route: ApiRoute,
  principal: Principal | null,
  outcome: { status: number; code?: string },
  created?: { id: string; ownerId: string },
): Promise<void> {
  try {
    const { uid, projectId, provider } = ctx.params;
    // A create names its new tenant and its owner in the answer: that tenant is the target, read no further.
    const id = ctx.params.id ?? created?.id;
    const tenant = created?.id === id ? created : id ? await getTenantDoc(deps.db, id) : undefined;
    const target = id
      ? { type: 'tenant' as const, id }
      : projectId
        ? { type: 'project' as const, id: `${uid}/${projectId}` }
        : uid
          ? { type: 'user' as const, id: uid }
          : { type: 'platform' as const };
    await recordAudit(
      deps.db,
      {
        actorId: principal?.uid ?? (provider ? `system:${provider}` : undefined),
        actorEmail: principal?.email ?? undefined,
        actorRole: principal?.role,
        source: provider ? 'webhook' : auditSource(ctx.header('x-tenantplane-client')),
        action: `${route.method} ${route.path}`,
        target,
        // A stranger's probe (404) is for admins' eyes only: the owner learns nothing about who tried.
        ownerId: outcome.status === 404 ? undefined : (tenant?.ownerId ?? uid),
        requestId: ctx.requestId,
        ip: ctx.ip,
        outcome,
      },
      deps.now(),
      deps.config.audit.retentionDays,
    );
  } catch (err) {
    ctx.log.warn('audit entry not written', { err, action: `${route.method} ${route.path}` });
  }
}

/** Narrows the principal of a non-public route. */
export function signedIn(principal: Principal | null): Principal {
  if (!principal) throw new Error('bug: a non-public route ran without a principal');
  return principal;
}
