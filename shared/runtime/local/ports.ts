/** Port helpers for the local runtime: is a port free, and which one to hand out next. */
import { createServer } from 'node:net';

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
