import { authorize, POLICY, type Action } from '../../shared/auth/authorize.ts';
import { verifyBearer, type Principal } from '../../shared/auth/principal.ts';
import type { Deps } from '../../shared/deps.ts';
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
    if (POLICY[route.action] !== 'public') principal = await verifyBearer(ctx.header('authorization'), deps.auth);
    authorize(principal, route.action, route.resource?.(ctx));
    return route.handler(ctx, principal);
  };
}

/** Narrows the principal of a non-public route. */
export function signedIn(principal: Principal | null): Principal {
  if (!principal) throw new Error('bug: a non-public route ran without a principal');
  return principal;
}
