/**
 * A whole platform for one test file: a fresh Firestore/Auth project on the
 * emulators that `npm test` started, an in-process Cloud Tasks server, a mail
 * catcher, and the gateway on a free port with every function behind it.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type Config } from '../shared/config.ts';
import { createDeps, type Deps } from '../shared/deps.ts';
import { startMailCatcher, type MailCatcher } from './mail.ts';
import { startBundles } from '../scripts/dev/bundles.ts';
import { startGateway } from '../scripts/dev/gateway.ts';
import { allocatePort, allocatePorts } from './ports.ts';
import { describeOpenStreams } from '../shared/http/sse.ts';
import { startTenantData, type TenantData } from './tenant-data.ts';

export interface TestStack {
  config: Config;
  deps: Deps;
  /** Gateway base URL, e.g. http://127.0.0.1:41234: the Hosting origin, which buffers rewritten answers. */
  url: string;
  /** The api function's own URL (STREAM_URL for api), where streams are opened: append `/api/v1/…` as to `url`. */
  streamUrl: string;
  mail: MailCatcher;
  /** The PostgreSQL server and storage emulator of tenant data, unless `resources: false`. */
  data?: TenantData;
  dataDir: string;
  fetch(path: string, init?: RequestInit & { json?: unknown; token?: string }): Promise<Response>;
  close(): Promise<void>;
}

export const QUEUES = ['provision', 'mail'];
/** The functions Cloud Tasks and Cloud Scheduler call. */
const TASK_RECEIVERS = ['provision', 'mail', 'billing-aggregate'];

/** The default plans with room for many tenants of any size on the free plan. */
const TEST_PLANS = JSON.stringify([{ id: 'free', tenants: 100, maxMemoryMb: 2048 }, { id: 'starter' }, { id: 'pro' }]);

/** Names the missing emulator and how to get one, instead of a connection error deep in a client. */
function emulatorHosts() {
  const firestore = process.env.FIRESTORE_EMULATOR_HOST;
  const auth = process.env.FIREBASE_AUTH_EMULATOR_HOST;
  if (!firestore || !auth) {
    throw new Error('Tests need the emulators: run them through `npm test` (or `npm test -- <file>`), which starts them.');
  }
  return { firestore, auth };
}

/**
 * Names the step a close is in when it takes over 20 s, and afterwards what
 * still keeps the process alive, so a test file that fails to exit says why.
 */
function watchSteps(what: string, reportLingering: boolean) {
  let current = '';
  const started = Date.now();
  const timer = setInterval(
    () => process.stderr.write(`${what}: still in "${current}" after ${Math.round((Date.now() - started) / 1000)} s\n`),
    20_000,
  );
  timer.unref();
  const step = (name: string) => {
    current = name;
  };
  step.done = () => {
    clearInterval(timer);
    if (!reportLingering) return;
    setTimeout(
      () =>
        process.stderr.write(
          `${what}: the process is still alive 20 s after; open: ${describeOpenHandles()}; streams: ${describeOpenStreams().join(' | ') || 'none'}\n`,
        ),
      20_000,
    ).unref();
  };
  return step;
}

function countEach(names: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

/** The open handles; for a TCP socket, both ends as `ss` shows them (which process holds the other). */
function describeOpenHandles(): string {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const sockets = spawnSync('ss', ['-tanpH'], { encoding: 'utf8' }).stdout?.split('\n') ?? [];
  return handles
    .map((h) => {
      const name = (h as object).constructor?.name ?? typeof h;
      const { localPort, remotePort } = h as { localPort?: number; remotePort?: number };
      if (remotePort === undefined) return name;
      return `${name}(${localPort} -> ${remotePort}: ${sockets.filter((l) => l.includes(`:${remotePort} `)).join(' / ')})`;
    })
    .concat(
      // Timers and other resources that keep the event loop alive but are not handles.
      [...countEach(process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout' || kind === 'Immediate'))].map(
        ([kind, n]) => `${kind}×${n}`,
      ),
    )
    .join(', ');
}

/**
 * `bundles: true` runs the functions as deployed (scripts/dev/bundles.ts): each
 * from its esbuild bundle in its own functions-framework process, Cloud Tasks
 * calling them with OIDC tokens for TASKS_SERVICE_ACCOUNT that they check.
 */
type StackOptions = {
  env?: Record<string, string>;
  tasks?: boolean;
  deps?: Partial<Deps>;
  bundles?: boolean;
  resources?: boolean;
  /** With `bundles`: variables for one function's process only (scripts/dev/bundles.ts `envOf`). */
  functionEnv?: Record<string, Record<string, string>>;
  /** The storage emulator's clock, to age objects past a lifecycle rule. */
  storageNow?: () => Date;
  /** Whether a close reports what keeps the process alive 20 s later (off where the process lives on, as in `npm run bench`). */
  reportLingering?: boolean;
};

export async function startTestStack(options: StackOptions = {}): Promise<TestStack> {
  // A start that fails half-way (a port taken meanwhile, an emulator gone) closes what it started:
  // its servers would keep the test process alive, and the whole run would wait for it.
  const started: Array<() => Promise<unknown>> = [];
  try {
    return await startStack(options, started);
  } catch (error) {
    for (const close of started.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

async function startStack(options: StackOptions, started: Array<() => Promise<unknown>>): Promise<TestStack> {
  const hosts = emulatorHosts();
  const projectId = `demo-t${randomBytes(5).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tp-stack-'));
  started.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const mail = await startMailCatcher();
  started.push(() => mail.close());
  // Test files run in parallel, each with its own runtime: the gateway's port and the
  // environments' ports come from the one allocator, reserved to this process (see ports.ts).
  const port = await allocatePort();
  const functionsPort = await allocatePort();
  const environmentPorts = await allocatePorts(100);
  const functionsUrl = `http://127.0.0.1:${functionsPort}/{name}`;
  const data = options.resources === false ? undefined : await startTenantData(dataDir, { now: options.storageNow });
  if (data) started.push(() => data.close());
  let tasks: { endpoint: string; close(): Promise<void> } | undefined;
  if (options.tasks !== false) {
    const { startCloudTasksServer } = await import('../emulators/cloud-tasks/server.ts');
    tasks = await startCloudTasksServer({
      port: 0,
      // As deployed, the task receivers are private: a task without the right OIDC token never reaches them.
      privateTargets: options.bundles ? TASK_RECEIVERS.map((fn) => functionsUrl.replace('{name}', fn)) : undefined,
      dedupWindowMs: 2000,
      log: () => {},
      queues: QUEUES.map((q) => ({
        name: `projects/${projectId}/locations/us-central1/queues/${q}`,
        retryConfig: { minBackoff: { nanos: 100_000_000 }, maxBackoff: { seconds: 2 } },
      })),
    });
    const server = tasks;
    started.push(() => server.close());
  }
  const env: Record<string, string | undefined> = {
    TP_ENV: 'test',
    GCP_PROJECT_ID: projectId,
    GCP_REGION: 'us-central1',
    // The Auth emulator signs tokens for one project; test files share it and use unique uids.
    FIREBASE_PROJECT_ID: 'demo-tenantplane',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    // The functions' own origin, as Cloud Tasks and streaming clients reach them in production.
    FUNCTIONS_URL: functionsUrl,
    TASKS_SERVICE_ACCOUNT: options.bundles ? `tp-tasks@${projectId}.iam.gserviceaccount.com` : undefined,
    FIRESTORE_EMULATOR_HOST: hosts.firestore,
    FIREBASE_AUTH_EMULATOR_HOST: hosts.auth,
    TASKS_EMULATOR_HOST: tasks?.endpoint,
    SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
    DATA_DIR: dataDir,
    LOCAL_PORT_RANGE: `${environmentPorts.from}-${environmentPorts.to}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    // Test files create many tenants per user; test/tenant-boundary.test.ts passes PLANS: '' to test the product's own limits.
    PLANS: TEST_PLANS,
    ...(data?.env ?? { RESOURCES_DRIVER: 'none' }),
    ...options.env,
  };
  const config = parseConfig(env);
  const deps = createDeps(config, options.deps);
  started.push(() => deps.close());
  const bundles = options.bundles
    ? await startBundles({
        env: { ...env, LOG_LEVEL: 'info', METADATA_SERVER_DETECTION: 'none' },
        logDir: dataDir,
        envOf: options.functionEnv,
      })
    : undefined;
  if (bundles) started.push(() => bundles.close());
  const gateway = await startGateway(deps, { port, functionsPort, backends: bundles?.urls });
  const url = `http://127.0.0.1:${gateway.port}`;
  return {
    config,
    deps,
    url,
    streamUrl: config.streams.url.replace('{name}', 'api'),
    mail,
    data,
    dataDir,
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set('Content-Type', 'application/json');
        body = JSON.stringify(init.json);
      }
      return fetch(url + path, { ...init, headers, body });
    },
    async close() {
      const step = watchSteps('test stack close', options.reportLingering !== false);
      // No new dispatches, then no new requests and the running ones finished, then the clients.
      step('tasks server');
      await tasks?.close();
      step('gateway');
      await gateway.close();
      step('bundles');
      await bundles?.close();
      // Tenant processes are detached so they survive a control-plane restart; a test platform stops them all.
      const runtime = deps.runtime() as { stopAll?: () => Promise<void>; adopted?: Promise<unknown> };
      // Re-adoption may still be reading secrets from Firestore: let it finish before the client closes.
      step('runtime adoption');
      await runtime.adopted?.catch(() => undefined);
      step('runtime stopAll');
      await runtime.stopAll?.();
      step('deps');
      await deps.close();
      step('mail catcher');
      await mail.close();
      step('tenant data');
      await data?.close();
      step.done();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
