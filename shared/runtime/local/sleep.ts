/**
 * Sleep and wake of local environments, as Cloud Run scales to zero and Fly
 * machines autostop and autostart: an environment that may sleep runs behind
 * a front, a TCP listener in the driver's process on the environment's public
 * port, while its workload binds an inner port. The front pipes each
 * connection to the workload; once none was open for the idle time, it has
 * the driver stop the process (the environment sleeps, still `running` to the
 * API). The next connection is held while the driver starts the process and
 * waits for its health check, then piped like any other; concurrent ones
 * share that one start. A wake that fails answers a 503 page.
 *
 * Why the front keeps proxying instead of handing the port back to the woken
 * process: a port can have only one listener, so a hand-back leaves a gap of
 * the workload's start-up time in which new connections are refused; and the
 * front sees every connection, so idleness is known exactly for any workload,
 * with no probe of its own. The cost is one loopback hop per connection in the
 * driver's process, and such an environment is reachable only while a driver
 * on its dataDir runs (as with Cloud Run's and Fly's own proxies). Tenants
 * stay apart: the front runs as the control plane, and the workloads' firewall
 * chain (network.ts) refuses them every local address, inner ports included.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';

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
  /** Holds `port` for the environment and pipes its connections; false when another program holds the port (reported). */
  open(key: string, host: string, port: number, idleMs: number): Promise<boolean>;
  /** The workload now serves `port` (after a start); `undefined`: ask `route` on the next connection. */
  setTarget(key: string, port: number | undefined): void;
  has(key: string): boolean;
  /** Stops listening and ends the environment's connections. */
  close(key: string): Promise<void>;
  closeAll(): Promise<void>;
}

interface Front {
  server: Server;
  host: string;
  idleMs: number;
  target?: number;
  /** A sleep in progress; connections wait for it, then wake the environment. */
  op?: Promise<unknown>;
  /** A wake (or a look-up of the workload's port) in progress, shared by every connection that needs it, failure included. */
  waking?: Promise<Route>;
  open: Set<Socket>;
  lastActivity: number;
}

const PAUSED = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Paused</title></head>
<body><h1>This environment is paused</h1><p>Its owner suspended it; its data is kept. It answers again as soon as it is resumed.</p></body></html>`;
const WAKE_FAILED = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Starting failed</title></head>
<body><h1>This environment could not start</h1><p>It was asleep and did not come up; try again in a moment. Its owner finds the reason in its logs.</p></body></html>`;

/** Answers a raw connection with a small HTTP page and closes it; the request is read and dropped so the close is clean. */
function answer(socket: Socket, status: 503, body: string, retryAfter: number): void {
  socket.on('error', () => {});
  socket.resume();
  socket.end(
    `HTTP/1.1 ${status} Service Unavailable\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Retry-After: ${retryAfter}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** A port the OS hands out for the workload behind the front, outside the environments' range. */
export async function pickInnerPort(host: string, avoid: { from: number; to: number }): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.unref();
      probe.once('error', reject);
      probe.listen(0, host, () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port && (port < avoid.from || port > avoid.to)) return port;
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

  async function handle(key: string, front: Front, socket: Socket): Promise<void> {
    front.open.add(socket);
    front.lastActivity = Date.now();
    socket.once('close', () => {
      front.open.delete(socket);
      front.lastActivity = Date.now();
    });
    socket.on('error', () => socket.destroy());
    for (let attempt = 0; attempt < 2; attempt++) {
      let route: Route;
      try {
        route = await resolve(key, front);
      } catch (error) {
        await handlers.report(key, `wake failed, answered 503: ${(error as Error).message}`);
        if (!socket.destroyed) answer(socket, 503, WAKE_FAILED, 5);
        return;
      }
      if (socket.destroyed) return;
      if (route.kind === 'paused') return answer(socket, 503, PAUSED, 60);
      if (route.kind === 'gone') {
        socket.destroy();
        if (fronts.get(key) === front) await close(key);
        return;
      }
      const upstream = await new Promise<Socket | undefined>((done) => {
        const s = connect(route.port, front.host);
        s.once('connect', () => done(s));
        s.once('error', () => done(undefined));
      });
      if (!upstream) {
        // Another process may have restarted, suspended or destroyed it: ask again once.
        if (front.target === route.port) front.target = undefined;
        continue;
      }
      if (socket.destroyed) return void upstream.destroy();
      upstream.on('error', () => socket.destroy());
      upstream.once('close', () => socket.destroy());
      socket.once('close', () => upstream.destroy());
      socket.pipe(upstream);
      upstream.pipe(socket);
      return;
    }
    await handlers.report(key, `its workload refused the connection twice; answered 503`);
    answer(socket, 503, WAKE_FAILED, 5);
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
      const front: Front = { server: createServer(), host, idleMs, open: new Set(), lastActivity: Date.now() };
      front.server.on('connection', (socket) => {
        // A visitor's open connection does not keep the control plane's process alive.
        socket.unref();
        void handle(key, front, socket);
      });
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
    close,
    async closeAll() {
      await Promise.all([...fronts.keys()].map(close));
    },
  };
}
