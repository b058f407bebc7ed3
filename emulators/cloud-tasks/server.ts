/**
 * The local Cloud Tasks server: `google.cloud.tasks.v2.CloudTasks` over gRPC
 * (and optionally REST) with real HTTP dispatch, retries, rate limits and a
 * persisted state file. See README.md for what it does not model.
 */
import type { Server as HttpServer } from 'node:http';
import { TasksApi } from './api.ts';
import { Dispatcher, type DispatchLogLine } from './dispatcher.ts';
import { startGrpcServer, stopGrpcServer } from './grpc-service.ts';
import { DEFAULT_DEDUP_WINDOW_MS, checkQueueName, locationOf } from './model.ts';
import type { QueueInput } from './queue-settings.ts';
import { startRestServer } from './rest-server.ts';
import { openStore } from './store.ts';

/** A queue to create at start when missing: its full name plus optional settings (API shape). */
export type QueueDeclaration = QueueInput & { name: string };

/** Options for {@link startCloudTasksServer}. */
export interface CloudTasksServerOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** gRPC port; 0 or omitted = a free port. */
  port?: number;
  /** REST port; 0 = a free port; omitted = no REST surface. */
  restPort?: number;
  /** JSON file holding queues, tasks and reserved names; omitted = memory only. */
  dataFile?: string;
  /** How long a deleted or executed named task's name stays reserved; default 1 h as in production. */
  dedupWindowMs?: number;
  /** Queues created at start if they do not exist yet. */
  queues?: QueueDeclaration[];
  /** Receives one line per dispatch attempt; default: JSON lines on stderr. */
  log?: (line: object) => void;
  /**
   * Private functions' URLs: a task to one of them is refused as Cloud Run
   * refuses it (403 without an OIDC token, 401 when its audience is not that
   * URL) and retried, never delivered. Default none (every target public).
   */
  privateTargets?: string[];
}

/** A running server. */
export interface CloudTasksServer {
  grpcPort: number;
  restPort?: number;
  /** `host:port` of the gRPC endpoint, as {@link createLocalTasksClient} takes it. */
  endpoint: string;
  /** Stops timers and in-flight dispatches (their tasks stay queued), closes ports and saves state. */
  close(): Promise<void>;
}

const logToStderr = (line: object): void => {
  process.stderr.write(`${JSON.stringify({ severity: 'INFO', component: 'cloud-tasks-emulator', ...line })}\n`);
};

/** Starts the local Cloud Tasks server. */
export async function startCloudTasksServer(options: CloudTasksServerOptions = {}): Promise<CloudTasksServer> {
  const host = options.host ?? '127.0.0.1';
  const dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
  if (!Number.isFinite(dedupWindowMs) || dedupWindowMs < 0) {
    throw new Error(
      `dedupWindowMs must be a non-negative number of milliseconds, got ${String(options.dedupWindowMs)} (example: 3600000).`,
    );
  }
  const store = await openStore({ dataFile: options.dataFile });
  const log = options.log ?? logToStderr;
  const dispatcher = new Dispatcher({
    store,
    dedupWindowMs,
    log: (line: DispatchLogLine) => log(line),
    privateTargets: options.privateTargets,
  });
  const api = new TasksApi(store, dispatcher, dedupWindowMs);

  for (const declared of options.queues ?? []) {
    const name = checkQueueName(declared.name, 'queues[].name');
    if (!store.queues.has(name)) await api.CreateQueue({ parent: locationOf(name), queue: declared });
  }

  const grpc = await startGrpcServer(api, host, options.port ?? 0);
  let rest: { server: HttpServer; port: number } | undefined;
  try {
    if (options.restPort !== undefined) rest = await startRestServer(api, host, options.restPort);
  } catch (error) {
    grpc.server.forceShutdown();
    throw error;
  }
  dispatcher.kick();

  let closing: Promise<void> | undefined;
  return {
    grpcPort: grpc.port,
    restPort: rest?.port,
    endpoint: `${host}:${grpc.port}`,
    close() {
      closing ??= (async () => {
        await dispatcher.close();
        await Promise.all([
          stopGrpcServer(grpc.server),
          rest &&
            new Promise<void>((resolve) => {
              rest!.server.close(() => resolve());
              rest!.server.closeAllConnections();
            }),
        ]);
        await store.flush();
      })();
      return closing;
    },
  };
}
