/**
 * The front of a local environment: an HTTP proxy in the driver's process on
 * the environment's public port, while its workload binds an inner port. It
 * serves two ends.
 *
 * Sleep and wake, as Cloud Run scales to zero and Fly machines autostop and
 * autostart: once no connection was open for the idle time, the front has the
 * driver stop the process (the environment sleeps, still `running` to the
 * API). The next request is held while the driver starts the process and
 * waits for its health check, then forwarded like any other; concurrent ones
 * share that one start. A wake that fails answers a 503 page.
 *
 * Updates without downtime: the driver starts the new version beside the old
 * on another inner port, waits for its health, then moves the front's target
 * (`setTarget`); every request from then on goes to the new version, while
 * the ones already forwarded to the old finish there (`drain` waits for them),
 * and only then is the old process stopped. The front works per request, not
 * per connection, so a client's keep-alive connection survives the switch:
 * it is held by the front, never by a workload, and no request is cut or
 * refused. The front opens one upstream connection per request (loopback,
 * `Connection: close`), so it never reuses a connection the workload may be
 * closing at that moment; a request whose upstream connection is refused
 * (another process sharing the dataDir restarted the workload) has not sent
 * a byte yet and is routed again once. An `Upgrade` request (WebSocket) is
 * piped as raw bytes once routed, and counts as in flight until it closes.
 *
 * Why the front keeps proxying instead of handing the port back to the
 * workload: a port can have only one listener, so a hand-back leaves a gap in
 * which new connections are refused; and the front sees every request, so
 * idleness is known exactly for any workload, with no probe of its own. The
 * cost is one loopback hop per request in the driver's process, and an
 * environment is reachable only while a driver on its dataDir runs (as with
 * Cloud Run's and Fly's own proxies). Tenants stay apart: the front runs as
 * the control plane, and the workloads' firewall chain (network.ts) refuses
 * them every local address, inner ports included.
 */
import { createServer as createHttpServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';

/** Where a connection goes, as the driver decides under the environment's lock. */
export type Route =
  | { kind: 'forward'; port: number }
  /** Suspended (by another process sharing the dataDir): the paused page. */
  | { kind: 'paused' }
  /** Destroyed or never deployed: the front closes. */
  | { kind: 'gone' };

export interface FrontHandlers {
  /** Where the workload serves now; starts it (wakes it) when it sleeps. Throws when it cannot. */
  route(key: string): Promise<Route>;
  /** Stops the workload for idleness unless `stillIdle()` turns false once its lock is held; false when it did not sleep. */
  sleep(key: string, stillIdle: () => boolean): Promise<boolean>;
  /** Writes a line to the environment's system log. */
  report(key: string, message: string): Promise<void>;
}

export interface Fronts {
  /** Holds `port` for the environment and forwards its requests; false when another program holds the port (reported). */
  open(key: string, host: string, port: number, idleMs: number): Promise<boolean>;
  /** The workload now serves `port` (after a start or an update); `undefined`: ask `route` on the next request. */
  setTarget(key: string, port: number | undefined): void;
  has(key: string): boolean;
  /**
   * Waits until no request forwarded to `port` is in progress, at most `timeoutMs`;
   * answers how many were still in progress (0: drained).
   */
  drain(key: string, port: number, timeoutMs: number): Promise<number>;
  /** Stops listening and ends the environment's connections. */
  close(key: string): Promise<void>;
  closeAll(): Promise<void>;
}

interface Front {
  server: Server;
  host: string;
  idleMs: number;
  target?: number;
  /** A sleep in progress; requests wait for it, then wake the environment. */
  op?: Promise<unknown>;
  /** A wake (or a look-up of the workload's port) in progress, shared by every request that needs it, failure included. */
  waking?: Promise<Route>;
  /** Visitors' connections to the front. */
  open: Set<Socket>;
  /** Requests (and upgraded connections) in progress, per inner port they were forwarded to. */
  inflight: Map<number, number>;
  lastActivity: number;
}

const PAUSED = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Paused</title></head>
<body><h1>This environment is paused</h1><p>Its owner suspended it; its data is kept. It answers again as soon as it is resumed.</p></body></html>`;
const WAKE_FAILED = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Starting failed</title></head>
<body><h1>This environment could not start</h1><p>It did not come up; try again in a moment. Its owner finds the reason in its logs.</p></body></html>`;
const BAD_GATEWAY = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No answer</title></head>
<body><h1>This environment did not answer</h1><p>Its workload closed the connection before answering; try again in a moment.</p></body></html>`;

/** Headers of one hop only (RFC 9110 §7.6.1), never forwarded; `expect` is answered by the front itself. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);

function endToEnd(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase()),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Answers with a small HTML page. */
function page(res: ServerResponse, status: 502 | 503, body: string, retryAfter: number): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Retry-After': String(retryAfter),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

/** Answers a raw (upgrade) connection with a small HTTP page and closes it. */
function answerRaw(socket: Socket, body: string): void {
  socket.end(
    `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Retry-After: 5\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Inner ports handed out lately, and when each may be handed out again. */
const handedOut = new Map<number, number>();
/** Long enough for a workload to start and bind its port, however many start at once (a held one waits for its deploy). */
const HANDED_OUT_MS = 10 * 60_000;

/**
 * A port the OS hands out for the workload behind the front, outside the
 * environments' range. The OS may hand the same free port out again before the
 * first workload binds it (a burst of launches picked the same one twice, and
 * the second workload exited with EADDRINUSE), so a port stays taken here
 * until its workload has had time to bind it.
 */
export async function pickInnerPort(host: string, avoid: { from: number; to: number }): Promise<number> {
  const now = Date.now();
  for (const [port, until] of handedOut) if (until <= now) handedOut.delete(port);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.unref();
      probe.once('error', reject);
      probe.listen(0, host, () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port && (port < avoid.from || port > avoid.to) && !handedOut.has(port)) {
      handedOut.set(port, now + HANDED_OUT_MS);
      return port;
    }
  }
  throw new Error(`no free port outside ${avoid.from}–${avoid.to} on ${host} for a workload behind its front`);
}

/**
 * Creates the fronts of one driver and the timer that puts idle environments
 * to sleep; `handlers` reach back into the driver, which holds the locks.
 */
export function createFronts(handlers: FrontHandlers): Fronts {
  const fronts = new Map<string, Front>();
  let timer: NodeJS.Timeout | undefined;
  let period = 0;

  /** Checks often enough for the shortest idle time among the fronts: a tenth of it, between 50 ms and 5 s. */
  function schedule(): void {
    const idle = [...fronts.values()].map((f) => f.idleMs).filter((ms) => ms > 0);
    const next = idle.length === 0 ? 0 : Math.max(50, Math.min(5_000, Math.floor(Math.min(...idle) / 10)));
    if (next === period) return;
    if (timer) clearInterval(timer);
    timer = undefined;
    period = next;
    if (next) {
      timer = setInterval(checkIdle, next);
      timer.unref();
    }
  }

  function checkIdle(): void {
    const now = Date.now();
    for (const [key, front] of fronts) {
      if (
        front.idleMs <= 0 ||
        front.op ||
        front.waking ||
        front.target === undefined ||
        front.open.size > 0 ||
        now - front.lastActivity < front.idleMs
      )
        continue;
      const stillIdle = () => fronts.get(key) === front && front.open.size === 0 && Date.now() - front.lastActivity >= front.idleMs;
      const op: Promise<unknown> = handlers
        .sleep(key, stillIdle)
        .then(
          (slept) => {
            if (slept && fronts.get(key) === front) front.target = undefined;
          },
          (error) => handlers.report(key, `could not put to sleep: ${(error as Error).message}`),
        )
        .finally(() => {
          if (front.op === op) front.op = undefined;
        });
      front.op = op;
    }
  }

  /** The workload's port: the known one, else the driver's answer (a wake when it sleeps), shared by concurrent callers. */
  async function resolve(key: string, front: Front): Promise<Route> {
    while (front.op) await front.op.catch(() => {});
    if (front.target !== undefined) return { kind: 'forward', port: front.target };
    front.waking ??= handlers
      .route(key)
      .then((route) => {
        if (route.kind === 'forward') front.target = route.port;
        return route;
      })
      .finally(() => {
        front.waking = undefined;
      });
    return front.waking;
  }

  /** Counts a request (or upgraded connection) forwarded to `port`; the returned function ends it, once. */
  function track(front: Front, port: number): () => void {
    front.inflight.set(port, (front.inflight.get(port) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (front.inflight.get(port) ?? 1) - 1;
      if (left > 0) front.inflight.set(port, left);
      else front.inflight.delete(port);
      front.lastActivity = Date.now();
    };
  }

  /**
   * Forwards one request to `port`. `refused`: the connection to the workload
   * failed before a byte of the request was read from the visitor, so it may
   * be routed again.
   */
  function forward(front: Front, port: number, req: IncomingMessage, res: ServerResponse): Promise<'refused' | 'done'> {
    return new Promise((resolve) => {
      const end = track(front, port);
      let connected = false;
      const upstream = request({
        host: front.host,
        port,
        method: req.method,
        path: req.url,
        headers: endToEnd(req.headers),
        agent: false,
        setHost: false,
      });
      upstream.once('socket', (socket) => {
        const start = () => {
          connected = true;
          req.pipe(upstream);
        };
        if (socket.connecting) socket.once('connect', start);
        else start();
      });
      upstream.once('response', (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
        // Streams (SSE) reach the visitor as the workload writes them.
        res.flushHeaders();
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      });
      upstream.on('error', () => {
        if (!connected) {
          end();
          return resolve('refused');
        }
        page(res, 502, BAD_GATEWAY, 1);
        end();
        resolve('done');
      });
      res.once('close', () => {
        upstream.destroy();
        end();
        resolve('done');
      });
    });
  }

  async function handleRequest(key: string, front: Front, req: IncomingMessage, res: ServerResponse): Promise<void> {
    front.lastActivity = Date.now();
    for (let attempt = 0; attempt < 2; attempt++) {
      let route: Route;
      try {
        route = await resolve(key, front);
      } catch (error) {
        await handlers.report(key, `wake failed, answered 503: ${(error as Error).message}`);
        return page(res, 503, WAKE_FAILED, 5);
      }
      if (res.destroyed) return;
      if (route.kind === 'paused') return page(res, 503, PAUSED, 60);
      if (route.kind === 'gone') {
        req.socket.destroy();
        if (fronts.get(key) === front) await close(key);
        return;
      }
      if ((await forward(front, route.port, req, res)) === 'done') return;
      // Another process may have restarted, suspended or destroyed it: ask again once.
      if (front.target === route.port) front.target = undefined;
    }
    await handlers.report(key, `its workload refused the connection twice; answered 503`);
    page(res, 503, WAKE_FAILED, 5);
  }

  /** An `Upgrade` request (WebSocket): once routed, the visitor's connection is piped to the workload as raw bytes. */
  async function handleUpgrade(key: string, front: Front, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    front.lastActivity = Date.now();
    socket.on('error', () => socket.destroy());
    for (let attempt = 0; attempt < 2; attempt++) {
      let route: Route;
      try {
        route = await resolve(key, front);
      } catch (error) {
        await handlers.report(key, `wake failed, answered 503: ${(error as Error).message}`);
        return answerRaw(socket, WAKE_FAILED);
      }
      if (socket.destroyed) return;
      if (route.kind === 'paused') return answerRaw(socket, PAUSED);
      if (route.kind === 'gone') return void socket.destroy();
      const port = route.port;
      const upstream = await new Promise<Socket | undefined>((done) => {
        const s = connect(port, front.host);
        s.once('connect', () => done(s));
        s.once('error', () => done(undefined));
      });
      if (!upstream) {
        if (front.target === port) front.target = undefined;
        continue;
      }
      if (socket.destroyed) return void upstream.destroy();
      const end = track(front, port);
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.on('error', () => socket.destroy());
      upstream.once('close', () => socket.destroy());
      socket.once('close', () => {
        upstream.destroy();
        end();
      });
      socket.pipe(upstream);
      upstream.pipe(socket);
      return;
    }
    answerRaw(socket, WAKE_FAILED);
  }

  async function close(key: string): Promise<void> {
    const front = fronts.get(key);
    if (!front) return;
    fronts.delete(key);
    schedule();
    for (const socket of front.open) socket.destroy();
    await new Promise<void>((done) => front.server.close(() => done()));
  }

  return {
    async open(key, host, port, idleMs) {
      const existing = fronts.get(key);
      if (existing) {
        existing.idleMs = idleMs;
        schedule();
        return true;
      }
      const front: Front = {
        server: createHttpServer(),
        host,
        idleMs,
        open: new Set(),
        inflight: new Map(),
        lastActivity: Date.now(),
      };
      front.server.on('connection', (socket: Socket) => {
        // A visitor's open connection does not keep the control plane's process alive.
        socket.unref();
        front.open.add(socket);
        front.lastActivity = Date.now();
        socket.once('close', () => {
          front.open.delete(socket);
          front.lastActivity = Date.now();
        });
      });
      front.server.on('request', (req, res) => void handleRequest(key, front, req, res));
      front.server.on('upgrade', (req, socket, head) => void handleUpgrade(key, front, req, socket as Socket, head));
      try {
        await new Promise<void>((done, fail) => {
          front.server.once('error', fail);
          front.server.listen(port, host, () => done());
        });
      } catch (error) {
        const busy =
          (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
            ? ' (another control-plane process sharing the data folder may hold it)'
            : '';
        await handlers.report(key, `could not hold port ${port} for sleep and wake: ${(error as Error).message}${busy}`);
        return false;
      }
      front.server.unref();
      fronts.set(key, front);
      schedule();
      return true;
    },
    setTarget(key, port) {
      const front = fronts.get(key);
      if (!front) return;
      front.target = port;
      front.lastActivity = Date.now();
    },
    has: (key) => fronts.has(key),
    async drain(key, port, timeoutMs) {
      const front = fronts.get(key);
      if (!front) return 0;
      const deadline = Date.now() + timeoutMs;
      while ((front.inflight.get(port) ?? 0) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return front.inflight.get(port) ?? 0;
    },
    close,
    async closeAll() {
      await Promise.all([...fronts.keys()].map(close));
    },
  };
}
