/**
 * Starting an operation: one Firestore transaction checks the state machine,
 * bumps the tenant's generation, records the operation, an event and the
 * operation's task in the task outbox; then the Cloud Task named from
 * (tenant, operation, generation) is enqueued, so a retried request can never
 * enqueue twice. When the queue is down the answer is still the started
 * operation: the sweeper (operation-sweep.ts) enqueues the task later.
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { authorizeHidden, type Action } from '../auth/authorize.ts';
import type { Principal } from '../auth/principal.ts';
import { AppError, illegalTransition, notFound } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Queue } from '../queue/client.ts';
import { addOutboxTask, type OutboxTask } from '../store/outbox.ts';
import { appendEvent, getTenantDoc, tenantPath, toTenant, type TenantDoc } from '../store/tenants.ts';
import { OPERATIONS, type OperationName, type OperationSpec } from './state-machine.ts';
import type { EnvName, Tenant, TenantState } from './types.ts';
import { stripUndefined } from '../store/plain.ts';

export type { OperationName };

/** 409 when `op` cannot start from the tenant's state; lets a caller refuse before asking anyone to confirm. */
export function checkCanStart(tenant: { state: TenantState }, op: OperationName): void {
  if (!(OPERATIONS[op].from as readonly TenantState[]).includes(tenant.state))
    throw illegalTransition(tenant.state, op === 'provision' ? 'retry provisioning' : op);
}

export const PROVISION_QUEUE = 'provision';

export function taskName(tenantId: string, op: string, generation: number): string {
  return `${tenantId}-${op}-${generation}`;
}

export interface OperationContext {
  db: Firestore;
  queue: Queue;
  now: () => Date;
  /** Where a failed enqueue is reported (the outbox keeps the task); silent when absent. */
  log?: Logger;
}

/** The Cloud Task that runs an operation; its name makes a repeated enqueue a no-op. */
export function operationTask(tenantId: string, op: string, generation: number): OutboxTask {
  return {
    queue: PROVISION_QUEUE,
    options: { fn: 'provision', path: '/tasks/provision', payload: { tenantId, generation, op }, name: taskName(tenantId, op, generation) },
  };
}

/** Records the operation's task in the outbox, inside the transaction that starts the operation. */
export function recordOperationTask(tx: Transaction, db: Firestore, tenantId: string, op: string, generation: number, now: Date): void {
  addOutboxTask(tx, db, operationTask(tenantId, op, generation), now);
}

/**
 * Enqueues an operation's task after its transaction committed. A queue
 * outage is logged, not thrown: the outbox record written with the operation
 * keeps the task, and the sweeper enqueues it once the queue answers.
 * Returns whether the task reached the queue.
 */
export async function enqueueOperation(ctx: OperationContext, tenantId: string, op: string, generation: number): Promise<boolean> {
  const task = operationTask(tenantId, op, generation);
  try {
    await ctx.queue.enqueue(task.queue, task.options);
    return true;
  } catch (err) {
    ctx.log?.warn('operation task not enqueued; the outbox sweeper will enqueue it', {
      tenantId,
      operation: op,
      generation,
      reason: (err as Error).message?.split('\n')[0],
    });
    return false;
  }
}

/**
 * Starts `op` on a tenant after authorizing `action` against it. Repeating the
 * same request while that operation is in flight re-enqueues the same task
 * (a no-op if it exists) and answers the same tenant: retries are idempotent.
 */
export async function startOperation(
  ctx: OperationContext,
  p: Principal,
  tenantId: string,
  action: Action,
  op: OperationName,
  options: {
    env?: EnvName;
    image?: string;
    /** backup: the id it makes; restore: the backup it restores. */
    backupId?: string;
    message: string;
    check?: (t: TenantDoc) => void;
    /** Extra writes in the same transaction when a new operation starts (e.g. rotated secrets). */
    extra?: (tx: Transaction, t: TenantDoc, now: Date) => void;
  },
): Promise<Tenant> {
  const result = await ctx.db.runTransaction(async (tx) => {
    const tenant = await getTenantDoc(ctx.db, tenantId, tx);
    if (!tenant || tenant.state === 'deleted') {
      if (tenant && op === 'delete') {
        authorizeHidden(p, action, tenant, `Tenant ${tenantId}`);
        return { tenant, enqueue: false };
      }
      throw notFound(`Tenant ${tenantId}`);
    }
    authorizeHidden(p, action, tenant, `Tenant ${tenantId}`);
    const inFlight = tenant.operation;
    if (
      inFlight &&
      inFlight.name === op &&
      inFlight.env === options.env &&
      inFlight.image === options.image &&
      inFlight.backupId === options.backupId
    ) {
      return { tenant, enqueue: true };
    }
    if (inFlight && op !== 'delete' && inFlight.name !== 'provision') {
      throw new AppError('conflict', `Wait for the running ${inFlight.name} to finish first.`, { operation: inFlight.name });
    }
    checkCanStart(tenant, op);
    options.check?.(tenant);
    const now = ctx.now();
    options.extra?.(tx, tenant, now);
    const generation = tenant.generation + 1;
    const operation = {
      name: op,
      generation,
      env: options.env,
      image: options.image,
      backupId: options.backupId,
      startedAt: now.toISOString(),
    };
    const eventSeq = appendEvent(
      ctx.db,
      tx,
      tenant,
      { type: OPERATIONS[op].requested[0], env: options.env, message: options.message },
      now,
    );
    recordOperationTask(tx, ctx.db, tenantId, op, generation, now);
    const updated: TenantDoc = {
      ...tenant,
      generation,
      eventSeq,
      operation: stripUndefined(operation),
      state: (OPERATIONS[op] as OperationSpec).while ?? tenant.state,
      tasks: [...(tenant.tasks ?? []), taskName(tenantId, op, generation)].slice(-10),
      error: op === 'provision' ? undefined : tenant.error,
      updatedAt: now.toISOString(),
    };
    tx.set(ctx.db.doc(tenantPath(tenantId)), stripUndefined(updated));
    return { tenant: updated, enqueue: true };
  });
  if (result.enqueue && result.tenant.operation) {
    await enqueueOperation(ctx, tenantId, result.tenant.operation.name, result.tenant.operation.generation);
  }
  return toTenant(result.tenant);
}
