/**
 * A handler-level stand-in for one instance of the signup, activate and mail
 * functions: the real handlers behind the real edge (wrap), real Firestore and
 * Auth emulators and a real SMTP mail catcher, with two things under the
 * test's control: the clock, and the task queue (a recording implementation of
 * our Queue port, delivered by the test, so retries and lost tasks can be
 * staged exactly). The whole flow through Cloud Tasks is in signup-flow.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMailCatcher, type MailCatcher } from '../testing/mail.ts';
import { createActivateHandler } from '../functions/activate/handler.ts';
import { createMailHandler } from '../functions/mail/handler.ts';
import { createSignupHandler } from '../functions/signup/handler.ts';
import { toNodeHandler } from '../functions/start-function.ts';
import { parseConfig, type Config } from '../shared/config.ts';
import { createDeps, type Deps } from '../shared/deps.ts';
import { createLogger } from '../shared/log.ts';
import { TASK_SECRET_HEADER, type EnqueueOptions, type Queue } from '../shared/queue/client.ts';

export interface RecordedTask {
  queue: string;
  options: EnqueueOptions;
}

/** Our Queue port, recording tasks; names stay taken like Cloud Tasks keeps them for about an hour. */
export class RecordingQueue implements Queue {
  pending: RecordedTask[] = [];
  names = new Set<string>();
  failing = false;
  created = 0;
  async enqueue(queue: string, options: EnqueueOptions) {
    if (this.failing) throw new Error('14 UNAVAILABLE: the queue is unreachable (staged by the test)');
    const name = options.name ?? randomBytes(8).toString('hex');
    if (this.names.has(name)) return { created: false, name };
    this.names.add(name);
    this.pending.push({ queue, options });
    this.created++;
    return { created: true, name };
  }
  queuePath(queue: string) {
    return `projects/test/locations/test/queues/${queue}`;
  }
  async deleteTask() {}
  async client(): Promise<never> {
    throw new Error('The recording queue has no Cloud Tasks client.');
  }
  async close() {}
}

export interface Harness {
  config: Config;
  deps: Deps;
  url: string;
  queue: RecordingQueue;
  mail: MailCatcher;
  /** Every JSON log line the instance wrote (info and up). */
  logs: string[];
  /** Moves the injected clock. */
  advance(ms: number): void;
  post(path: string, body: unknown, options?: { ip?: string; headers?: Record<string, string>; raw?: string }): Promise<Response>;
  get(path: string, options?: { ip?: string }): Promise<Response>;
  /** Runs every pending mail task once, as the queue would; failed ones stay pending. Returns their statuses. */
  deliverMail(): Promise<number[]>;
  close(): Promise<void>;
}

/**
 * Starts one instance. Pass `projectId` (and `mail`) of another harness to get
 * a second instance of the same platform: its own clients and memory, the same data.
 */
export async function startHarness(
  options: { env?: Record<string, string>; projectId?: string; mail?: MailCatcher; overrides?: Partial<Deps> } = {},
): Promise<Harness> {
  const firestore = process.env.FIRESTORE_EMULATOR_HOST;
  const auth = process.env.FIREBASE_AUTH_EMULATOR_HOST;
  if (!firestore || !auth) throw new Error('Run through `npm test -- <file>`, which starts the Firestore and Auth emulators.');
  const mail = options.mail ?? (await startMailCatcher());
  const ownsMail = !options.mail;
  const config = parseConfig({
    TP_ENV: 'test',
    GCP_PROJECT_ID: options.projectId ?? `demo-s${randomBytes(5).toString('hex')}`,
    PUBLIC_URL: 'http://127.0.0.1:8080',
    FIRESTORE_EMULATOR_HOST: firestore,
    FIREBASE_AUTH_EMULATOR_HOST: auth,
    SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    MAIL_BATCH_MS: '50',
    ...options.env,
  });
  let now = Date.now();
  const queue = new RecordingQueue();
  const logs: string[] = [];
  const log = createLogger({ level: 'info', write: (line) => void logs.push(line) });
  const deps = createDeps(config, { queue, log, now: () => new Date(now), ...options.overrides });
  const handlers = {
    signup: toNodeHandler(createSignupHandler(deps), deps),
    activate: toNodeHandler(createActivateHandler(deps), deps),
    mail: toNodeHandler(createMailHandler(deps), deps),
  };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const fn = path.startsWith('/api/signup') ? 'signup' : path.startsWith('/api/activate') ? 'activate' : 'mail';
    void handlers[fn](req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headersFor = (ip = '198.51.100.1', extra: Record<string, string> = {}) => ({ 'X-Forwarded-For': ip, ...extra });

  return {
    config,
    deps,
    url,
    queue,
    mail,
    logs,
    advance: (ms) => void (now += ms),
    post: (path, body, o = {}) =>
      fetch(url + path, {
        method: 'POST',
        headers: headersFor(o.ip, { 'Content-Type': 'application/json', ...o.headers }),
        body: o.raw ?? JSON.stringify(body),
      }),
    get: (path, o = {}) => fetch(url + path, { headers: headersFor(o.ip) }),
    async deliverMail() {
      // As the queue would: a task runs once its schedule time came (a window's flush, tens of milliseconds here).
      const due = Math.max(0, ...queue.pending.map((t) => (t.options.scheduleTime?.getTime() ?? 0) - Date.now()));
      if (due > 0) await new Promise((r) => setTimeout(r, due));
      const batch = queue.pending.filter((t) => t.queue === 'mail');
      queue.pending = queue.pending.filter((t) => t.queue !== 'mail');
      const statuses: number[] = [];
      for (const task of batch) {
        const res = await fetch(url + task.options.path, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', [TASK_SECRET_HEADER]: config.tasks.secret, 'X-Forwarded-For': '10.255.0.1' },
          body: JSON.stringify(task.options.payload),
        });
        await res.arrayBuffer();
        statuses.push(res.status);
        if (!res.ok) queue.pending.push(task);
      }
      return statuses;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await deps.close();
      if (ownsMail) await mail.close();
    },
  };
}

/** The token in the link of a signup mail. */
export function tokenFromMail(text: string): string {
  const match = /activate\.html\?token=([0-9a-f]{64})/.exec(text);
  if (!match) throw new Error(`No activation link in this mail:\n${text}`);
  return match[1];
}

/** A fresh address per test, so tests in one file do not share state. */
export function uniqueEmail(label = 'user'): string {
  return `${label}-${randomBytes(4).toString('hex')}@example.com`;
}
