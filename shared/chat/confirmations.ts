/**
 * Confirmations of destructive chat actions, stored at
 * `conversations/{id}/confirmations/{cid}`. Each is bound to exactly one
 * (user, conversation, action, arguments) by a hash, expires quickly, and is
 * claimed once inside a transaction, so a replayed or shared id does nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { AppError, notFound } from '../errors.ts';
import type { ActionName } from './actions.ts';

export interface Confirmation {
  id: string;
  action: ActionName;
  args: Record<string, unknown>;
  /** What the user is asked to confirm, in words. */
  summary: string;
  expiresAt: string;
}

interface StoredConfirmation extends Confirmation {
  uid: string;
  conversationId: string;
  hash: string;
  createdAt: string;
  usedAt?: string;
  /** For a Firestore TTL policy: expired confirmations are removed eventually. */
  expireAt: Date;
}

/** Key order must not change the hash, so objects are serialized with sorted keys. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function hashBinding(uid: string, conversationId: string, action: string, args: unknown): string {
  return createHash('sha256').update(canonical({ uid, conversationId, action, args })).digest('hex');
}

const ref = (db: Firestore, conversationId: string, id: string) =>
  db.collection('conversations').doc(conversationId).collection('confirmations').doc(id);

/** Stores a pending confirmation and returns what the user is shown. */
export async function createConfirmation(
  db: Firestore,
  input: {
    uid: string;
    conversationId: string;
    action: ActionName;
    args: Record<string, unknown>;
    summary: string;
    now: Date;
    ttlSeconds: number;
  },
): Promise<Confirmation> {
  const id = `c-${randomBytes(12).toString('base64url')}`;
  const expires = new Date(input.now.getTime() + input.ttlSeconds * 1000);
  const stored: StoredConfirmation = {
    id,
    uid: input.uid,
    conversationId: input.conversationId,
    action: input.action,
    args: input.args,
    summary: input.summary,
    hash: hashBinding(input.uid, input.conversationId, input.action, input.args),
    createdAt: input.now.toISOString(),
    expiresAt: expires.toISOString(),
    expireAt: expires,
  };
  await ref(db, input.conversationId, id).create(stored);
  return { id, action: input.action, args: input.args, summary: input.summary, expiresAt: stored.expiresAt };
}

/**
 * Marks the confirmation used and returns the action it is bound to. 404 when
 * unknown or not the caller's (the same answer, so ids of others reveal nothing),
 * 409 when already used, 410 when expired.
 */
export async function claimConfirmation(
  db: Firestore,
  input: { uid: string; conversationId: string; id: string; now: Date },
): Promise<Confirmation> {
  if (!/^c-[\w-]{8,40}$/.test(input.id)) throw notFound('That confirmation');
  return db.runTransaction(async (tx) => {
    const snap = await tx.get(ref(db, input.conversationId, input.id));
    const stored = snap.data() as StoredConfirmation | undefined;
    if (!stored || stored.uid !== input.uid || stored.conversationId !== input.conversationId) throw notFound('That confirmation');
    if (stored.hash !== hashBinding(stored.uid, stored.conversationId, stored.action, stored.args)) {
      throw new AppError('conflict', 'This confirmation does not match the action it was issued for; ask again.');
    }
    if (stored.usedAt)
      throw new AppError('already_used', 'This confirmation was already used; ask again to repeat the action.', { usedAt: stored.usedAt });
    if (Date.parse(stored.expiresAt) <= input.now.getTime()) {
      throw new AppError('expired', 'This confirmation has expired; ask again and confirm within the time shown.', {
        expiresAt: stored.expiresAt,
      });
    }
    tx.update(snap.ref, { usedAt: input.now.toISOString() });
    return { id: stored.id, action: stored.action, args: stored.args, summary: stored.summary, expiresAt: stored.expiresAt };
  });
}
