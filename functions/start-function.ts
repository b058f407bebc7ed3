import { createRequire } from 'node:module';
import { type Config, parseConfig } from '../shared/config.ts';
import { createDeps, type Deps } from '../shared/deps.ts';
import { AppError } from '../shared/errors.ts';
import { wrap, type Handler, type NodeHandler, type WrapOptions } from '../shared/http/wrap.ts';
import { createLogger, type Logger } from '../shared/log.ts';

/** Adapts a handler to a Node (functions-framework) handler with the platform's edge: ids, CORS, logs, errors. */
export function toNodeHandler(handler: Handler, deps: Deps): NodeHandler {
  return wrap(handler, edgeOptions(deps.config, deps.log));
}

function edgeOptions(config: Config, log: Logger): WrapOptions {
  return {
    log,
    // The pages, served from PUBLIC_URL, open their streams on a function's own URL: a cross-origin call.
    corsOrigins: [...config.http.corsOrigins, new URL(config.publicUrl).origin],
    allowLocalhost: config.mode !== 'production',
    bodyLimitBytes: config.http.bodyLimitBytes,
    trustedProxyHops: config.http.trustedProxyHops,
  };
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

/**
 * Entry of a deployed function: config from the environment (a bad variable
 * fails the start, named), then the handler. Where a Google API is used without
 * its emulator, the credentials are looked up first: Google's clients, built
 * without any, leave a rejected promise per method unhandled, which
 * functions-framework turns into an error answer for whatever request is
 * running. Without credentials no client is built; the function says what is
 * missing on one line and answers every request, health included, 503.
 */
export function startFunction(name: string, factory: (deps: Deps) => Handler): NodeHandler {
  tolerateFrameworkBodyErrors();
  const config = parseConfig(process.env);
  const ready = missingCredentials(config).then((missing) => {
    if (missing) return withoutCredentials(name, config, missing);
    const deps = createDeps(config);
    return toNodeHandler(factory(deps), deps);
  });
  return async (req, res) => (await ready)(req, res);
}

/** Why Google's clients could not authenticate here, or undefined when they can (or every client talks to an emulator). */
export async function missingCredentials(config: Config): Promise<string | undefined> {
  const { firestore, auth, tasks } = config.emulators;
  if (firestore && auth && tasks) return undefined;
  const { GoogleAuth } = await import('google-auth-library');
  try {
    await new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getClient();
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

function withoutCredentials(name: string, config: Config, cause: string): NodeHandler {
  const unset = Object.entries({
    FIRESTORE_EMULATOR_HOST: config.emulators.firestore,
    FIREBASE_AUTH_EMULATOR_HOST: config.emulators.auth,
    TASKS_EMULATOR_HOST: config.emulators.tasks,
  })
    .filter(([, value]) => !value)
    .map(([key]) => key);
  const log = createLogger({ level: config.logLevel });
  log.error(
    `${name} cannot reach Google Cloud: no credentials (${cause}). Run it on Google Cloud with a service account, set GOOGLE_APPLICATION_CREDENTIALS, or point ${unset.join(', ')} at the emulators.`,
  );
  const answer = new AppError('unavailable', 'This service is not configured to reach its dependencies yet; try again later.', {
    dependency: 'credentials',
  }).withHeader('Retry-After', '60');
  return wrap(
    async () => {
      throw answer;
    },
    edgeOptions(config, log),
  );
}
