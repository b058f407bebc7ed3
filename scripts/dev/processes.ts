import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';

/** A child process started in its own process group, so stopping it also stops what it started (gcloud → java). */
export interface Managed {
  name: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

const running = new Set<Managed>();
/** Whether this process kills its managed groups when it exits (set at the first start). */
let killOnExit = false;

/**
 * Output goes straight to `logPath` through a file descriptor, not through a
 * pipe we read: the test runner blocks in spawnSync while ava runs, and an
 * undrained pipe would stall an emulator as soon as its log filled the buffer.
 */
export function startManaged(name: string, command: string, args: string[], options: SpawnOptions & { logPath?: string } = {}): Managed {
  const out = options.logPath ? openSync(options.logPath, 'a') : 'ignore';
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', out, out] });
  if (typeof out === 'number') closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const managed: Managed = {
    name,
    child,
    async stop() {
      running.delete(managed);
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      killGroup(child, 'SIGKILL'); // grandchildren that ignored SIGTERM
    },
  };
  running.add(managed);
  // A process that ends without stopping them (an uncaught error in a bench or a test file) takes them with it:
  // left running, a PostgreSQL server held its port and memory until the machine restarted.
  if (!killOnExit) {
    killOnExit = true;
    process.on('exit', killAllNow);
  }
  return managed;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Stops every process started through startManaged, newest first. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].reverse().map((m) => m.stop()));
}

/** Kills every managed group synchronously; for `process.on('exit')`, where nothing can be awaited. */
export function killAllNow(): void {
  for (const m of running) killGroup(m.child, 'SIGKILL');
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether something already listens on host:port. */
export function isPortBusy(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}

/** Polls until `check` resolves true, or throws after `timeoutMs` naming what did not come up. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it was ready.`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s.`);
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}
