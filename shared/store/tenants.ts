/**
 * The one owner of the tenants' Firestore data: `tenants/{id}` (the tenant),
 * `environments/{env}`, `events/{seq}` (the event log, ids zero-padded so
 * string order is time order), `credentials/{hash}`, `metrics/{env}/samples/{minute}`,
 * and `tenantNames/{ownerId}:{name}` reserving a name per owner. Other modules
 * reach these collections through the paths and helpers here; `secrets/` belongs
 * to shared/secrets/store.ts and `costs/` to shared/billing/costs.ts.
 */
import { runItemsTransaction, type ItemOutcome } from './transact.ts';
import { appendLog, listLog, watchLog } from './event-log.ts';
import type { Firestore, Transaction } from '@google-cloud/firestore';
import type { OperationName } from '../tenants/state-machine.ts';
import {
  isTenantId,
  type EnvName,
  type EnvironmentRecord,
  type Tenant,
  type TenantEvent,
  type TenantListQuery,
  type TenantState,
} from '../tenants/types.ts';
import { readTablePage, sortsFor } from './table-query.ts';

/** Tenant document: the public Tenant plus bookkeeping the API does not show. */
export interface TenantDoc extends Tenant {
  eventSeq: number;
  /** The operation in flight, if any; the worker clears it when done. */
  operation?: {
    name: OperationName;
    generation: number;
    env?: EnvName;
    image?: string;
    /** backup: the id it makes; restore: the backup it restores (into `env`). */
    backupId?: string;
    startedAt: string;
  } | null;
  /** Lease held by a worker running this tenant's operation (at-least-once delivery can run two). */
  lease?: { holder: string; until: string } | null;
  /** Names of the latest tasks enqueued for this tenant, so deletion can remove any still pending. */
  tasks?: string[];
}

export const tenantPath = (id: string) => `tenants/${id}`;
export const envPath = (id: string, env: string) => `tenants/${id}/environments/${env}`;
export const namePath = (ownerId: string, name: string) => `tenantNames/${ownerId}:${name}`;
export const eventsPath = (id: string) => `tenants/${id}/events`;
export const credentialPath = (id: string, tokenHash: string) => `tenants/${id}/credentials/${tokenHash}`;
export const metricSamplesPath = (id: string, env: string) => `tenants/${id}/metrics/${env}/samples`;
/** Everything under `tenants/{id}` but the document and its event log, which stay as the tombstone's history. */
const OWNED = ['environments', 'secrets', 'credentials', 'costs', 'metrics', 'backups', 'exports'];

/** Tenants with this name, of one owner or (for an admin) of everyone. */
export async function findTenantsByName(db: Firestore, name: string, ownerId?: string): Promise<TenantDoc[]> {
  let query = db.collection('tenants').where('name', '==', name);
  if (ownerId) query = query.where('ownerId', '==', ownerId);
  return (await query.get()).docs.map((d) => d.data() as TenantDoc);
}

/** Every tenant of an owner, deleted ones included. */
export async function tenantsOfOwner(db: Firestore, ownerId: string): Promise<TenantDoc[]> {
  return (await db.collection('tenants').where('ownerId', '==', ownerId).get()).docs.map((d) => d.data() as TenantDoc);
}

/** Tenants in one of `states`, with only the fields asked for. */
export async function tenantsInStates(
  db: Firestore,
  states: Tenant['state'][],
  fields: (keyof TenantDoc)[],
): Promise<Partial<TenantDoc>[]> {
  const snap = await db
    .collection('tenants')
    .where('state', 'in', states)
    .select(...fields)
    .get();
  return snap.docs.map((d) => ({ ...d.data(), id: d.id }) as Partial<TenantDoc>);
}

export function createEnvironment(db: Firestore, tx: Transaction, record: EnvironmentRecord): void {
  tx.create(db.doc(envPath(record.tenantId, record.env)), record);
}

/** Removes what the tenant owned (see OWNED); its document and events stay. */
export async function deleteTenantData(db: Firestore, id: string): Promise<void> {
  for (const sub of OWNED) await db.recursiveDelete(db.collection(`tenants/${id}/${sub}`));
}

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
  const query = db.collection(`${tenantPath(id)}/environments`);
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
  return appendLog(db, tx, eventsPath(tenant.id), tenant.eventSeq, event, now);
}

/**
 * A write ordered with a tenant's events: an event to append, fields to merge
 * into one of its documents (an environment's record), or a change of the
 * tenant itself decided on the tenant as this transaction read it (an
 * operation's end): `close` answers the event and fields to write, or the
 * error this write alone fails with, writing nothing.
 */
export type TenantWrite =
  | { event: Omit<TenantEvent, 'id' | 'at'>; now: () => Date }
  | { merge: { path: string; fields: Record<string, unknown> } }
  | {
      close: (
        tenant: TenantDoc | undefined,
      ) => { event: Omit<TenantEvent, 'id' | 'at'>; now: Date; fields: Record<string, unknown> } | Error;
    };

/**
 * Appends events and merges records in a transaction on the tenant's event
 * counter, grouped with the writes this process makes for the same tenant
 * meanwhile (runItemsTransaction), in the order they were asked for: a
 * launch's environments appending at once would otherwise only contend, and
 * against the emulator, which locks the document, a contended transaction
 * waits seconds (demo, test and live took 4.6 s instead of 2 s).
 */
export function recordTenantWrite(db: Firestore, tenantId: string, write: TenantWrite): Promise<void> {
  return runItemsTransaction<TenantWrite, void>(db, tenantPath(tenantId), write, async (tx, items) => {
    const tenant = await getTenantDoc(db, tenantId, tx);
    // A tenant that is gone records nothing; only a change of the tenant itself hears of it.
    if (!tenant) return items.map((item) => ('close' in item ? { error: item.close(undefined) } : { value: undefined }));
    let eventSeq = tenant.eventSeq;
    let fields: Record<string, unknown> = {};
    const outcomes = items.map((item): ItemOutcome<void> => {
      if ('event' in item) eventSeq = appendEvent(db, tx, { id: tenantId, eventSeq }, item.event, item.now());
      else if ('merge' in item) tx.set(db.doc(item.merge.path), item.merge.fields, { merge: true });
      else {
        const closing = item.close({ ...tenant, ...fields } as TenantDoc);
        if (closing instanceof Error) return { error: closing };
        eventSeq = appendEvent(db, tx, { id: tenantId, eventSeq }, closing.event, closing.now);
        fields = { ...fields, ...closing.fields };
      }
      return { value: undefined };
    });
    if (eventSeq !== tenant.eventSeq || Object.keys(fields).length > 0) tx.update(db.doc(tenantPath(tenantId)), { ...fields, eventSeq });
    return outcomes;
  });
}

/** Appends one event (recordTenantWrite). */
export function recordEvent(db: Firestore, tenantId: string, event: Omit<TenantEvent, 'id' | 'at'>, now: () => Date): Promise<void> {
  return recordTenantWrite(db, tenantId, { event, now });
}

export function listEvents(db: Firestore, tenantId: string, afterId?: string, limit = 500): Promise<TenantEvent[]> {
  return listLog<TenantEvent>(db, eventsPath(tenantId), afterId, limit);
}

/**
 * Calls `onEvent` for each event after `afterId` as it is appended (live, from a
 * snapshot listener) until the returned function is called; `onReady` after the listener's first snapshot.
 */
export function watchEvents(
  db: Firestore,
  tenantId: string,
  afterId: string,
  onEvent: (event: TenantEvent) => void,
  onError: (err: Error) => void,
  onReady?: () => void,
): () => void {
  return watchLog(db, eventsPath(tenantId), afterId, onEvent, onError, onReady);
}

/** The tenants table's sorts: `createdAt` and `name`, either way (default `-createdAt`, newest first). */
export const TENANT_SORTS = sortsFor({ createdAt: 'createdAt', name: 'name' });
/** What a list shows unless asked for one state: deleted tenants stay as tombstones but are not listed. */
export const LISTED_STATES: TenantState[] = ['provisioning', 'ready', 'failed', 'suspended', 'deleting'];

/**
 * One page of tenants (one owner's, or everyone's for an admin) searched,
 * filtered and sorted in Firestore, with the count of all matches. A whole
 * tenant id matches that tenant exactly; anything else is a name prefix.
 */
export async function queryTenants(
  db: Firestore,
  options: TenantListQuery & { pageSize: number },
): Promise<{ items: TenantDoc[]; total: number; nextPageToken?: string }> {
  const sort = TENANT_SORTS.find((s) => s.key === (options.sort ?? '-createdAt')) ?? TENANT_SORTS[1];
  const q = options.q?.trim().toLowerCase();
  if (q && isTenantId(q)) {
    const doc = await getTenantDoc(db, q);
    const matches =
      doc &&
      (!options.ownerId || doc.ownerId === options.ownerId) &&
      (options.state ? doc.state === options.state : doc.state !== 'deleted') &&
      (!options.plan || doc.plan === options.plan) &&
      (!options.driver || doc.driver === options.driver);
    return matches ? { items: [doc], total: 1 } : { items: [], total: 0 };
  }
  return readTablePage(
    db.collection('tenants'),
    {
      search: q || undefined,
      searchField: 'name',
      searchSortKey: 'name',
      filters: {
        ownerId: options.ownerId,
        state: options.state ?? LISTED_STATES,
        plan: options.plan,
        driver: options.driver,
      },
      sort,
      pageSize: options.pageSize,
      pageToken: options.pageToken,
      validId: isTenantId,
    },
    (data) => data as unknown as TenantDoc,
  );
}
