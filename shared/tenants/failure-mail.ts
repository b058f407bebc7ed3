/**
 * Owners hear when an environment fails: a mail through the outbox
 * (shared/store/outbox.ts), written in the same transaction that records the
 * failure. Its id is derived from the failure (tenant, environment and a key
 * naming this failure: the operation's generation, or the runtime's run), so a
 * retried transaction or a redelivered task writes it once, and the mail
 * worker's lease sends it once.
 */
import { createHash } from 'node:crypto';
import type { Firestore, Transaction } from '@google-cloud/firestore';
import type { Deps } from '../deps.ts';
import { renderEnvironmentFailedMail } from '../mail/templates.ts';
import { addOutboxMessage, OUTBOX, outboxTask } from '../store/outbox.ts';
import type { TenantDoc } from '../store/tenants.ts';

export interface EnvironmentFailure {
  env: string;
  /** provision, deploy, resume, … or "runtime". */
  what: string;
  reason: string;
  /** Names this failure: the same key is the same failure (mailed once). */
  key: string;
}

export function failureMailId(tenantId: string, failure: EnvironmentFailure): string {
  return createHash('sha256')
    .update(`environment-failed\u0000${tenantId}\u0000${failure.env}\u0000${failure.key}`)
    .digest('hex')
    .slice(0, 32);
}

/** Reads whether this failure's mail exists. Call before the transaction's writes (Firestore reads come first). */
export async function failureMailQueued(db: Firestore, tx: Transaction, tenantId: string, failure: EnvironmentFailure): Promise<boolean> {
  return (await tx.get(db.collection(OUTBOX).doc(failureMailId(tenantId, failure)))).exists;
}

/** Adds the mail to the owner inside the caller's transaction; returns its outbox id, or undefined when the owner has no address. */
export function addFailureMail(
  deps: Pick<Deps, 'db' | 'config'>,
  tx: Transaction,
  tenant: Pick<TenantDoc, 'id' | 'name'>,
  to: string | undefined,
  failure: EnvironmentFailure,
  now: Date,
): string | undefined {
  if (!to) return undefined;
  const id = failureMailId(tenant.id, failure);
  const link = `${deps.config.publicUrl.replace(/\/+$/, '')}/tenants.html?id=${encodeURIComponent(tenant.id)}`;
  const message = renderEnvironmentFailedMail({
    to,
    tenantName: tenant.name,
    env: failure.env,
    what: failure.what,
    reason: failure.reason,
    link,
  });
  addOutboxMessage(tx, deps.db, id, 'environment_failed', message, now);
  return id;
}

/** The owner's address: kept on the tenant when the owner created it, else their account's (undefined if Auth is unreachable). */
export async function ownerAddress(
  deps: Pick<Deps, 'auth'>,
  tenant: Pick<TenantDoc, 'ownerId' | 'ownerEmail'>,
): Promise<string | undefined> {
  if (tenant.ownerEmail) return tenant.ownerEmail;
  try {
    return (await (await deps.auth()).getUser(tenant.ownerId)).email ?? undefined;
  } catch {
    return undefined;
  }
}

/** Creates the mail task after the commit; if the queue is down the outbox sweeper sends it later. */
export async function enqueueFailureMail(deps: Pick<Deps, 'queue' | 'log'>, id: string | undefined): Promise<void> {
  if (!id) return;
  const task = outboxTask(id);
  await deps.queue.enqueue(task.queue, task.options).catch((err) => {
    deps.log.warn('failure mail task not created; the outbox sweeper will send it', { err, outboxId: id });
  });
}
