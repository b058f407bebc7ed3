import type { Deps } from '../../shared/deps.ts';
import { AppError } from '../../shared/errors.ts';
import { createRouter } from '../../shared/http/router.ts';
import type { Context, Handler, Reply } from '../../shared/http/wrap.ts';
import { verifyTaskRequest } from '../../shared/queue/verify.ts';
import { hashEmail } from '../../shared/store/signups.ts';
import { claimOutboxMessage, listPendingOutboxIds, markOutboxSent, outboxTask, releaseOutboxMessage } from '../../shared/store/outbox.ts';

/** How long a worker may hold a message while the provider answers (SMTP timeouts are 5–10 s). */
const LEASE_MS = 60_000;
/** A pending message this old without delivery is handed to the queue again by the sweeper. */
export const SWEEP_AFTER_MS = 60_000;
const SWEEP_BATCH = 200;

/**
 * The mail worker, reached only through the task queue:
 * - `POST /tasks/mail {id}` delivers one outbox message. Sent or missing → 200
 *   (nothing to do, so the queue stops); provider failure → 503, and Cloud
 *   Tasks retries with backoff until the provider is back.
 * - `POST /tasks/mail-sweep` (Cloud Scheduler, every minute) re-enqueues
 *   messages pending for over a minute, e.g. when the enqueue after a signup
 *   failed. The task name is derived from the message, so a message whose
 *   task still exists is not queued twice.
 */
export function createMailHandler(deps: Deps): Handler {
  return createRouter([
    { method: 'POST', path: '/tasks/mail', handler: (ctx) => deliver(deps, ctx) },
    { method: 'POST', path: '/tasks/mail-sweep', handler: (ctx) => sweep(deps, ctx) },
  ]);
}

async function deliver(deps: Deps, ctx: Context): Promise<Reply> {
  const task = await verifyTaskRequest(ctx, deps.config, 'mail');
  const body = await ctx.json();
  const id = body.id;
  if (typeof id !== 'string' || !/^[\w-]{1,100}$/.test(id)) {
    throw new AppError('validation_failed', 'The mail task needs {"id": "<outbox message id>"}.', {
      fields: { id: 'must be an outbox id' },
    });
  }
  const claim = await claimOutboxMessage(deps.db, id, deps.now(), LEASE_MS);
  if (claim.outcome === 'missing') {
    ctx.log.warn('mail task for a message that does not exist; dropping it', { outboxId: id });
    return { status: 200, body: { id, status: 'missing' } };
  }
  if (claim.outcome === 'sent') return { status: 200, body: { id, status: 'sent' } };
  if (claim.outcome === 'busy') {
    const seconds = Math.max(1, Math.ceil((claim.leaseUntil.getTime() - deps.now().getTime()) / 1000));
    return retryLater('Another worker is sending this message; the queue will check again.', seconds);
  }
  const { message } = claim;
  const fields = {
    outboxId: id,
    kind: message.kind,
    toHash: hashEmail(message.to),
    attempt: message.attempts,
    retryCount: task.retryCount,
  };
  try {
    await deps.mailer.send({ to: message.to, subject: message.subject, text: message.text, html: message.html });
  } catch (err) {
    const reason = (err as Error).message?.split('\n')[0] ?? String(err);
    await releaseOutboxMessage(deps.db, id, reason, deps.now());
    ctx.log.warn('mail provider refused; the queue will retry', { ...fields, provider: deps.mailer.name, reason });
    return retryLater(`The mail provider (${deps.mailer.name}) failed; the message stays queued.`);
  }
  await markOutboxSent(deps.db, id, deps.now());
  ctx.log.info('mail sent', { ...fields, provider: deps.mailer.name });
  return { status: 200, body: { id, status: 'sent' } };
}

/**
 * A 503 answered rather than thrown: an outage is expected and already logged
 * as a warning above, not a bug for the edge to log with a stack on every retry.
 */
function retryLater(message: string, seconds?: number): Reply {
  const error = new AppError('unavailable', message);
  return { status: error.status, body: error.toBody(), headers: seconds ? { 'Retry-After': String(seconds) } : {} };
}

async function sweep(deps: Deps, ctx: Context): Promise<Reply> {
  await verifyTaskRequest(ctx, deps.config, 'mail');
  const ids = await listPendingOutboxIds(deps.db, new Date(deps.now().getTime() - SWEEP_AFTER_MS), SWEEP_BATCH);
  let enqueued = 0;
  for (const id of ids) {
    const task = outboxTask(id);
    const { created } = await deps.queue.enqueue(task.queue, task.options);
    if (created) enqueued++;
  }
  if (enqueued > 0) ctx.log.warn('outbox sweep re-enqueued messages whose task was missing', { pending: ids.length, enqueued });
  return { status: 200, body: { pending: ids.length, enqueued } };
}
