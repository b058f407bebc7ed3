/**
 * The operations' outbox sweeper, run every minute by Cloud Scheduler
 * (`POST /tasks/provision-sweep` on the provision function) and by `npm start`.
 * For every task recorded longer ago than `olderThanMs`:
 * - its operation (or rollout step) is over (finished, failed, superseded or the tenant gone) →
 *   the record is dropped;
 * - otherwise the task is enqueued again. Its name is derived from (tenant,
 *   operation, generation), so a task that still exists is not duplicated and
 *   only a missing one (the enqueue after the request failed, or the queue
 *   lost it) is created.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Logger } from '../log.ts';
import type { Queue } from '../queue/client.ts';
import { listPendingOutboxTasks, removeOutboxTask, type PendingOutboxTask } from '../store/outbox.ts';
import { getTenantDoc } from '../store/tenants.ts';
import { isRolloutStepDue } from '../releases/store.ts';

/** A recorded task younger than this is left alone: the request that wrote it is still enqueuing it. */
export const OPERATION_SWEEP_AFTER_MS = 60_000;
const SWEEP_BATCH = 200;

export interface SweepResult {
  /** Records looked at. */
  pending: number;
  /** Tasks that were missing and are now queued. */
  enqueued: number;
  /** Records dropped because their operation is over. */
  done: number;
}

export async function sweepOperations(
  deps: { db: Firestore; queue: Queue; now: () => Date; log: Logger },
  options: { olderThanMs?: number } = {},
): Promise<SweepResult> {
  const olderThan = new Date(deps.now().getTime() - (options.olderThanMs ?? OPERATION_SWEEP_AFTER_MS));
  const records = await listPendingOutboxTasks(deps.db, olderThan, SWEEP_BATCH);
  const result: SweepResult = { pending: records.length, enqueued: 0, done: 0 };
  for (const record of records) {
    if (!(await isInFlight(deps.db, record))) {
      await removeOutboxTask(deps.db, record.id);
      result.done++;
      continue;
    }
    const { created } = await deps.queue.enqueue(record.queue, record.options);
    if (created) {
      result.enqueued++;
      deps.log.warn('operation sweep enqueued a task that was missing', {
        task: record.id,
        pendingSince: record.pendingSince.toISOString(),
      });
    }
  }
  return result;
}

/** Whether the operation that recorded this task is still the tenant's current one. */
async function isInFlight(db: Firestore, record: PendingOutboxTask): Promise<boolean> {
  const { rolloutId, step } = record.options.payload as { rolloutId?: unknown; step?: unknown };
  if (typeof rolloutId === 'string' && typeof step === 'number') return isRolloutStepDue(db, rolloutId, step);
  const { tenantId, generation } = record.options.payload as { tenantId?: unknown; generation?: unknown };
  if (typeof tenantId !== 'string' || typeof generation !== 'number') return false;
  const tenant = await getTenantDoc(db, tenantId);
  return Boolean(tenant && tenant.state !== 'deleted' && tenant.operation && tenant.operation.generation === generation);
}
