/**
 * `outbox/{id}`: messages waiting to be sent. A message is written in the same
 * transaction as the change that caused it, then delivered by the `mail`
 * worker; it stays `pending` (with `pendingSince`, which the sweeper queries)
 * until the provider accepted it. Once sent, its subject and bodies are
 * removed, since they carry a one-time link.
 *
 * A new message also carries `flushPending` until its first attempt: the
 * field a mail flush (`mailFlushTask`) queries, so many signups share one task
 * and a message that failed once is left to its own task's backoff.
 */
import { randomBytes } from 'node:crypto';
import type { Timestamp, Firestore, Transaction } from '@google-cloud/firestore';
import { firestore } from './firestore-lib.ts';
import type { MailMessage } from '../mail/types.ts';
import { runKeyedTransaction } from './transact.ts';

export const OUTBOX = 'outbox';

/** How long an outbox document is kept (the `expiresAt` TTL field); signup links are dead long before. */
const KEEP_MS = 7 * 24 * 3_600_000;

export interface OutboxMessage extends MailMessage {
  id: string;
  /** What the message is, for logs and metrics (e.g. `activation`, `signin`). */
  kind: string;
  status: 'pending' | 'sent';
  attempts: number;
}

export type ClaimResult =
  | { outcome: 'claimed'; message: OutboxMessage }
  | { outcome: 'sent' }
  | { outcome: 'missing' }
  | { outcome: 'busy'; leaseUntil: Date };

/** A random id: it also names the message's task, and Cloud Tasks wants names without a sequential prefix. */
export function createOutboxId(): string {
  return randomBytes(12).toString('hex');
}

/** Adds a pending message inside the caller's transaction. */
export function addOutboxMessage(tx: Transaction, db: Firestore, id: string, kind: string, message: MailMessage, now: Date): void {
  const at = firestore().Timestamp.fromDate(now);
  tx.create(db.collection(OUTBOX).doc(id), {
    kind,
    ...message,
    status: 'pending',
    pendingSince: at,
    flushPending: at,
    attempts: 0,
    createdAt: at,
    updatedAt: at,
    expiresAt: firestore().Timestamp.fromMillis(now.getTime() + KEEP_MS),
  });
}

/**
 * Takes a lease on a pending message so that two deliveries of the same task
 * (a redelivery racing a sweep) do not both send it. A message leased by a
 * worker that died becomes claimable again when the lease runs out.
 */
export async function claimOutboxMessage(db: Firestore, id: string, now: Date, leaseMs: number): Promise<ClaimResult> {
  const ref = db.collection(OUTBOX).doc(id);
  return runKeyedTransaction(db, ref.path, async (tx): Promise<ClaimResult> => {
    const snap = await tx.get(ref);
    if (!snap.exists) return { outcome: 'missing' };
    const data = snap.data() as Record<string, unknown>;
    if (data.status === 'sent') return { outcome: 'sent' };
    const leaseUntil = (data.leaseUntil as Timestamp | null | undefined)?.toDate();
    if (leaseUntil && leaseUntil > now) return { outcome: 'busy', leaseUntil };
    const attempts = Number(data.attempts ?? 0) + 1;
    tx.update(ref, {
      leaseUntil: firestore().Timestamp.fromMillis(now.getTime() + leaseMs),
      flushPending: firestore().FieldValue.delete(),
      attempts,
      updatedAt: firestore().Timestamp.fromDate(now),
    });
    const message: OutboxMessage = {
      id,
      kind: String(data.kind),
      to: String(data.to),
      subject: String(data.subject),
      text: String(data.text),
      html: String(data.html),
      status: 'pending',
      attempts,
    };
    return { outcome: 'claimed', message };
  });
}

/** Records delivery and drops the content (it holds a one-time link). */
export async function markOutboxSent(db: Firestore, id: string, now: Date): Promise<void> {
  const at = firestore().Timestamp.fromDate(now);
  await db.collection(OUTBOX).doc(id).update({
    status: 'sent',
    sentAt: at,
    updatedAt: at,
    pendingSince: firestore().FieldValue.delete(),
    flushPending: firestore().FieldValue.delete(),
    leaseUntil: firestore().FieldValue.delete(),
    lastError: firestore().FieldValue.delete(),
    subject: firestore().FieldValue.delete(),
    text: firestore().FieldValue.delete(),
    html: firestore().FieldValue.delete(),
  });
}

/** Gives the lease back after a failed send, keeping the provider's error for operators. */
export async function releaseOutboxMessage(db: Firestore, id: string, error: string, now: Date): Promise<void> {
  await db
    .collection(OUTBOX)
    .doc(id)
    .update({ leaseUntil: null, lastError: error.slice(0, 500), updatedAt: firestore().Timestamp.fromDate(now) });
}

/**
 * Ids of messages pending since before `olderThan`, oldest first. Queries the
 * single field `pendingSince` (present only while pending) so production needs
 * no composite index.
 */
export async function listPendingOutboxIds(db: Firestore, olderThan: Date, limit: number): Promise<string[]> {
  const snap = await db
    .collection(OUTBOX)
    .where('pendingSince', '<', firestore().Timestamp.fromDate(olderThan))
    .orderBy('pendingSince')
    .limit(limit)
    .select()
    .get();
  return snap.docs.map((d) => d.id);
}

/** Ids of messages never attempted, oldest first (ordering on the single field `flushPending` leaves out those without it). */
export async function listUnattemptedOutboxIds(db: Firestore, limit: number): Promise<string[]> {
  const snap = await db.collection(OUTBOX).orderBy('flushPending').limit(limit).select().get();
  return snap.docs.map((d) => d.id);
}

/** Takes messages out of the flushes' reach (each has its own task now). */
export async function clearFlushPending(db: Firestore, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const batch = db.batch();
  for (const id of ids) batch.update(db.collection(OUTBOX).doc(id), { flushPending: firestore().FieldValue.delete() });
  await batch.commit();
}

/** A window's flush runs this long after the window closes, past any clock difference between instances and the queue. */
const FLUSH_DELAY_MS = 250;

/**
 * The task that delivers every message created up to the end of the window
 * of `windowMs` holding `at`: named after the window, so all instances create
 * it at most once, and scheduled after the window closed, so it sees every
 * message committed before then. `at` is the wall clock, the queue's own.
 */
export function mailFlushTask(at: number, windowMs: number) {
  const window = Math.floor(at / windowMs);
  return {
    window,
    queue: 'mail',
    options: {
      fn: 'mail',
      path: '/tasks/mail-flush',
      payload: {},
      name: `mail-flush-${windowMs}-${window}`,
      scheduleTime: new Date((window + 1) * windowMs + FLUSH_DELAY_MS),
    },
  };
}

/** The queue and task that deliver a message; the task is named after the message, so it is created at most once. */
export function outboxTask(id: string) {
  return {
    queue: 'mail',
    options: { fn: 'mail', path: '/tasks/mail', payload: { id }, name: `mail-${id}` },
  };
}

// Tasks

/**
 * `taskOutbox/{taskName}`: a task that must reach the queue, written in the
 * same transaction as the change that needs it (a tenant operation), so the
 * change and its work cannot come apart. The request enqueues it right after
 * the commit; when that fails (the queue is down) the record stays and the
 * sweeper enqueues it later. A record lives until the sweeper finds its
 * operation over; the task's deterministic name makes every re-enqueue of a
 * task that still exists a no-op.
 */
export const TASK_OUTBOX = 'taskOutbox';

export interface OutboxTask {
  queue: string;
  options: { fn: string; path: string; payload: Record<string, unknown>; name: string };
}

export interface PendingOutboxTask extends OutboxTask {
  /** The record's id: the task name. */
  id: string;
  pendingSince: Date;
}

/** Adds a task to send inside the caller's transaction; a repeat for the same task name overwrites it. */
export function addOutboxTask(tx: Transaction, db: Firestore, task: OutboxTask, now: Date): void {
  const at = firestore().Timestamp.fromDate(now);
  tx.set(db.collection(TASK_OUTBOX).doc(task.options.name), {
    queue: task.queue,
    options: task.options,
    pendingSince: at,
    createdAt: at,
    expiresAt: firestore().Timestamp.fromMillis(now.getTime() + KEEP_MS),
  });
}

/** Tasks recorded before `olderThan`, oldest first (single-field query on `pendingSince`, no composite index). */
export async function listPendingOutboxTasks(db: Firestore, olderThan: Date, limit: number): Promise<PendingOutboxTask[]> {
  const snap = await db
    .collection(TASK_OUTBOX)
    .where('pendingSince', '<', firestore().Timestamp.fromDate(olderThan))
    .orderBy('pendingSince')
    .limit(limit)
    .get();
  return snap.docs.map((d) => {
    const data = d.data() as { queue: string; options: OutboxTask['options']; pendingSince: Timestamp };
    return { id: d.id, queue: data.queue, options: data.options, pendingSince: data.pendingSince.toDate() };
  });
}

/** Drops a task record whose work is over. */
export async function removeOutboxTask(db: Firestore, id: string): Promise<void> {
  await db.collection(TASK_OUTBOX).doc(id).delete();
}
