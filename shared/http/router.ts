import { AppError } from '../errors.ts';
import { methodNotAllowed, type Context, type Handler, type Reply } from './wrap.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A route: the method, a path pattern with `:param` segments, and its handler. */
export interface Route<Extra = unknown> {
  method: Method;
  path: string;
  handler: (ctx: Context, extra: Extra) => Promise<Reply | void>;
}

interface Compiled<R> {
  route: R;
  regex: RegExp;
  names: string[];
}

function compile<R extends { path: string }>(route: R): Compiled<R> {
  const names: string[] = [];
  const pattern = route.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, regex: new RegExp(`^${pattern}/?$`), names };
}

/** Finds the route for a method and path; 404 for an unknown path, 405 (with Allow) for a known path and wrong method. */
export function createMatcher<R extends { method: Method; path: string }>(routes: R[]) {
  const compiled = routes.map(compile);
  return (method: string, pathname: string): { route: R; params: Record<string, string> } => {
    const allowed: string[] = [];
    for (const { route, regex, names } of compiled) {
      const match = regex.exec(pathname);
      if (!match) continue;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(match[i + 1]);
        } catch {
          throw new AppError('invalid_request', `The path segment "${match[i + 1]}" is not valid.`);
        }
      });
      return { route, params };
    }
    if (allowed.length > 0) throw methodNotAllowed(method, [...new Set(allowed)]);
    throw new AppError('not_found', `No such endpoint: ${method} ${pathname}.`);
  };
}

/** A Handler that dispatches to a route table. */
export function createRouter(routes: Route<undefined>[]): Handler {
  const match = createMatcher(routes);
  return async (ctx) => {
    const { route, params } = match(ctx.method, ctx.url.pathname);
    ctx.params = params;
    return route.handler(ctx, undefined);
  };
}
