/**
 * `npm start`: the whole platform on one machine — Firestore and Auth
 * emulators, the local Cloud Tasks server, MailDev (mail), the local runtime
 * and one gateway at http://localhost:8080 routing exactly as firebase.json's
 * hosting rewrites. Data persists under DATA_DIR between runs. Ctrl-C stops
 * everything it started, tenant processes included (they start again next time).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfig, ConfigError } from '../shared/config.ts';
import { createDeps } from '../shared/deps.ts';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';
import { createUsageSampler } from '../shared/billing/sampler.ts';
import type { LocalDriver } from '../shared/runtime/index.ts';
import { startCloudTasksServer } from '../emulators/cloud-tasks/server.ts';
import { startStorageEmulator } from '../emulators/storage/server.ts';
import { startMailDev } from './dev/maildev.ts';
import { startPostgres } from './dev/postgres.ts';
import {
  checkPrerequisites,
  exportAuth,
  exportFirestore,
  PrerequisiteError,
  startAuthEmulator,
  startFirestoreEmulator,
} from './dev/emulators.ts';
import { startBundles } from './dev/bundles.ts';
import { lockDataDir } from './dev/data-dir.ts';
import { startGateway } from './dev/gateway.ts';
import { createLocalOidcToken } from '../emulators/cloud-tasks/auth-tokens.ts';
import { isPortBusy, stopAll } from './dev/processes.ts';
import { AlreadyRunningError, commandLine, removeRunRecord, stopLeftovers, writeRunRecord } from './dev/leftovers.ts';
import { describeTenantNetwork, ensureFirewallTool } from './dev/tenant-network.ts';
import { buildWeb } from './build-web.ts';

const env = process.env;
const color = process.stdout.isTTY && !env.NO_COLOR;
const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const fail = (message: string): never => {
  console.error(paint(31, `✖ ${message}`));
  process.exit(1);
};

function port(name: string, fallback: number): number {
  const raw = env[name] ?? String(fallback);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) fail(`${name} must be a port number, got "${raw}".`);
  return value;
}

/** Each service's port: the variable that sets it and its default. */
const PORT_VARS = {
  gateway: ['PORT', 8080],
  functions: ['FUNCTIONS_PORT', 8082],
  firestore: ['FIRESTORE_PORT', 8081],
  auth: ['AUTH_PORT', 9099],
  tasks: ['TASKS_PORT', 8123],
  tasksRest: ['TASKS_REST_PORT', 8124],
  smtp: ['SMTP_PORT', 1025],
  mailUi: ['MAIL_UI_PORT', 8025],
  postgres: ['POSTGRES_PORT', 5433],
  storage: ['STORAGE_PORT', 9199],
} as const;
type Service = keyof typeof PORT_VARS;
const ports = Object.fromEntries(
  Object.entries(PORT_VARS).map(([name, [variable, fallback]]) => [name, port(variable, fallback)]),
) as Record<Service, number>;
const dataDir = resolve(env.DATA_DIR ?? '.data');
/** `npm start -- --bundles`: each function from its esbuild bundle in its own process, as deployed (scripts/dev/bundles.ts). */
const asDeployed = process.argv.includes('--bundles');
const unknownArgs = process.argv.slice(2).filter((a) => a !== '--bundles');
if (unknownArgs.length)
  fail(`Unknown argument ${unknownArgs.join(' ')}; the only option is --bundles (run each function from its bundle, as deployed).`);
const projectId = env.GCP_PROJECT_ID ?? 'demo-tenantplane';
const region = env.GCP_REGION ?? 'us-central1';

try {
  checkPrerequisites();
} catch (err) {
  fail(err instanceof PrerequisiteError ? err.message : String(err));
}
// Tenant workloads pass through the data folder to their own: nothing else in it may be readable to them.
lockDataDir(dataDir);
try {
  // Emulators a hard-killed earlier run left behind hold the ports: save their data and stop them first.
  await stopLeftovers({
    dataDir,
    log: (text) => console.log(paint(33, text)),
    async save(leftover, project) {
      if (leftover.firestoreHost) await exportFirestore(leftover.firestoreHost, project, join(dataDir, 'firestore'));
      if (leftover.authHubPort) await exportAuth(leftover.authHubPort, join(dataDir, 'auth'));
    },
  });
} catch (err) {
  fail(err instanceof AlreadyRunningError ? err.message : `Could not stop what an earlier run left behind: ${(err as Error).message}`);
}
for (const [name, value] of Object.entries(ports)) {
  if (await isPortBusy(value))
    fail(`Port ${value} (${name}) is in use: stop what uses it, or choose another with ${PORT_VARS[name as Service][0]}=<port>.`);
}

let stopping = false;
const cleanups: Array<() => Promise<unknown>> = [];
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping…');
  for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => console.error(`  ${(err as Error).message}`));
  await stopAll();
  removeRunRecord(dataDir);
  console.log('Stopped. Data kept in', dataDir);
  process.exit(code);
}
// Work still running when Ctrl-C arrives (a provision step) fails as its clients close; its task stays
// queued and runs again next start. Log such failures instead of dying before the data is saved.
process.on('unhandledRejection', (err) => {
  if (!stopping) console.error(paint(31, `Unhandled error: ${(err as Error)?.stack ?? String(err)}`));
});
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

const line = (what: string, where: string) => console.log(`  ${paint(32, '●')} ${what.padEnd(22)} ${where}`);
console.log(paint(1, 'Starting tenantplane…'));
try {
  await buildWeb({ ifStale: true });
  const logDir = join(dataDir, 'logs');
  const firestoreExport = join(dataDir, 'firestore');
  const authExport = join(dataDir, 'auth');
  mkdirSync(logDir, { recursive: true });
  const importFrom = latestExport(firestoreExport);
  const [firestore, auth, postgres] = await Promise.all([
    startFirestoreEmulator({ port: ports.firestore, logDir, importFrom }),
    startAuthEmulator({ port: ports.auth, projectId, logDir, dataDir: authExport }),
    // Tenant databases: one role and database per environment on this server, kept in DATA_DIR/postgres.
    startPostgres({ dataDir: join(dataDir, 'postgres'), port: ports.postgres, logDir }),
  ]);
  cleanups.push(() => postgres.stop());
  writeRunRecord(dataDir, {
    pid: process.pid,
    cmdline: commandLine(process.pid) ?? '',
    projectId,
    processes: [
      {
        name: 'Firestore',
        pid: firestore.process.child.pid!,
        cmdline: commandLine(firestore.process.child.pid!) ?? '',
        firestoreHost: firestore.host,
      },
      { name: 'Auth', pid: auth.process.child.pid!, cmdline: commandLine(auth.process.child.pid!) ?? '', authHubPort: auth.hubPort },
      { name: 'PostgreSQL', pid: postgres.process.child.pid!, cmdline: commandLine(postgres.process.child.pid!) ?? '' },
    ],
  });
  const saveData = async () => {
    const previous = readdirSync(firestoreExport, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    await exportFirestore(firestore.host, projectId, firestoreExport);
    // Keep only the newest export: the emulator writes a new timestamped folder each time.
    const newest = latestExport(firestoreExport);
    for (const name of previous) if (!newest?.includes(`/${name}/`)) rmSync(join(firestoreExport, name), { recursive: true, force: true });
    await exportAuth(auth.hubPort, authExport);
  };
  cleanups.push(saveData);
  const autosave = setInterval(() => void saveData().catch(() => undefined), 30_000);
  cleanups.push(async () => clearInterval(autosave));
  line('Firestore emulator', firestore.host);
  line('Auth emulator', auth.host);
  line('PostgreSQL', `127.0.0.1:${postgres.port} (tenant databases, data in ${join(dataDir, 'postgres')})`);

  // Buckets: the platform's token there is random per data folder, so no one else can compute an environment's token.
  const storageTokenFile = join(dataDir, 'storage-token');
  if (!existsSync(storageTokenFile)) writeFileSync(storageTokenFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
  const storageToken = readFileSync(storageTokenFile, 'utf8').trim();
  const storage = await startStorageEmulator({
    port: ports.storage,
    adminToken: storageToken,
    projectId,
    dataFile: join(dataDir, 'storage.json'),
  });
  cleanups.push(() => storage.close());
  line('Storage emulator', `${storage.url} (Cloud Storage JSON API; tenant buckets)`);

  const queues = ['provision', 'mail'].map((q) => ({ name: `projects/${projectId}/locations/${region}/queues/${q}` }));
  const functionsUrl = env.FUNCTIONS_URL ?? `http://127.0.0.1:${ports.functions}/{name}`;
  // As deployed, the functions Cloud Tasks and Cloud Scheduler call are private: only the tasks account's OIDC token for their URL gets in.
  const tasksAccount = asDeployed
    ? (env.TASKS_SERVICE_ACCOUNT ?? `tp-tasks@${projectId}.iam.gserviceaccount.com`)
    : env.TASKS_SERVICE_ACCOUNT;
  const tasks = await startCloudTasksServer({
    privateTargets: tasksAccount ? ['provision', 'mail', 'billing-aggregate'].map((fn) => functionsUrl.replace('{name}', fn)) : undefined,
    port: ports.tasks,
    restPort: ports.tasksRest,
    dataFile: join(dataDir, 'cloud-tasks.json'),
    queues,
    log: () => {},
  });
  line('Cloud Tasks', `${tasks.endpoint} (REST http://127.0.0.1:${tasks.restPort})`);

  // MailDev, in this process: its inbox and REST API (`/api/email`) on MAIL_UI_PORT, the newest 1,000 mails kept in DATA_DIR/mail.
  const mail = await startMailDev({ smtpPort: ports.smtp, webPort: ports.mailUi, mailDirectory: join(dataDir, 'mail'), maxEmails: 1000 });
  cleanups.push(() => mail.stop());
  line('Mail (MailDev)', `${mail.url}  (SMTP 127.0.0.1:${mail.smtpPort}; REST ${mail.url}/api/email)`);

  const publicUrl = env.PUBLIC_URL ?? `http://localhost:${ports.gateway}`;
  // The functions' own origin, as in production: streams are opened there (Hosting, on PORT, buffers rewrites).
  // Same host name as the pages, so a browser that reaches them reaches it too.
  const functionsOrigin = new URL(publicUrl);
  functionsOrigin.port = String(ports.functions);
  const platformEnv: Record<string, string | undefined> = {
    ...env,
    GCP_PROJECT_ID: projectId,
    GCP_REGION: region,
    PUBLIC_URL: publicUrl,
    FUNCTIONS_URL: functionsUrl,
    TASKS_SERVICE_ACCOUNT: tasksAccount,
    STREAM_URL: env.STREAM_URL ?? `${functionsOrigin.origin}/{name}`,
    FIRESTORE_EMULATOR_HOST: firestore.host,
    FIREBASE_AUTH_EMULATOR_HOST: auth.host,
    TASKS_EMULATOR_HOST: tasks.endpoint,
    SMTP_URL: env.SMTP_URL ?? `smtp://127.0.0.1:${mail.smtpPort}`,
    MAIL_CATCHER_URL: mail.url,
    DATA_DIR: dataDir,
    METADATA_SERVER_DETECTION: 'none',
    DATABASE_ADMIN_URL: env.DATABASE_ADMIN_URL ?? postgres.adminUrl,
    STORAGE_EMULATOR_URL: env.STORAGE_EMULATOR_URL ?? storage.url,
    STORAGE_ADMIN_TOKEN: env.STORAGE_ADMIN_TOKEN ?? storageToken,
  };
  const config = parseConfig(platformEnv);
  process.env.METADATA_SERVER_DETECTION = 'none';
  if (config.runtime.driver === 'local') ensureFirewallTool();
  const deps = createDeps(config);
  cleanups.push(() => deps.close());
  // The first launches claim pooled databases instead of waiting for CREATE DATABASE (shared/resources/pool.ts).
  // A resources driver that cannot be made (a misconfigured one) fails here as a warning, and at the first launch as before.
  void Promise.resolve()
    .then(() => deps.resources().warm?.())
    .catch((err: unknown) =>
      deps.log.warn('tenant data not warmed up (the pool of empty databases); launches create their databases as they go', { err }),
    );
  const runtime = deps.runtime();
  // On Ctrl-C, tenant processes stop too; they are marked running, so the next start brings them back.
  cleanups.push(async () => (runtime as { stopAll?: () => Promise<void> }).stopAll?.());
  if (config.runtime.driver === 'local') {
    // Metered billing (R-BILL-2): usage of local environments sampled into Firestore.
    const sampler = createUsageSampler({
      db: deps.db,
      meter: runtime as LocalDriver,
      intervalSeconds: config.billing.sampleSeconds,
      log: deps.log,
    });
    sampler.start();
    cleanups.push(async () => sampler.stop());
  }
  line(
    'Tenant environments',
    `${config.runtime.driver} driver, ports ${config.runtime.portRange.from}-${config.runtime.portRange.to}, data in ${join(dataDir, 'runtime')}`,
  );
  if (config.runtime.driver === 'local') line('Tenant network', describeTenantNetwork(runtime as LocalDriver));

  let backends: Record<string, string> | undefined;
  if (asDeployed) {
    const bundles = await startBundles({ env: platformEnv, logDir });
    cleanups.push(() => bundles.close());
    backends = bundles.urls;
    line('Functions (bundles)', `${Object.keys(backends).length} processes under functions-framework, logs in ${logDir}/fn-<name>.log`);
  }
  const gateway = await startGateway(deps, {
    port: ports.gateway,
    functionsPort: ports.functions,
    host: env.HOST ?? '127.0.0.1',
    backends,
  });
  cleanups.push(() => gateway.close());
  // Cleanups run newest first: stop dispatching tasks before the gateway stops taking requests.
  cleanups.push(() => tasks.close());
  line('Gateway (hosting)', `http://localhost:${gateway.port}  (functions' own URLs http://127.0.0.1:${gateway.functionsPort}/<name>)`);

  // Cloud Scheduler's jobs, locally: the mail and operation sweepers every minute.
  const sweep = setInterval(() => {
    for (const path of ['mail/tasks/mail-sweep', 'provision/tasks/provision-sweep']) {
      void fetch(`http://127.0.0.1:${gateway.port}/__fn/${path}`, {
        method: 'POST',
        headers: {
          [TASK_SECRET_HEADER]: config.tasks.secret,
          // Cloud Scheduler's jobs carry the tasks account's OIDC token for the function's URL, as Cloud Tasks does.
          ...(tasksAccount
            ? { Authorization: `Bearer ${createLocalOidcToken(tasksAccount, functionsUrl.replace('{name}', path.split('/')[0]))}` }
            : {}),
        },
      }).catch(() => undefined);
    }
  }, 60_000);
  cleanups.push(async () => clearInterval(sweep));
  // Cloud Scheduler's nightly backups, locally: once a day while npm start runs.
  const nightly = setInterval(
    () =>
      void fetch(`http://127.0.0.1:${gateway.port}/__fn/provision/tasks/backups-nightly`, {
        method: 'POST',
        headers: { [TASK_SECRET_HEADER]: config.tasks.secret },
      }).catch(() => undefined),
    24 * 3600 * 1000,
  );
  nightly.unref();
  cleanups.push(async () => clearInterval(nightly));

  console.log(`\n${paint(1, `Open http://localhost:${gateway.port}`)}   (Ctrl-C stops everything)`);
} catch (err) {
  console.error(paint(31, `✖ ${err instanceof ConfigError || err instanceof PrerequisiteError ? err.message : (err as Error).stack}`));
  await shutdown(1);
}

/** The metadata file of the newest Firestore export under `dir`, if any. */
function latestExport(dir: string): string | undefined {
  mkdirSync(dir, { recursive: true });
  const folders = readdirSync(dir)
    .filter((name) => name.startsWith('firestore_export_'))
    .sort((a, b) => Number(b.slice(17)) - Number(a.slice(17)));
  for (const folder of folders) {
    const file = join(dir, folder, `${folder}.overall_export_metadata`);
    if (existsSync(file)) return file;
  }
  return undefined;
}
