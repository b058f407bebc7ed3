import type { Firestore } from '@google-cloud/firestore';
import type { Auth } from 'firebase-admin/auth';
import { createFirebaseAuth } from './auth/firebase.ts';
import type { Config } from './config.ts';
import { localIdleSleepMs } from './config/runtime.ts';
import { createLogger, type Logger } from './log.ts';
import { createMailer, type Mailer } from './mail/index.ts';
import { createQueue, type Queue } from './queue/client.ts';
import { createFirestore } from './store/db.ts';
import { settleTransactions } from './store/transact.ts';
import { createDriver, type RuntimeDriver } from './runtime/index.ts';
import { createResources, resourcesOptions, type ResourceDriver } from './resources/index.ts';
import { localDataPorts } from './config/resources.ts';
import { createSecretStore } from './secrets/store.ts';
import { createGcpClients, type GcpClients } from './gcp/identity.ts';
import { join } from 'node:path';
import { imagesDirOf } from './images/store.ts';

/** Everything a handler needs from the outside world; tests pass their own pieces. */
export interface Deps {
  config: Config;
  log: Logger;
  db: Firestore;
  queue: Queue;
  auth: () => Promise<Auth>;
  mailer: Mailer;
  now: () => Date;
  /** The runtime driver by name (default: the configured one); created once per name. */
  runtime(name?: string): RuntimeDriver;
  /** Each environment's database and bucket (shared/resources), created on first use from `config.resources`. */
  resources(): ResourceDriver;
  /** Google clients for tenant identities and registry tokens (IAM, IAM Credentials, Artifact Registry); used when `config.registry.driver` is `artifact-registry`. */
  gcp: GcpClients;
  /** Release clients and timers. */
  close(): Promise<void>;
}

/** Builds the production set of dependencies from config; clients connect lazily on first use. */
export function createDeps(config: Config, overrides: Partial<Deps> = {}): Deps {
  let db: Firestore | undefined;
  let queue: Queue | undefined;
  let mailer: Mailer | undefined;
  let gcp: GcpClients | undefined;
  let resources: ResourceDriver | undefined;
  const drivers = new Map<string, RuntimeDriver>();
  const deps: Deps = {
    config,
    log: overrides.log ?? createLogger({ level: config.logLevel }),
    get db() {
      return (db ??= overrides.db ?? createFirestore(config));
    },
    get queue() {
      return (queue ??= overrides.queue ?? createQueue(config));
    },
    auth: overrides.auth ?? createFirebaseAuth(config),
    get mailer() {
      return (mailer ??= overrides.mailer ?? createMailer(config));
    },
    now: overrides.now ?? (() => new Date()),
    get gcp() {
      return (gcp ??= overrides.gcp ?? createGcpClients());
    },
    resources() {
      if (overrides.resources) return overrides.resources();
      return (resources ??= createResources(resourcesOptions(config.resources, { ...config, dataDir: config.runtime.dataDir })));
    },
    runtime(name = config.runtime.driver) {
      if (overrides.runtime) return overrides.runtime(name);
      let driver = drivers.get(name);
      if (!driver) {
        driver = createDriver({
          driver: name,
          local: {
            dataDir: join(config.runtime.dataDir, 'runtime'),
            imagesDir: imagesDirOf(config.runtime.dataDir),
            portRange: config.runtime.portRange,
            publicHost: config.runtime.publicHost,
            uidRange: config.runtime.uidRange,
            idleSleepMs: localIdleSleepMs(config.runtime.idleSleepMinutes, config.billing.plans),
            // Tenant processes reach their own database and bucket on this machine's data servers.
            allowPorts: localDataPorts(config.resources),
            // A process restarted without a deploy (re-adoption, resume) gets its secrets from the encrypted store.
            secretsProvider: (ref) => createSecretStore(deps.db, config.secrets.key).values(ref.tenantId, ref.env),
          },
          cloudRun: {
            projectId: config.projectId,
            region: config.region,
            platform: { tokenMinter: config.registry.tokenMinterServiceAccount, deployer: config.runtime.cloudRun.deployerServiceAccount },
          },
          kubernetes: config.runtime.kubernetes,
          fly: { ...config.runtime.fly, region: config.runtime.fly.region },
        });
        drivers.set(name, driver);
      }
      return driver;
    },
    async close() {
      if (db) await settleTransactions(db, 5_000);
      const closing = {
        firestore: db?.terminate(),
        queue: queue?.close(),
        mailer: mailer?.close?.(),
        gcp: gcp?.close(),
        resources: resources?.close?.(),
        drivers: Promise.all([...drivers.values()].map((d) => d.close?.())),
      };
      const results = await Promise.allSettled(Object.values(closing));
      // A client that could not close (Firestore refuses while a listener is open) keeps its connections: say which.
      results.forEach((result, i) => {
        if (result.status === 'rejected')
          deps.log.error('a client did not close', { client: Object.keys(closing)[i], error: String(result.reason) });
      });
    },
  };
  return deps;
}
