/**
 * The deletion grace period (issue 21): deleting a tenant stops its
 * environments but keeps its databases, buckets, backups and name for
 * `TENANT_DATA_GRACE_DAYS` (default 7). Within it the owner or an admin
 * restores the tenant (`POST /api/v1/tenants/{id}/restore`), which provisions
 * it again, running, on the data it kept. One day before the end the owner
 * gets a reminder mail through the outbox; after it, the sweeper (run by
 * `/tasks/provision-sweep`) drops the data for good and records `data_purged`.
 */
import { recordSystemAudit } from '../audit/store.ts';
import type { Principal } from '../auth/principal.ts';
import { authorizeHidden } from '../auth/authorize.ts';
import type { Deps } from '../deps.ts';
import { AppError, notFound } from '../errors.ts';
import { addOutboxMessage, createOutboxId, outboxTask } from '../store/outbox.ts';
import {
  appendEvent,
  deleteTenantData,
  getTenantDoc,
  listEnvironments,
  namePath,
  tenantPath,
  toTenant,
  type TenantDoc,
} from '../store/tenants.ts';
import { claimTenantSlot, findPlan } from './entitlements.ts';
import { removeIdentity } from './identity-step.ts';
import { removeExports } from './exports.ts';
import { enqueueOperation, recordOperationTask, taskName } from './operations.ts';
import { renderDeletionReminder } from './grace-mail.ts';
import { removeResources } from './resources-step.ts';
import { OPERATIONS } from './state-machine.ts';
import { isTenantId, type Tenant } from './types.ts';
import type { StepContext } from './worker-env.ts';
import { stripUndefined } from '../store/plain.ts';

const DAY_MS = 86_400_000;
/** The reminder goes out this long before the data is dropped. */
export const REMINDER_BEFORE_MS = DAY_MS;

/** When a tenant deleted now keeps its data until; undefined when nothing is kept (no grace, or no data resources). */
export function graceEndsAt(deps: Pick<Deps, 'config' | 'resources'>, now: Date): string | undefined {
  const days = deps.config.resources.graceDays;
  const flags = deps.resources().flags;
  if (days <= 0 || (!flags.database && !flags.bucket)) return undefined;
  return new Date(now.getTime() + days * DAY_MS).toISOString();
}

/**
 * Starts restoring a deleted tenant: 404 when it is not the caller's (or does
 * not exist), 409 when it is not deleted or its grace period is over. The
 * tenant takes its plan slot back (403/402 as a creation would) and is
 * provisioned again on its kept data. A repeat while the restore runs answers
 * the same tenant.
 */
export async function restoreTenant(deps: Deps, p: Principal, id: string): Promise<Tenant> {
  if (!isTenantId(id)) throw notFound(`Tenant ${id}`);
  const result = await deps.db.runTransaction(async (tx) => {
    const tenant = (await getTenantDoc(deps.db, id, tx)) as GraceDoc | undefined;
    if (!tenant) throw notFound(`Tenant ${id}`);
    authorizeHidden(p, 'tenants.delete', tenant, `Tenant ${id}`);
    if (tenant.operation?.name === 'undelete') return { tenant, enqueue: true };
    if (tenant.state !== 'deleted') throw new AppError('conflict', `Tenant ${tenant.name} is not deleted; there is nothing to restore.`);
    const now = deps.now();
    if (!tenant.restorableUntil || tenant.purgingAt || tenant.restorableUntil <= now.toISOString()) {
      throw new AppError(
        'conflict',
        tenant.dataPurgedAt || tenant.restorableUntil
          ? `The grace period of ${tenant.name} ended${tenant.restorableUntil ? ` on ${tenant.restorableUntil}` : ''}: its data is deleted and it cannot be restored.`
          : `${tenant.name} was deleted without keeping its data; it cannot be restored.`,
        { restorableUntil: tenant.restorableUntil ?? null },
      );
    }
    // The slot the deletion gave back is taken again, under the same rules as a creation.
    await claimTenantSlot(deps.db, tx, p, tenant.ownerId, findPlan(deps.config, tenant.plan));
    const generation = tenant.generation + 1;
    const eventSeq = appendEvent(
      deps.db,
      tx,
      tenant,
      { type: OPERATIONS.undelete.requested[0], message: `Restoring ${tenant.name} with its data: every environment starts again.` },
      now,
    );
    recordOperationTask(tx, deps.db, id, 'undelete', generation, now);
    const updated: GraceDoc = {
      ...tenant,
      generation,
      eventSeq,
      state: OPERATIONS.undelete.while,
      operation: { name: 'undelete', generation, startedAt: now.toISOString() },
      tasks: [...(tenant.tasks ?? []), taskName(id, 'undelete', generation)].slice(-10),
      restorableUntil: null,
      reminderSentAt: null,
      error: undefined,
      updatedAt: now.toISOString(),
    };
    tx.set(deps.db.doc(tenantPath(id)), stripUndefined(updated));
    return { tenant: updated, enqueue: true };
  });
  if (result.enqueue && result.tenant.operation) {
    await enqueueOperation(
      { db: deps.db, queue: deps.queue, now: deps.now, log: deps.log },
      id,
      'undelete',
      result.tenant.operation.generation,
    );
  }
  return toTenant(result.tenant);
}

/** Grace bookkeeping on a tenant document (not part of the public Tenant). */
type GraceDoc = TenantDoc & { reminderSentAt?: string | null; purgingAt?: string | null };

/** Drops everything a deleted tenant kept: backups, databases, roles, buckets, stored values, identity and its name. */
export async function purgeTenantData(deps: Deps, tenant: TenantDoc): Promise<void> {
  const envs = new Set<string>([...tenant.environments, ...(await listEnvironments(deps.db, tenant.id)).map((e) => e.env)]);
  const ctx: StepContext = { deps, tenant, generation: tenant.generation, checkCurrent: async () => undefined };
  await removeResources(ctx, [...envs]);
  await removeIdentity(ctx);
  await removeExports(deps, tenant.id);
  await deleteTenantData(deps.db, tenant.id);
  const nameRef = deps.db.doc(namePath(tenant.ownerId, tenant.name));
  await deps.db.runTransaction(async (tx) => {
    const snap = await tx.get(nameRef);
    if (snap.exists && snap.get('tenantId') === tenant.id) tx.delete(nameRef);
  });
}

export interface GraceSweepResult {
  reminded: number;
  purged: number;
}

/**
 * Sends each due reminder once and drops the data of tenants whose grace
 * period is over. Idempotent: a reminder is claimed in the transaction that
 * queues its mail, and a purge is claimed before anything is dropped (a
 * restore is refused from then on); dropping what is already gone is fine.
 */
export async function sweepDeletedTenants(deps: Deps, options: { limit?: number } = {}): Promise<GraceSweepResult> {
  const now = deps.now();
  const horizon = new Date(now.getTime() + REMINDER_BEFORE_MS).toISOString();
  const snap = await deps.db
    .collection('tenants')
    .where('restorableUntil', '<=', horizon)
    .orderBy('restorableUntil')
    .limit(options.limit ?? 100)
    .get();
  const result: GraceSweepResult = { reminded: 0, purged: 0 };
  for (const doc of snap.docs) {
    const tenant = doc.data() as GraceDoc;
    if (tenant.state !== 'deleted' || !tenant.restorableUntil) continue;
    try {
      if (tenant.restorableUntil <= now.toISOString()) {
        if (await purgeOne(deps, tenant.id)) result.purged++;
      } else if (!tenant.reminderSentAt && (await remindOne(deps, tenant))) {
        result.reminded++;
      }
    } catch (err) {
      deps.log.warn('grace sweep failed for a tenant; the next sweep retries', { tenantId: tenant.id, err });
    }
  }
  return result;
}

async function purgeOne(deps: Deps, id: string): Promise<boolean> {
  const now = deps.now().toISOString();
  const claimed = await deps.db.runTransaction(async (tx) => {
    const t = (await getTenantDoc(deps.db, id, tx)) as GraceDoc | undefined;
    if (t?.state !== 'deleted' || !t.restorableUntil || t.restorableUntil > now) return undefined;
    if (!t.purgingAt) tx.update(deps.db.doc(tenantPath(id)), { purgingAt: now });
    return t;
  });
  if (!claimed) return false;
  await purgeTenantData(deps, claimed);
  await deps.db.runTransaction(async (tx) => {
    const t = await getTenantDoc(deps.db, id, tx);
    if (!t) return;
    const eventSeq = appendEvent(
      deps.db,
      tx,
      t,
      { type: 'data_purged', message: `The grace period ended: the databases, buckets and backups of ${t.name} are deleted for good.` },
      deps.now(),
    );
    tx.update(deps.db.doc(tenantPath(id)), { eventSeq, restorableUntil: null, purgingAt: null, dataPurgedAt: now, updatedAt: now });
  });
  await recordSystemAudit(deps, 'grace-sweep', 'PURGE_TENANT_DATA', claimed, { status: 200 }, deps.config.audit.retentionDays);
  deps.log.info('deleted tenant data purged after its grace period', { tenantId: id });
  return true;
}

async function remindOne(deps: Deps, tenant: GraceDoc): Promise<boolean> {
  const to = tenant.ownerEmail ?? (await ownerEmail(deps, tenant.ownerId));
  if (!to) {
    deps.log.warn('no address for the deletion reminder', { tenantId: tenant.id });
    return false;
  }
  const outboxId = createOutboxId();
  const queued = await deps.db.runTransaction(async (tx) => {
    const t = (await getTenantDoc(deps.db, tenant.id, tx)) as GraceDoc | undefined;
    if (t?.state !== 'deleted' || t.reminderSentAt || t.restorableUntil !== tenant.restorableUntil) return false;
    const now = deps.now();
    const message = renderDeletionReminder({ to, tenant: t, publicUrl: deps.config.publicUrl, deletesAt: t.restorableUntil! });
    addOutboxMessage(tx, deps.db, outboxId, 'deletion-reminder', message, now);
    const eventSeq = appendEvent(
      deps.db,
      tx,
      t,
      { type: 'deletion_reminder_sent', message: `Reminded the owner that the data is deleted on ${t.restorableUntil}.` },
      now,
    );
    tx.update(deps.db.doc(tenantPath(t.id)), { reminderSentAt: now.toISOString(), eventSeq });
    return true;
  });
  if (!queued) return false;
  const task = outboxTask(outboxId);
  // A queue outage leaves the message in the outbox, which the mail sweeper sends later.
  await deps.queue.enqueue(task.queue, task.options).catch((err: unknown) => deps.log.warn('reminder mail task not created', { err }));
  return true;
}

async function ownerEmail(deps: Deps, uid: string): Promise<string | undefined> {
  try {
    return (await (await deps.auth()).getUser(uid)).email ?? undefined;
  } catch {
    return undefined;
  }
}
