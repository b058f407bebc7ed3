/**
 * What a suspended local environment answers: its URL stays, and instead of
 * "connection refused" a visitor gets a 503 page saying it is paused, as a
 * scaled-to-zero service behind a load balancer would. The control plane holds
 * the port while the environment sleeps and lets go of it before the workload
 * starts again.
 */
import { createServer, type Server } from 'node:http';

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Paused</title><style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1e293b}</style></head>
<body><h1>This environment is paused</h1><p>Its owner suspended it; its data is kept. It answers again as soon as it is resumed.</p></body></html>`;

export interface PausedPages {
  /** Answers the port with the paused page; a port someone else holds is left alone (and reported). */
  open(key: string, host: string, port: number): Promise<void>;
  /** Frees the port, waiting until it is closed. */
  close(key: string): Promise<void>;
  closeAll(): Promise<void>;
}

/**
 * Builds the paused pages of the local driver. `report` is told when a port
 * cannot be held (someone else took it), so the driver can log it into that
 * environment's system log instead of failing the suspend.
 */
export function createPausedPages(report: (key: string, message: string) => Promise<void> = async () => {}): PausedPages {
  const servers = new Map<string, Server>();
  async function close(key: string) {
    const server = servers.get(key);
    if (!server) return;
    servers.delete(key);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return {
    async open(key, host, port) {
      if (servers.has(key)) return;
      const server = createServer((req, res) => {
        const body = req.headers.accept?.includes('application/json') ? JSON.stringify({ status: 'paused' }) : PAGE;
        res.writeHead(503, {
          'Content-Type': body === PAGE ? 'text/html; charset=utf-8' : 'application/json',
          'Retry-After': '60',
          'Cache-Control': 'no-store',
        });
        res.end(body);
      });
      server.keepAliveTimeout = 1000;
      // Neither the page nor a visitor's open connection keeps the control plane's process alive.
      server.on('connection', (socket) => socket.unref());
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, () => resolve());
        });
        server.unref();
        servers.set(key, server);
      } catch (error) {
        await report(key, `could not show the paused page on port ${port}: ${(error as Error).message}`);
      }
    },
    close,
    async closeAll() {
      await Promise.all([...servers.keys()].map(close));
    },
  };
}
