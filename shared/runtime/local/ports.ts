/** Port helpers for the local runtime: is a port free, which one to hand out next, and when a process starts listening. */
import { connect, createServer } from 'node:net';

/** True when nothing listens on `host:port` (checked by binding it for a moment). */
export function isPortFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export interface PortChoice {
  port?: number;
  /** Ports of the range skipped because another program listens on them. */
  busy: number[];
}

/**
 * The first port of `range` not in `reserved` and actually free on `host`.
 * Returns no port when the range is exhausted; the caller words the error.
 */
export async function findFreePort(range: { from: number; to: number }, reserved: Set<number>, host: string): Promise<PortChoice> {
  const busy: number[] = [];
  for (let port = range.from; port <= range.to; port += 1) {
    if (reserved.has(port)) continue;
    if (await isPortFree(port, host)) return { port, busy };
    busy.push(port);
  }
  return { busy };
}

/** True when `host:port` accepts a TCP connection now (closed at once). */
function accepts(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** How many waitForListener calls of this process are watching a port now. */
let watching = 0;

/**
 * Resolves once `host:port` accepts a connection, `gone()` says the process
 * that should listen there exited, or `withinMs` passed, whichever is first.
 * A refused connect on loopback costs about a quarter of a millisecond of CPU:
 * one watcher tries every 5 ms, so a process that starts in ~100 ms is seen
 * within a few ms of listening; many at once (a burst of launches) share about
 * 400 tries a second between them, so watching never starves the processes
 * it waits for.
 */
export async function waitForListener(port: number, host: string, withinMs: number, gone: () => boolean): Promise<void> {
  const deadline = Date.now() + withinMs;
  watching += 1;
  try {
    while (Date.now() < deadline && !gone()) {
      if (await accepts(port, host)) return;
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, watching * 2.5)));
    }
  } finally {
    watching -= 1;
  }
}
