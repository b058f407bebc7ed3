import { readFileSync, createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import type { Deps } from '../../shared/deps.ts';
import { AppError } from '../../shared/errors.ts';
import { sendJson } from '../../shared/http/wrap.ts';
import { toNodeHandler } from '../../functions/start-function.ts';
import { functionHandlers } from '../../functions/registry.ts';
import { proxyTo } from './bundles.ts';
import { bufferLikeHosting } from './hosting-buffer.ts';

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
    headers: (hosting.headers ?? []).map((h) => ({
      regex: globToRegex(h.source),
      values: Object.fromEntries(h.headers.map((x) => [x.key, x.value])),
    })),
    redirects: (hosting.redirects ?? []).map((r) => ({ regex: globToRegex(r.source), to: r.destination, status: r.type ?? 301 })),
    rewrites: hosting.rewrites.map((r) => ({ regex: globToRegex(r.source), fn: r.function.functionId })),
  };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

export interface GatewayOptions {
  /** The Hosting origin: pages and rewrites (buffered, as Hosting does). */
  port: number;
  /** The functions' own origin, `/<name>/…` like `https://REGION-PROJECT.cloudfunctions.net/<name>/…` (streams); 0 picks a free port. */
  functionsPort?: number;
  host?: string;
  /** Run as deployed: each function's own process (`startBundles`), by name; the gateway forwards to them instead of calling in-process handlers. */
  backends?: Record<string, string>;
}

export interface Gateway {
  server: Server;
  port: number;
  /** The port of the functions' own origin. */
  functionsPort: number;
  close(): Promise<void>;
}

type NodeRequest = import('node:http').IncomingMessage;
type NodeResponse = import('node:http').ServerResponse;

/**
 * The local stand-in for production's two ways in, on two ports of one process:
 * - Hosting: static files from the hosting folder and rewrites to functions
 *   exactly as firebase.json says, each rewritten answer buffered whole as
 *   Hosting buffers it (hosting-buffer.ts); `/__fn/<name>/…` also reaches a
 *   function directly, unbuffered, the way Cloud Tasks reaches its URL;
 * - the functions' own URLs: `/<name>/…` on `functionsPort`, unbuffered, with
 *   CORS from the functions themselves — where clients open their streams.
 */
export async function startGateway(deps: Deps, options: GatewayOptions): Promise<Gateway> {
  const hosting = loadHosting();
  const handlers = new Map(Object.entries(functionHandlers).map(([name, make]) => [name, toNodeHandler(make(deps), deps)]));
  const inFlight = new Set<Promise<unknown>>();
  const track = (handle: (req: NodeRequest, res: NodeResponse) => Promise<void>) => (req: NodeRequest, res: NodeResponse) => {
    // Like the Google front end: append the peer address for the functions to read.
    const peer = req.socket.remoteAddress ?? '';
    req.headers['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${peer}` : peer;
    const handling = handle(req, res).finally(() => inFlight.delete(handling));
    inFlight.add(handling);
  };
  const server = createServer(track(handleHosting));
  const functionsServer = createServer(track(handleFunction));

  async function dispatch(fn: string, req: NodeRequest, res: NodeResponse) {
    const backend = options.backends?.[fn];
    if (backend) return proxyTo(backend, req, res);
    const handler = options.backends ? undefined : handlers.get(fn);
    if (handler) return handler(req, res);
    const error = fn
      ? new AppError('unavailable', `The ${fn} function is not part of this build.`)
      : new AppError('not_found', `Name a function first: /<name>/…, one of ${[...handlers.keys()].join(', ')}.`);
    sendJson(res, error.status, error.toBody());
  }

  async function handleFunction(req: NodeRequest, res: NodeResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // As on cloudfunctions.net, the function's name leads the path and the function sees the rest.
    const match = /^\/([\w-]+)(\/.*)?$/.exec(url.pathname);
    if (!match) return dispatch('', req, res);
    req.url = (match[2] ?? '/') + url.search;
    return dispatch(match[1], req, res);
  }

  async function handleHosting(req: NodeRequest, res: NodeResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const direct = /^\/__fn\/([\w-]+)(\/.*)?$/.exec(url.pathname);
    if (direct) {
      req.url = (direct[2] ?? '/') + url.search;
      return dispatch(direct[1], req, res);
    }
    // Hosting applies redirects before rewrites and keeps the query string.
    const redirect = hosting.redirects.find((r) => r.regex.test(url.pathname));
    if (redirect) return void res.writeHead(redirect.status, { Location: redirect.to + url.search }).end();
    const rewrite = hosting.rewrites.find((r) => r.regex.test(url.pathname));
    // Hosting's custom headers (the page policy among them) go on what it serves from its folder.
    const headers = Object.assign({}, ...hosting.headers.filter((h) => h.regex.test(url.pathname)).map((h) => h.values));
    if (rewrite && !serveStatic(hosting.publicDir, url.pathname, res, headers)) {
      bufferLikeHosting(res);
      return dispatch(rewrite.fn, req, res);
    }
    if (!rewrite && !serveStatic(hosting.publicDir, url.pathname, res, headers)) {
      res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' }).end('<h1>404</h1><p>Nothing here. <a href="/">Home</a></p>');
    }
  }

  const listen = (target: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      target.keepAliveTimeout = 65_000;
      target.once('error', reject);
      target.listen(port, options.host ?? '127.0.0.1', () => resolve((target.address() as AddressInfo).port));
    });
  const port = await listen(server, options.port);
  const functionsPort = await listen(functionsServer, options.functionsPort ?? 0).catch(async (err) => {
    await new Promise((r) => server.close(r));
    throw err;
  });
  return {
    server,
    port,
    functionsPort,
    /** Stops accepting, ends open connections (SSE included), then waits for handlers still running, so clients can close after. */
    async close() {
      const closed = [server, functionsServer].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      server.closeAllConnections();
      functionsServer.closeAllConnections();
      await Promise.all(closed);
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
  // A NUL byte is no file name (statSync would throw it); a missing file answers undefined rather than an exception,
  // since every rewritten call (each API request) asks first.
  if (!path.startsWith(dir) || path.includes('\0')) return false;
  let stat = statSync(path, { throwIfNoEntry: false });
  if (stat?.isDirectory()) {
    path = join(path, 'index.html');
    stat = statSync(path, { throwIfNoEntry: false });
  }
  if (!stat?.isFile()) return false;
  try {
    res.writeHead(200, {
      ...headers,
      'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      'Cache-Control': 'no-cache',
    });
    createReadStream(path).pipe(res);
    return true;
  } catch {
    return false;
  }
}
