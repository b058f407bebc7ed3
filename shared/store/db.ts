import type { Firestore } from '@google-cloud/firestore';
import { firestore } from './firestore-lib.ts';
import type { Config } from '../config.ts';
import { applyFirestoreDeadline } from './firestore-deadline.ts';

/**
 * The Firestore client: the emulator when FIRESTORE_EMULATOR_HOST is set
 * (plain-text gRPC, the emulator's "owner" token so no credentials are looked up),
 * else Application Default Credentials.
 */
export function createFirestore(
  config: Pick<Config, 'projectId' | 'emulators'> & { http?: Pick<Config['http'], 'dependencyTimeoutMs'> },
): Firestore {
  const db = connect(config);
  // Every call gets a deadline, so an outage answers 503 naming the store instead of hanging (see firestore-deadline.ts).
  return config.http ? applyFirestoreDeadline(db, config.http.dependencyTimeoutMs) : db;
}

function connect(config: Pick<Config, 'projectId' | 'emulators'>): Firestore {
  const emulator = config.emulators.firestore;
  if (!emulator) return new (firestore().Firestore)({ projectId: config.projectId, ignoreUndefinedProperties: true });
  const [host, port] = emulator.split(':');
  return new (firestore().Firestore)({
    projectId: config.projectId,
    host,
    port: Number(port),
    ssl: false,
    customHeaders: { Authorization: 'Bearer owner' },
    ignoreUndefinedProperties: true,
  });
}
