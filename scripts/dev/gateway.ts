import { readFileSync, createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import type { Deps } from '../../shared/deps.ts';
import { AppError } from '../../shared/errors.ts';
import { sendJson } from '../../shared/http/wrap.ts';
import { toNodeHandler } from '../../functions/start-function.ts';
import { functionHandlers } from '../../functions/registry.ts';

const root = resolve(import.meta.dirname, '../..');

interface Rewrite {
  source: string;
  function: { functionId: string };
}

/** Hosting's glob: `**` any path, `*` one segment. */
function globToRegex(glob: string): RegExp {
  const pattern = glob
    .split(/(\/\*\*$|\*\*|\*)/)
    .map((part) => {
      if (part === '/**') return '(?:/.*)?';
      if (part === '**') return '.*';
      if (part === '*') return '[^/]*';
      return part.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${pattern}$`);
}

/** Reads firebase.json: the single source of the path → function map and the static folder. */
export function loadHosting(file = join(root, 'firebase.json')) {
  const hosting = JSON.parse(readFileSync(file, 'utf8')).hosting as {
    public: string;
    rewrites: Rewrite[];
    redirects?: Array<{ source: string; destination: string; type?: number }>;
    headers?: Array<{ source: string; headers: Array<{ key: string; value: string }> }>;
  };
  return {
    publicDir: join(root, hosting.public),
    headers: (hosting.headers ?? []).map((h) => ({ regex: globToRegex(h.source), values: Object.fromEntries(h.headers.map((x) => [x.key, x.value])) })),
    redirects: (hosting.redirects ?? []).map((r) => ({ regex: globToRegex(r.source), to: r.destination, status: r.type ?? 301 })),
    rewrites: hosting.rewrites.map((r) => ({ regex: globToRegex(r.source), fn: r.function.functionId })),
  };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.map': 'application/json',
};

/**
 * The local stand-in for Firebase Hosting: static files from the hosting folder,
 * rewrites to functions exactly as firebase.json says, and `/__fn/<name>/…` to
 * reach a function directly the way Cloud Tasks reaches its URL in production.
 */
export async function startGateway(deps: Deps, options: { port: number; host?: string }): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const hosting = loadHosting();
  const handlers = new Map(Object.entries(functionHandlers).map(([name, make]) => [name, toNodeHandler(make(deps), deps)]));
  const inFlight = new Set<Promise<unknown>>();
  const server = createServer((req, res) => {
    const handling = handle(req, res).finally(() => inFlight.delete(handling));
    inFlight.add(handling);
  });
  async function handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Like the Google front end: append the peer address for the functions to read.
    const peer = req.socket.remoteAddress ?? '';
    req.headers['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${peer}` : peer;
    const direct = /^\/__fn\/([\w-]+)(\/.*)?$/.exec(url.pathname);
    if (direct) {
      req.url = (direct[2] ?? '/') + url.search;
      return dispatch(direct[1]);
    }
    // Hosting applies redirects before rewrites and keeps the query string.
    const redirect = hosting.redirects.find((r) => r.regex.test(url.pathname));
    if (redirect) return void res.writeHead(redirect.status, { Location: redirect.to + url.search }).end();
    const rewrite = hosting.rewrites.find((r) => r.regex.test(url.pathname));
    // Hosting's custom headers (the page policy among them) go on what it serves from its folder.
    const headers = Object.assign({}, ...hosting.headers.filter((h) => h.regex.test(url.pathname)).map((h) => h.values));
    if (rewrite && !serveStatic(hosting.publicDir, url.pathname, res, headers)) return dispatch(rewrite.fn);
    if (!rewrite && !serveStatic(hosting.publicDir, url.pathname, res, headers)) {
      res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' }).end('<h1>404</h1><p>Nothing here. <a href="/">Home</a></p>');
    }

    async function dispatch(fn: string) {
      const handler = handlers.get(fn);
      if (handler) return handler(req, res);
      const error = new AppError('unavailable', `The ${fn} function is not part of this build.`);
      sendJson(res, error.status, error.toBody());
    }
  }
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    /** Stops accepting, ends open connections (SSE included), then waits for handlers still running, so clients can close after. */
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 15_000).unref())]);
    },
  };
}

/** Serves a file from the hosting folder with firebase.json's headers; like hosting, an existing file wins over a rewrite. */
function serveStatic(dir: string, pathname: string, res: import('node:http').ServerResponse, headers: Record<string, string>): boolean {
  let path: string;
  try {
    path = normalize(join(dir, decodeURIComponent(pathname)));
  } catch {
    return false;
  }
  if (!path.startsWith(dir)) return false;
  try {
    if (statSync(path).isDirectory()) path = join(path, 'index.html');
    const stat = statSync(path);
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream', 'Content-Length': stat.size, 'Cache-Control': 'no-cache' });
    createReadStream(path).pipe(res);
    return true;
  } catch {
    return false;
  }
}
