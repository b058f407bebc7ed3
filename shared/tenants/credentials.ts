/**
 * Generated credentials and their one-time retrieval (R-SECRETS-1/2). The
 * retrieval token is returned to the caller once; only its SHA-256 is stored
 * at `tenants/{id}/credentials/{tokenHash}`, and the first read marks it used.
 */
import { randomBytes } from 'node:crypto';
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { AppError } from '../errors.ts';
import { randomToken, sha256 } from '../secrets/crypto.ts';
import { countGenerated, type SecretStore } from '../secrets/store.ts';
import { credentialPath } from '../store/tenants.ts';
import { ENV_NAMES } from './types.ts';

/** Keys the platform generates for every tenant. */
export const GENERATED_KEYS = ['DATABASE_URL', 'JWT_SECRET', 'APP_SECRET'] as const;

/** Fresh values: a database URL with its own password, a JWT secret and a 64-char random secret. */
export function generateCredentials(tenantId: string): Record<(typeof GENERATED_KEYS)[number], string> {
  const password = randomBytes(24).toString('base64url');
  const db = `t_${tenantId.replace(/-/g, '_')}`;
  return {
    // Local environments use an embedded SQLite file in their data folder; the password keys its encryption.
    DATABASE_URL: `sqlite:./data/${db}.db?key=${password}`,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    APP_SECRET: randomToken(32),
  };
}

const TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;

/** Issues a retrieval token inside the caller's transaction and returns it (the only time it is seen). */
export function issueRetrievalToken(db: Firestore, tx: Transaction, tenantId: string, now: Date): string {
  const token = randomToken(32);
  tx.create(db.doc(credentialPath(tenantId, sha256(token))), {
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + TOKEN_TTL_MS).toISOString(),
    usedAt: null,
  });
  return token;
}

/** Stores newly generated values (encrypted) within a transaction. */
export function storeGenerated(
  secrets: SecretStore,
  tenantId: string,
  values: Record<string, string>,
  now: Date,
  tx: Transaction,
  versions: Record<string, number> = {},
) {
  for (const [key, value] of Object.entries(values)) secrets.put(tenantId, key, value, 'generated', now, tx, versions[key] ?? 0);
}

/**
 * Returns the generated secrets once for a valid token; a second call is 410.
 * Before provisioning has stored them, answers 409 without using the token up.
 */
export async function retrieveCredentials(db: Firestore, secrets: SecretStore, tenantId: string, token: string, now: Date) {
  if (!/^[0-9a-f]{64}$/.test(token)) throw new AppError('invalid_request', 'That credentials link is not valid.');
  const ref = db.doc(credentialPath(tenantId, sha256(token)));
  await db.runTransaction(async (tx) => {
    const snap = await tx.get(ref);
    if (!snap.exists) throw new AppError('not_found', 'That credentials link is not valid.');
    const data = snap.data()!;
    if (data.usedAt) throw new AppError('gone', 'These credentials were already retrieved; rotate them to get new ones.');
    if (data.expiresAt < now.toISOString())
      throw new AppError('gone', 'This credentials link has expired; rotate the credentials to get a new one.');
    if ((await countGenerated(db, tx, tenantId)) < GENERATED_KEYS.length)
      throw new AppError('conflict', 'The credentials are not ready yet; try again when provisioning has stored them.');
    tx.update(ref, { usedAt: now.toISOString() });
  });
  const values = await secrets.values(tenantId);
  const out: Record<string, string> = Object.fromEntries(GENERATED_KEYS.map((k) => [k, values[k]]));
  // Each environment's own resources, as LIVE_DATABASE_URL, DEMO_BUCKET_NAME, …; with them the tenant-wide placeholder URL is no database.
  for (const env of ENV_NAMES) {
    for (const [key, value] of Object.entries(await secrets.envValues(tenantId, env))) out[`${env.toUpperCase()}_${key}`] = value;
  }
  if (Object.keys(out).some((k) => k.endsWith('_DATABASE_URL'))) delete out.DATABASE_URL;
  return out;
}
