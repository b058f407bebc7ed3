import type { Deps } from '../../shared/deps.ts';
import { AppError } from '../../shared/errors.ts';
import { createRouter } from '../../shared/http/router.ts';
import type { Context, Handler, Reply } from '../../shared/http/wrap.ts';
import { verifyTaskRequest } from '../../shared/queue/verify.ts';
import { hashEmail } from '../../shared/store/signups.ts';
import {
  claimOutboxMessage,
  clearFlushPending,
  listPendingOutboxIds,
  listUnattemptedOutboxIds,
  markOutboxSent,
  outboxTask,
  releaseOutboxMessage,
} from '../../shared/store/outbox.ts';
import { shuffled } from '../../shared/shuffle.ts';

/** How long a worker may hold a message while the provider answers (SMTP timeouts are 5–10 s). */
const LEASE_MS = 60_000;
/** A pending message this old without delivery is handed to the queue again by the sweeper. */
export const SWEEP_AFTER_MS = 60_000;
const SWEEP_BATCH = 200;
/** A flush sends at most this many messages, this many at once; more leave a follow-up flush. */
const FLUSH_BATCH = 100;
const FLUSH_PARALLEL = 20;
/** After this many failed sends in a row the provider is taken to be down: the rest get their own tasks unsent. */
const FLUSH_FAILURES_IN_A_ROW = 3;

/**
 * The mail worker, reached only through the task queue:
 * - `POST /tasks/mail {id}` delivers one outbox message. Sent or missing → 200
 *   (nothing to do, so the queue stops); provider failure → 503, and Cloud
 *   Tasks retries with backoff until the provider is back.
 * - `POST /tasks/mail-flush` (one per batching window, `mailFlushTask`)
 *   delivers every message not yet attempted. A message whose send fails is
 *   handed to its own `/tasks/mail` task, and so to the queue's backoff; so
 *   are the rest once the provider failed three times in a row.
 * - `POST /tasks/mail-sweep` (Cloud Scheduler, every minute) re-enqueues
 *   messages pending for over a minute, e.g. when the enqueue after a signup
 *   failed. The task name is derived from the message, so a message whose
 *   task still exists is not queued twice.
 */
export function createMailHandler(deps: Deps): Handler {
  return createRouter([
    { method: 'POST', path: '/tasks/mail', handler: (ctx) => deliver(deps, ctx) },
    { method: 'POST', path: '/tasks/mail-flush', handler: (ctx) => flush(deps, ctx) },
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
  const result = await deliverOne(deps, ctx, id, task.retryCount);
  if (result.outcome === 'busy') {
    const seconds = Math.max(1, Math.ceil((result.leaseUntil.getTime() - deps.now().getTime()) / 1000));
    return retryLater('Another worker is sending this message; the queue will check again.', seconds);
  }
  if (result.outcome === 'failed') return retryLater(`The mail provider (${deps.mailer.name}) failed; the message stays queued.`);
  return { status: 200, body: { id, status: result.outcome } };
}

type Delivery = { outcome: 'sent' | 'missing' | 'failed' } | { outcome: 'busy'; leaseUntil: Date };

/** Claims one message, sends it and records the outcome; a failed send gives the lease back with the provider's reason. */
async function deliverOne(deps: Deps, ctx: Context, id: string, retryCount: number): Promise<Delivery> {
  const claim = await claimOutboxMessage(deps.db, id, deps.now(), LEASE_MS);
  if (claim.outcome === 'missing') {
    ctx.log.warn('mail task for a message that does not exist; dropping it', { outboxId: id });
    return { outcome: 'missing' };
  }
  if (claim.outcome === 'sent') return { outcome: 'sent' };
  if (claim.outcome === 'busy') return claim;
  const { message } = claim;
  const fields = { outboxId: id, kind: message.kind, toHash: hashEmail(message.to), attempt: message.attempts, retryCount };
  try {
    await deps.mailer.send({ to: message.to, subject: message.subject, text: message.text, html: message.html });
  } catch (err) {
    const reason = (err as Error).message?.split('\n')[0] ?? String(err);
    await releaseOutboxMessage(deps.db, id, reason, deps.now());
    ctx.log.warn('mail provider refused; the queue will retry', { ...fields, provider: deps.mailer.name, reason });
    return { outcome: 'failed' };
  }
  await markOutboxSent(deps.db, id, deps.now());
  ctx.log.info('mail sent', { ...fields, provider: deps.mailer.name });
  return { outcome: 'sent' };
}

/**
 * Sends the messages no worker has attempted yet. Each failed one, and every
 * one left once the provider looks down, goes to its own task (named after
 * the message, so at most once) and leaves the flushes' reach; a full batch
 * leaves a follow-up flush. Always 200: nothing stays with this task to retry.
 */
async function flush(deps: Deps, ctx: Context): Promise<Reply> {
  const task = await verifyTaskRequest(ctx, deps.config, 'mail');
  const listed = await listUnattemptedOutboxIds(deps.db, FLUSH_BATCH);
  // Flushes that run at once (a queue resumed after a pause) list the same messages: in another order each, most of
  // their claims meet a message nobody holds yet.
  const ids = shuffled(listed);
  const handOver: string[] = [];
  let sent = 0;
  let failuresInARow = 0;
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      if (failuresInARow >= FLUSH_FAILURES_IN_A_ROW) {
        handOver.push(id);
        continue;
      }
      const result = await deliverOne(deps, ctx, id, task.retryCount);
      if (result.outcome === 'failed') {
        failuresInARow++;
        handOver.push(id);
      } else {
        failuresInARow = 0;
        if (result.outcome === 'sent') sent++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FLUSH_PARALLEL, ids.length) }, worker));
  await clearFlushPending(deps.db, handOver);
  for (const id of handOver) {
    const own = outboxTask(id);
    // If the queue refuses, the message is still pending and the sweeper enqueues it within minutes.
    await deps.queue
      .enqueue(own.queue, own.options)
      .catch((err) => ctx.log.warn('mail task not created; the sweeper will retry', { err, outboxId: id }));
  }
  if (listed.length === FLUSH_BATCH && handOver.length === 0) {
    // Named after the batch's last message: flushes that listed the same batch leave one follow-up, not one each.
    await deps.queue
      .enqueue('mail', { fn: 'mail', path: '/tasks/mail-flush', payload: {}, name: `mail-flush-after-${listed.at(-1)}` })
      .catch((err) => ctx.log.warn('follow-up mail flush not created; the sweeper will send the rest', { err }));
  }
  if (handOver.length > 0) ctx.log.warn('mail flush handed messages to their own tasks', { sent, handedOver: handOver.length });
  return { status: 200, body: { sent, handedOver: handOver.length } };
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
