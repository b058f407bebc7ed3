import type { CloudTasksClient } from '@google-cloud/tasks';
import type { Config } from '../config.ts';
import { asUnavailable, withDeadline } from '../deadline.ts';

/** The header every task carries; task endpoints refuse requests without it (see verifyTaskRequest). */
export const TASK_SECRET_HEADER = 'x-tenantplane-task-secret';

export interface EnqueueOptions {
  /** Function that handles the task, e.g. `provision`. */
  fn: string;
  /** Path on that function, e.g. `/tasks/provision`. */
  path: string;
  payload: unknown;
  /** Deterministic task id ([A-Za-z0-9_-], ≤ 500): a second enqueue with the same id is a no-op. */
  name?: string;
  scheduleTime?: Date;
  dispatchDeadlineSeconds?: number;
}

export interface Queue {
  /** Creates an HTTP task; returns created=false when a task of that name exists or ran recently. */
  enqueue(queue: string, options: EnqueueOptions): Promise<{ created: boolean; name: string }>;
  /** Full resource name of a queue. */
  queuePath(queue: string): string;
  /** Deletes a named task if it is still pending (used by tenant deletion). */
  deleteTask(queue: string, name: string): Promise<void>;
  /** The underlying client (created lazily). */
  client(): Promise<CloudTasksClient>;
  close(): Promise<void>;
}

const ALREADY_EXISTS = 6;
const NOT_FOUND = 5;

/** Cloud Tasks through the real client; locally pointed at emulators/cloud-tasks with insecure credentials. */
export function createQueue(
  config: Pick<Config, 'projectId' | 'tasks' | 'emulators' | 'functionsUrl'> & { http?: Pick<Config['http'], 'dependencyTimeoutMs'> },
): Queue {
  // A queue that is down answers 503 naming it within this, instead of the client's minute-long retries.
  const timeoutMs = config.http?.dependencyTimeoutMs ?? 8000;
  const callOptions = { timeout: timeoutMs, maxRetries: 0 };
  let clientPromise: Promise<CloudTasksClient> | undefined;
  const client = () =>
    (clientPromise ??= (async () => {
      const { CloudTasksClient } = await import('@google-cloud/tasks');
      const emulator = config.emulators.tasks;
      if (!emulator) return new CloudTasksClient();
      const { grpc } = await import('google-gax');
      const [host, port] = emulator.split(':');
      return new CloudTasksClient({
        apiEndpoint: host,
        port: Number(port),
        sslCreds: grpc.credentials.createInsecure(),
        projectId: config.projectId,
      });
    })());
  const queuePath = (queue: string) => `projects/${config.projectId}/locations/${config.tasks.location}/queues/${queue}`;

  return {
    queuePath,
    client,
    async enqueue(queue, options) {
      const parent = queuePath(queue);
      const name = options.name ? `${parent}/tasks/${options.name}` : undefined;
      // A private function accepts only an OIDC token whose audience is its own URL (not the host, not the path below it).
      const functionUrl = config.functionsUrl.replace('{name}', options.fn);
      const url = functionUrl + options.path;
      const task = {
        name,
        scheduleTime: options.scheduleTime ? timestamp(options.scheduleTime) : undefined,
        dispatchDeadline: options.dispatchDeadlineSeconds ? { seconds: options.dispatchDeadlineSeconds } : undefined,
        httpRequest: {
          httpMethod: 'POST' as const,
          url,
          headers: { 'Content-Type': 'application/json', [TASK_SECRET_HEADER]: config.tasks.secret },
          body: Buffer.from(JSON.stringify(options.payload)),
          oidcToken: config.tasks.serviceAccount ? { serviceAccountEmail: config.tasks.serviceAccount, audience: functionUrl } : undefined,
        },
      };
      try {
        const [created] = await withDeadline(
          'queue',
          timeoutMs,
          (async () => (await client()).createTask({ parent, task }, callOptions))(),
        );
        return { created: true, name: created.name ?? name ?? '' };
      } catch (err) {
        if ((err as { code?: number }).code === ALREADY_EXISTS) return { created: false, name: name ?? '' };
        throw asUnavailable('queue', err);
      }
    },
    async deleteTask(queue, name) {
      try {
        await withDeadline(
          'queue',
          timeoutMs,
          (async () => (await client()).deleteTask({ name: `${queuePath(queue)}/tasks/${name}` }, callOptions))(),
        );
      } catch (err) {
        if ((err as { code?: number }).code !== NOT_FOUND) throw asUnavailable('queue', err);
      }
    },
    async close() {
      if (clientPromise) await (await clientPromise).close();
    },
  };
}

/** A protobuf Timestamp to the millisecond. */
function timestamp(at: Date): { seconds: number; nanos: number } {
  const ms = at.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}
