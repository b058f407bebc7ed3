import type { Firestore } from '@google-cloud/firestore';
import type { Auth } from 'firebase-admin/auth';
import { createFirebaseAuth } from './auth/firebase.ts';
import type { Config } from './config.ts';
import { createLogger, type Logger } from './log.ts';
import { createMailer, type Mailer } from './mail/index.ts';
import { createQueue, type Queue } from './queue/client.ts';
import { createFirestore } from './store/db.ts';

/** Everything a handler needs from the outside world; tests pass their own pieces. */
export interface Deps {
  config: Config;
  log: Logger;
  db: Firestore;
  queue: Queue;
  auth: () => Promise<Auth>;
  mailer: Mailer;
  now: () => Date;
  /** Release clients and timers. */
  close(): Promise<void>;
}

/** Builds the production set of dependencies from config; clients connect lazily on first use. */
export function createDeps(config: Config, overrides: Partial<Deps> = {}): Deps {
  let db: Firestore | undefined;
  let queue: Queue | undefined;
  let mailer: Mailer | undefined;
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
    async close() {
      await Promise.allSettled([db?.terminate(), queue?.close(), mailer?.close?.()]);
    },
  };
  return deps;
}
