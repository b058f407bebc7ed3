/**
 * Standalone entry: `npm run emulator:tasks`.
 *
 * Environment (all optional):
 * - TASKS_EMULATOR_HOST       interface, default 127.0.0.1
 * - TASKS_EMULATOR_PORT       gRPC port, default 8123 (0 = any free port)
 * - TASKS_EMULATOR_REST_PORT  REST port, default 8124 (0 = any free port)
 * - TASKS_EMULATOR_DATA       state file, default .data/cloud-tasks.json
 * - TASKS_DEDUP_WINDOW_MS     task-name reservation after deletion, default 3600000
 * - TASKS_QUEUES              comma-separated full queue names created at start
 * - TASKS_PRIVATE_TARGETS     comma-separated private function URLs: a task to one
 *                             needs an OIDC token whose audience is that URL
 */
import { parsePrivateTargets } from './private-targets.ts';
import { startCloudTasksServer, type CloudTasksServerOptions } from './server.ts';

/** Raised for a bad environment variable; names it and shows an example. */
export class OptionsError extends Error {}

function readPort(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new OptionsError(`${key}="${raw}" is not a port number; example: ${key}=${fallback}`);
  return port;
}

/** Server options from the environment (pure). */
export function parseOptions(env: NodeJS.ProcessEnv = process.env): CloudTasksServerOptions {
  const dedupRaw = env.TASKS_DEDUP_WINDOW_MS;
  const dedupWindowMs = dedupRaw ? Number(dedupRaw) : undefined;
  if (dedupWindowMs !== undefined && !(Number.isFinite(dedupWindowMs) && dedupWindowMs >= 0)) {
    throw new OptionsError(`TASKS_DEDUP_WINDOW_MS="${dedupRaw}" is not a number of milliseconds; example: TASKS_DEDUP_WINDOW_MS=3600000`);
  }
  const queues = (env.TASKS_QUEUES ?? '')
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean);
  for (const name of queues) {
    if (!/^projects\/[^/]+\/locations\/[^/]+\/queues\/[^/]+$/.test(name)) {
      throw new OptionsError(
        `TASKS_QUEUES entry "${name}" is not a full queue name; example: TASKS_QUEUES=projects/demo/locations/us-central1/queues/provision`,
      );
    }
  }
  let privateTargets: string[];
  try {
    privateTargets = parsePrivateTargets(env.TASKS_PRIVATE_TARGETS);
  } catch (error) {
    throw new OptionsError((error as Error).message);
  }
  return {
    privateTargets,
    host: env.TASKS_EMULATOR_HOST || '127.0.0.1',
    port: readPort(env, 'TASKS_EMULATOR_PORT', 8123),
    restPort: readPort(env, 'TASKS_EMULATOR_REST_PORT', 8124),
    dataFile: env.TASKS_EMULATOR_DATA || '.data/cloud-tasks.json',
    dedupWindowMs,
    queues: queues.map((name) => ({ name })),
  };
}

async function main(): Promise<void> {
  let options: CloudTasksServerOptions;
  try {
    options = parseOptions();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  const server = await startCloudTasksServer(options);
  const host = options.host;
  process.stdout.write(`Cloud Tasks emulator: grpc=${server.endpoint} rest=http://${host}:${server.restPort}/ data=${options.dataFile}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`Cloud Tasks emulator failed to close cleanly: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('emulators/cloud-tasks/main.ts')) {
  main().catch((error: unknown) => {
    process.stderr.write(`Cloud Tasks emulator failed to start: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
