import { parseConfig } from '../shared/config.ts';
import { createDeps, type Deps } from '../shared/deps.ts';
import { wrap, type Handler, type NodeHandler } from '../shared/http/wrap.ts';

/** Adapts a handler to a Node (functions-framework) handler with the platform's edge: ids, CORS, logs, errors. */
export function toNodeHandler(handler: Handler, deps: Deps): NodeHandler {
  return wrap(handler, {
    log: deps.log,
    corsOrigins: deps.config.http.corsOrigins,
    allowLocalhost: deps.config.mode !== 'production',
    bodyLimitBytes: deps.config.http.bodyLimitBytes,
  });
}

/** Entry of a deployed function: config from the environment (a bad variable fails the start, named), then the handler. */
export function startFunction(factory: (deps: Deps) => Handler): NodeHandler {
  const deps = createDeps(parseConfig(process.env));
  return toNodeHandler(factory(deps), deps);
}
