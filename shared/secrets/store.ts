/**
 * Per-tenant secrets, encrypted at rest: `tenants/{id}/secrets/{key}` holds
 * AES-256-GCM ciphertext bound to its path. Values never appear in logs or events.
 * This module is the only one that names that collection.
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { decrypt, encrypt } from './crypto.ts';

export interface SecretMeta {
  key: string;
  /** `generated` by provisioning, `user` for third-party keys. */
  origin: 'generated' | 'user';
  version: number;
  updatedAt: string;
}

export const secretPath = (tenantId: string, key: string) => `tenants/${tenantId}/secrets/${key}`;
const collection = (tenantId: string) => `tenants/${tenantId}/secrets`;

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
    /** All values, for injecting into an environment. */
    async values(tenantId: string): Promise<Record<string, string>> {
      const snap = await db.collection(collection(tenantId)).get();
      return Object.fromEntries(snap.docs.map((d) => [d.id, decrypt(key, d.data().value, secretPath(tenantId, d.id))]));
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
