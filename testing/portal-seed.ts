/**
 * Thousands of users and tenants for the portal's scale test and bench,
 * written fast: users through the Auth emulator's batch import (1,000 a call,
 * `importUsers`) plus their directory entries, and tenants as documents, both
 * with Firestore batches of 500 writes run a few at a time.
 */
import type { Firestore, WriteBatch } from '@google-cloud/firestore';
import type { Auth } from 'firebase-admin/auth';
import { mirrorOf } from '../shared/store/users.ts';
import type { TenantDoc } from '../shared/store/tenants.ts';
import type { EnvName, TenantState } from '../shared/tenants/types.ts';

const BATCH = 500;
const PARALLEL = 4;

async function writeAll<T>(db: Firestore, items: T[], write: (batch: WriteBatch, item: T) => void): Promise<void> {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) batches.push(items.slice(i, i + BATCH));
  for (let i = 0; i < batches.length; i += PARALLEL) {
    await Promise.all(
      batches.slice(i, i + PARALLEL).map((part) => {
        const batch = db.batch();
        for (const item of part) write(batch, item);
        return batch.commit();
      }),
    );
  }
}

export interface SeededUser {
  uid: string;
  email: string;
}

/** `count` users `<prefix>-00042@example.com` (uid `<prefix>-00042`), every tenth an admin, created a minute apart. */
export async function seedUsers(
  auth: Auth,
  db: Firestore,
  count: number,
  prefix: string,
  start = new Date('2026-01-01T00:00:00Z'),
): Promise<SeededUser[]> {
  const users = Array.from({ length: count }, (_, i) => {
    const n = String(i).padStart(5, '0');
    return {
      uid: `${prefix}-${n}`,
      email: `${prefix}-${n}@example.com`,
      admin: i % 10 === 0,
      createdAt: new Date(start.getTime() + i * 60_000),
    };
  });
  for (let i = 0; i < users.length; i += 1000) {
    const result = await auth.importUsers(
      users.slice(i, i + 1000).map((u) => ({
        uid: u.uid,
        email: u.email,
        emailVerified: true,
        customClaims: { role: u.admin ? 'admin' : 'tenant' },
        metadata: { creationTime: u.createdAt.toUTCString(), lastSignInTime: u.createdAt.toUTCString() },
      })),
    );
    if (result.failureCount > 0) throw new Error(`Auth import failed for ${result.failureCount} users: ${result.errors[0]?.error.message}`);
  }
  const now = new Date();
  await writeAll(db, users, (batch, u) =>
    batch.set(
      db.doc(`users/${u.uid}`),
      mirrorOf({ uid: u.uid, email: u.email, role: u.admin ? 'admin' : 'tenant', createdAt: u.createdAt.toISOString() }, now),
    ),
  );
  return users.map(({ uid, email }) => ({ uid, email }));
}

const STATES: TenantState[] = ['ready', 'ready', 'ready', 'suspended', 'failed', 'provisioning'];
const PLANS = ['free', 'starter', 'pro'];
const DRIVERS = ['local', 'cloud-run'];
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** A valid tenant id made from a number (`t-` and 10 base32 characters). */
export function seededTenantId(n: number): string {
  let id = '';
  for (let i = 0, v = n; i < 10; i++, v = Math.floor(v / 32)) id = ALPHABET[v % 32] + id;
  return `t-${id}`;
}

/** `count` tenant documents named `<prefix>-00042`, owned round-robin by `owners`, states, plans and drivers mixed, launched over the last 30 days. */
export async function seedTenants(
  db: Firestore,
  count: number,
  prefix: string,
  owners: SeededUser[],
  now = new Date(),
): Promise<TenantDoc[]> {
  const tenants = Array.from({ length: count }, (_, i): TenantDoc => {
    const owner = owners[i % owners.length];
    const createdAt = new Date(now.getTime() - ((i * 7919) % (30 * 86_400)) * 1000).toISOString();
    return {
      id: seededTenantId(i + 1),
      name: `${prefix}-${String(i).padStart(5, '0')}`,
      ownerId: owner.uid,
      ownerEmail: owner.email,
      plan: PLANS[i % PLANS.length],
      region: 'local',
      memoryMb: 256,
      state: STATES[i % STATES.length],
      environments: ['demo', 'test', 'live'] as EnvName[],
      driver: DRIVERS[i % DRIVERS.length],
      image: 'local/default',
      generation: 1,
      urls: {},
      createdAt,
      updatedAt: createdAt,
      eventSeq: 0,
    };
  });
  await writeAll(db, tenants, (batch, t) => batch.set(db.doc(`tenants/${t.id}`), t));
  return tenants;
}
