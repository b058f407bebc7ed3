/**
 * `signups/{sha256(email)}`: one document per address, holding the hash of the
 * one token that is currently valid (rotating it invalidates the previous
 * one), its expiry and use, and the times activation mails were queued (for
 * the per-address mail limits). The token itself is never stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DocumentReference, DocumentSnapshot, Firestore, Transaction } from '@google-cloud/firestore';
import { firestore } from './firestore-lib.ts';

export const SIGNUPS = 'signups';

export type Migration = 'fresh' | 'enhance' | 'full';

export interface Signup {
  email: string;
  name?: string;
  company?: string;
  plan?: string;
  migration: Migration;
  /** `pending` until the first activation; `activated` afterwards (later tokens are sign-in links). */
  status: 'pending' | 'activated';
  tokenHash: string;
  tokenExpiresAt: Date;
  usedAt: Date | null;
  /** Marks which activation holds the token while the account is being created, so a failure can release it. */
  activationId?: string | null;
  uid?: string;
  activatedAt?: Date;
  /** When mails were queued for this address within the last day, oldest first. */
  mailTimes: Date[];
  createdAt: Date;
  updatedAt: Date;
}

/** SHA-256 hex of the normalized address: the document id, and what logs show instead of the address. */
export function hashEmail(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
}

/** SHA-256 hex of a token: what is stored and looked up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** 32 random bytes as 64 lowercase hex characters. */
export function createToken(): string {
  return randomBytes(32).toString('hex');
}

/** The shape of a token; anything else is rejected before a lookup. */
export const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

export function signupRef(db: Firestore, emailHash: string): DocumentReference {
  return db.collection(SIGNUPS).doc(emailHash);
}

/** Reads a signup inside a transaction; undefined when the address never signed up. */
export async function readSignup(tx: Transaction, ref: DocumentReference): Promise<Signup | undefined> {
  return signupOf(await tx.get(ref));
}

/** The signup a snapshot holds (read by the caller, e.g. with other documents in one getAll). */
export function signupOf(snap: DocumentSnapshot): Signup | undefined {
  return snap.exists ? fromFirestore(snap.data() as Record<string, unknown>) : undefined;
}

/** Writes the whole signup inside a transaction: `create` when it was missing, so two first signups cannot both win. */
export function writeSignup(tx: Transaction, ref: DocumentReference, signup: Signup, existed: boolean): void {
  const data = toFirestore(signup);
  if (existed) tx.set(ref, data);
  else tx.create(ref, data);
}

/** The document currently holding this token hash, if any (a rotated or unknown token finds none). */
export async function findSignupRefByTokenHash(db: Firestore, tokenHash: string): Promise<DocumentReference | undefined> {
  const snap = await db.collection(SIGNUPS).where('tokenHash', '==', tokenHash).limit(1).get();
  return snap.docs[0]?.ref;
}

/** Whether the token has passed its expiry at `now`. */
export function isExpired(signup: Pick<Signup, 'tokenExpiresAt'>, now: Date): boolean {
  return signup.tokenExpiresAt.getTime() <= now.getTime();
}

function toFirestore(signup: Signup): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(signup)) {
    if (value === undefined) continue;
    if (value instanceof Date) out[key] = firestore().Timestamp.fromDate(value);
    else if (Array.isArray(value)) out[key] = value.map((v) => (v instanceof Date ? firestore().Timestamp.fromDate(v) : v));
    else out[key] = value;
  }
  return out;
}

function fromFirestore(data: Record<string, unknown>): Signup {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (value instanceof firestore().Timestamp) out[key] = value.toDate();
    else if (Array.isArray(value)) out[key] = value.map((v) => (v instanceof firestore().Timestamp ? v.toDate() : v));
    else out[key] = value;
  }
  out.mailTimes ??= [];
  out.usedAt ??= null;
  return out as unknown as Signup;
}
