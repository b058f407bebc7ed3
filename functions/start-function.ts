import { createRequire } from 'node:module';
import { parseConfig } from '../shared/config.ts';
import { createDeps, type Deps } from '../shared/deps.ts';
import { wrap, type Handler, type NodeHandler } from '../shared/http/wrap.ts';

/** Adapts a handler to a Node (functions-framework) handler with the platform's edge: ids, CORS, logs, errors. */
export function toNodeHandler(handler: Handler, deps: Deps): NodeHandler {
  return wrap(handler, {
    log: deps.log,
    // The pages, served from PUBLIC_URL, open their streams on a function's own URL: a cross-origin call.
    corsOrigins: [...deps.config.http.corsOrigins, new URL(deps.config.publicUrl).origin],
    allowLocalhost: deps.config.mode !== 'production',
    bodyLimitBytes: deps.config.http.bodyLimitBytes,
    trustedProxyHops: deps.config.http.trustedProxyHops,
  });
}

/**
 * functions-framework parses bodies before our code runs and answers a parse
 * error with Express's HTML page. Its parsers keep the raw bytes first
 * (`req.rawBody`), so we let parse errors pass and parse in `wrap()`, which
 * answers a SPEC §9 JSON error instead. Runs at module load, before the
 * framework builds its server.
 */
function tolerateFrameworkBodyErrors(): void {
  let bodyParser: Record<string, unknown>;
  try {
    const frameworkRequire = createRequire(createRequire(import.meta.url).resolve('@google-cloud/functions-framework'));
    bodyParser = frameworkRequire('body-parser');
  } catch {
    return; // not running under functions-framework
  }
  type Middleware = (req: unknown, res: unknown, next: (err?: unknown) => void) => void;
  for (const kind of ['json', 'text', 'urlencoded', 'raw']) {
    const original = bodyParser[kind] as ((options: unknown) => Middleware) & { tolerant?: boolean };
    if (typeof original !== 'function' || original.tolerant) continue;
    const tolerant = Object.assign(
      (options: unknown): Middleware => {
        const middleware = original(options);
        return (req, res, next) => middleware(req, res, () => next());
      },
      { tolerant: true },
    );
    Object.defineProperty(bodyParser, kind, { value: tolerant, configurable: true, enumerable: true });
  }
}

/** Entry of a deployed function: config from the environment (a bad variable fails the start, named), then the handler. */
export function startFunction(factory: (deps: Deps) => Handler): NodeHandler {
  tolerateFrameworkBodyErrors();
  const deps = createDeps(parseConfig(process.env));
  return toNodeHandler(factory(deps), deps);
}
