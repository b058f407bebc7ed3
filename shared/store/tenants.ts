/**
 * Firestore layout of tenants: `tenants/{id}` (the tenant), `environments/{env}`,
 * `events/{seq}` (the event log, ids zero-padded so string order is time order),
 * and `tenantNames/{ownerId}:{name}` reserving a name per owner.
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { isTenantId, type EnvName, type EnvironmentRecord, type Tenant, type TenantEvent } from '../tenants/types.ts';

/** Tenant document: the public Tenant plus bookkeeping the API does not show. */
export interface TenantDoc extends Tenant {
  eventSeq: number;
  /** The operation in flight, if any; the worker clears it when done. */
  operation?: { name: string; generation: number; env?: EnvName; image?: string; startedAt: string } | null;
  /** Lease held by a worker running this tenant's operation (at-least-once delivery can run two). */
  lease?: { holder: string; until: string } | null;
  /** Names of the latest tasks enqueued for this tenant, so deletion can remove any still pending. */
  tasks?: string[];
}

export const tenantPath = (id: string) => `tenants/${id}`;
export const envPath = (id: string, env: string) => `tenants/${id}/environments/${env}`;
export const namePath = (ownerId: string, name: string) => `tenantNames/${ownerId}:${name}`;

/** What the API shows of a tenant document. */
export function toTenant(doc: TenantDoc): Tenant & { operation?: string } {
  const { eventSeq: _seq, lease: _lease, tasks: _tasks, operation, ...tenant } = doc;
  return operation ? { ...tenant, operation: operation.name } : tenant;
}

export async function getTenantDoc(db: Firestore, id: string, tx?: Transaction): Promise<TenantDoc | undefined> {
  // Anything but a tenant id (a slash, a dot path, a prototype key) names no tenant, rather than a bad document path.
  if (!isTenantId(id)) return undefined;
  const ref = db.doc(tenantPath(id));
  const snap = tx ? await tx.get(ref) : await ref.get();
  return snap.exists ? (snap.data() as TenantDoc) : undefined;
}

export async function listEnvironments(db: Firestore, id: string, tx?: Transaction): Promise<EnvironmentRecord[]> {
  const query = db.collection(`tenants/${id}/environments`);
  const snap = tx ? await tx.get(query) : await query.get();
  return snap.docs.map((d) => d.data() as EnvironmentRecord);
}

/**
 * Appends an event inside a transaction that has already read the tenant (so
 * the sequence cannot collide); returns the new sequence for the caller to store.
 */
export function appendEvent(
  db: Firestore,
  tx: Transaction,
  tenant: Pick<TenantDoc, 'id' | 'eventSeq'>,
  event: Omit<TenantEvent, 'id' | 'at'>,
  now: Date,
): number {
  const seq = tenant.eventSeq + 1;
  const id = String(seq).padStart(8, '0');
  const record: TenantEvent = { id, at: now.toISOString(), ...event };
  tx.create(db.doc(`tenants/${tenant.id}/events/${id}`), stripUndefined(record));
  return seq;
}

/** Appends one event on its own (worker progress); retried by Firestore on contention. */
export async function recordEvent(db: Firestore, tenantId: string, event: Omit<TenantEvent, 'id' | 'at'>, now: () => Date): Promise<void> {
  await db.runTransaction(async (tx) => {
    const tenant = await getTenantDoc(db, tenantId, tx);
    if (!tenant) return;
    const eventSeq = appendEvent(db, tx, tenant, event, now());
    tx.update(db.doc(tenantPath(tenantId)), { eventSeq });
  });
}

export async function listEvents(db: Firestore, tenantId: string, afterId?: string, limit = 500): Promise<TenantEvent[]> {
  let query = db.collection(`tenants/${tenantId}/events`).orderBy('id').limit(limit);
  if (afterId) query = query.startAfter(afterId);
  const snap = await query.get();
  return snap.docs.map((d) => d.data() as TenantEvent);
}

export function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
