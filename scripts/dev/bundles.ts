/**
 * The functions as deployed: each from its esbuild bundle (`npm run build`,
 * dist/functions/<name>/) in its own process under functions-framework, on
 * its own port, as Cloud Run starts them. Nothing is shared between them but
 * what production shares: Firestore, Auth, Cloud Tasks, the data folder of
 * the local runtime (where production has the cloud runtime's API).
 */
import { spawnSync } from 'node:child_process';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { functionNames } from '../../functions/registry.ts';
import { freePort, startManaged, waitFor, type Managed } from './processes.ts';

const root = resolve(import.meta.dirname, '../..');
/** functions-framework's own entry, as Cloud Run's buildpack starts it. */
export const FRAMEWORK = join(root, 'node_modules/@google-cloud/functions-framework/build/src/main.js');

export interface Bundles {
  /** Each function's base URL, e.g. `{ api: 'http://127.0.0.1:40123' }`. */
  urls: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Builds the bundles (`scripts/build.ts`), then starts one functions-framework
 * process per function with `env` as its whole environment (Cloud Run passes
 * only what the deploy set), logging to `<logDir>/fn-<name>.log`. Resolves
 * once every function answers.
 */
export async function startBundles(options: {
  env: Record<string, string | undefined>;
  logDir: string;
  build?: boolean;
  /** Variables for one function only, over `env` (e.g. a TMPDIR of its own, as each Cloud Run instance has its own disk). */
  envOf?: Record<string, Record<string, string>>;
}): Promise<Bundles> {
  const names = functionNames;
  if (options.build !== false) {
    const built = spawnSync(process.execPath, ['--import=tsx', join(root, 'scripts/build.ts'), ...names], { cwd: root, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`npm run build failed:\n${built.stderr || built.stdout}`);
  }
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...options.env };
  const started: Managed[] = [];
  const urls: Record<string, string> = {};
  try {
    await Promise.all(
      names.map(async (name) => {
        const port = await freePort();
        const fn = startManaged(
          `function ${name}`,
          process.execPath,
          [FRAMEWORK, `--target=${name}`, `--source=${join(root, 'dist/functions', name)}`, `--port=${port}`],
          {
            cwd: root,
            env: { ...env, ...options.envOf?.[name], K_SERVICE: name, PORT: String(port) },
            logPath: join(options.logDir, `fn-${name}.log`),
          },
        );
        started.push(fn);
        urls[name] = `http://127.0.0.1:${port}`;
        // Any answer from our edge (it sets X-Request-Id) means the function is serving.
        await waitFor(
          `the ${name} bundle`,
          async () => (await fetch(`${urls[name]}/__ready`)).headers.has('x-request-id'),
          60_000,
          fn.child,
        );
      }),
    );
  } catch (err) {
    await Promise.all(started.map((m) => m.stop()));
    throw err;
  }
  return { urls, close: async () => void (await Promise.all(started.map((m) => m.stop()))) };
}

/** Forwards a request to a function's process and its answer back, as Cloud Run's front end does. */
export function proxyTo(base: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((done) => {
    const target = new URL(req.url ?? '/', base);
    const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      answer.on('end', () => done());
      answer.on('error', () => done());
    });
    upstream.on('error', (err) => {
      if (!res.headersSent)
        res
          .writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '5' })
          .end(JSON.stringify({ error: { code: 'unavailable', message: `The function did not answer: ${err.message}` } }));
      else res.destroy();
      done();
    });
    // A caller who leaves (a closed stream) ends the call to the function too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
}
