/**
 * Per-tenant secrets, encrypted at rest: `tenants/{id}/secrets/{key}` holds
 * AES-256-GCM ciphertext bound to its path. Values never appear in logs or events.
 * An environment's platform-managed values (its own `DATABASE_URL`,
 * `BUCKET_NAME`, …) live at `tenants/{id}/environments/{env}/secrets/{key}`
 * and win over the tenant's. This module is the only one that names those collections.
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { decrypt, encrypt } from './crypto.ts';

export interface SecretMeta {
  key: string;
  /** `generated` by provisioning, `user` for third-party keys, `platform` for an environment's resources. */
  origin: 'generated' | 'user' | 'platform';
  version: number;
  updatedAt: string;
}

export const secretPath = (tenantId: string, key: string) => `tenants/${tenantId}/secrets/${key}`;
const collection = (tenantId: string) => `tenants/${tenantId}/secrets`;
export const envSecretPath = (tenantId: string, env: string, key: string) => `tenants/${tenantId}/environments/${env}/secrets/${key}`;
const envCollection = (tenantId: string, env: string) => `tenants/${tenantId}/environments/${env}/secrets`;

/** How many generated secrets the tenant has, read inside the caller's transaction. */
export async function countGenerated(db: Firestore, tx: Transaction, tenantId: string): Promise<number> {
  return (await tx.get(db.collection(collection(tenantId)).where('origin', '==', 'generated'))).size;
}

/**
 * Builds the encrypted secret store on Firestore with the 32-byte key from
 * config (SECRETS_KEY). Each value is bound to its document path when
 * encrypted, so a ciphertext copied to another tenant does not decrypt.
 */
export function createSecretStore(db: Firestore, key: Buffer) {
  /** The environment's platform-managed values only. */
  async function envValues(tenantId: string, env: string): Promise<Record<string, string>> {
    const snap = await db.collection(envCollection(tenantId, env)).get();
    return Object.fromEntries(snap.docs.map((d) => [d.id, decrypt(key, d.data().value, envSecretPath(tenantId, env, d.id))]));
  }
  return {
    async list(tenantId: string): Promise<SecretMeta[]> {
      const snap = await db.collection(collection(tenantId)).get();
      return snap.docs.map((d) => {
        const { value: _value, ...meta } = d.data();
        return meta as SecretMeta;
      });
    },
    async get(tenantId: string, name: string): Promise<{ meta: SecretMeta; value: string } | undefined> {
      const doc = await db.doc(secretPath(tenantId, name)).get();
      if (!doc.exists) return undefined;
      const { value, ...meta } = doc.data()!;
      return { meta: meta as SecretMeta, value: decrypt(key, value, secretPath(tenantId, name)) };
    },
    /** All values, for injecting into an environment: the tenant's, then (winning) the environment's own when `env` is given. */
    async values(tenantId: string, env?: string): Promise<Record<string, string>> {
      // Both reads at once: a launch reads them for every environment it starts.
      const [snap, own] = await Promise.all([db.collection(collection(tenantId)).get(), env ? envValues(tenantId, env) : {}]);
      const tenant = Object.fromEntries(snap.docs.map((d) => [d.id, decrypt(key, d.data().value, secretPath(tenantId, d.id))]));
      return { ...tenant, ...own };
    },
    envValues,
    /** Stores platform-managed values of one environment (each replaces the one before). */
    async putEnv(tenantId: string, env: string, values: Record<string, string>, now: Date): Promise<void> {
      const batch = db.batch();
      for (const { path, fields } of this.envDocs(tenantId, env, values, now)) batch.set(db.doc(path), fields);
      await batch.commit();
    },
    /** The documents putEnv writes (values encrypted), for a caller that commits them with writes of its own. */
    envDocs(tenantId: string, env: string, values: Record<string, string>, now: Date): { path: string; fields: Record<string, unknown> }[] {
      return Object.entries(values).map(([name, value]) => {
        const path = envSecretPath(tenantId, env, name);
        return { path, fields: { key: name, origin: 'platform', env, updatedAt: now.toISOString(), value: encrypt(key, value, path) } };
      });
    },
    /** Forgets one environment's platform-managed values (its resources are gone). */
    async removeEnv(tenantId: string, env: string): Promise<void> {
      await db.recursiveDelete(db.collection(envCollection(tenantId, env)));
    },
    put(tenantId: string, name: string, value: string, origin: SecretMeta['origin'], now: Date, tx?: Transaction, previousVersion = 0) {
      const data = {
        key: name,
        origin,
        version: previousVersion + 1,
        updatedAt: now.toISOString(),
        value: encrypt(key, value, secretPath(tenantId, name)),
      };
      const ref = db.doc(secretPath(tenantId, name));
      return tx ? tx.set(ref, data) : ref.set(data);
    },
    async remove(tenantId: string, name: string) {
      await db.doc(secretPath(tenantId, name)).delete();
    },
  };
}

export type SecretStore = ReturnType<typeof createSecretStore>;
