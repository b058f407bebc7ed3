/**
 * `deviceCodes/{sha256(device_code)}`: one document per CLI sign-in started
 * with the device flow (RFC 8628). Neither code is stored in clear: the
 * document id is the hash of the device code (the CLI's secret) and the user
 * code (what the person types or compares) is kept as a hash for the lookup.
 * The custom token handed to the CLI is minted when it is delivered and never
 * stored. `expiresAt` is the field a Firestore TTL policy deletes by.
 */
import { randomInt } from 'node:crypto';
import type { DocumentReference, Firestore, Transaction } from '@google-cloud/firestore';
import { firestore } from './firestore-lib.ts';
import { hashToken } from './signups.ts';

export const DEVICE_CODES = 'deviceCodes';

/**
 * `pending` until someone signed in approves or denies; `approved` until the
 * CLI's next poll takes its token, then `delivered` (single use).
 */
export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'delivered';

export interface DeviceCode {
  userCodeHash: string;
  status: DeviceCodeStatus;
  /** Seconds the CLI must wait between polls; grows by 5 with each `slow_down`. */
  interval: number;
  createdAt: Date;
  expiresAt: Date;
  lastPolledAt?: Date;
  /** Who approved or denied, and when. */
  uid?: string;
  decidedAt?: Date;
  deliveredAt?: Date;
}

/**
 * Consonants only, without look-alikes or vowels (no words, no 0/O, 1/I/L,
 * 5/S or 2/Z to confuse): 16 letters, 16^8 ≈ 4.3 billion codes of 8 letters.
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKMNPQRTVW';
export const USER_CODE_PATTERN = /^[BCDFGHJKMNPQRTVW]{4}-?[BCDFGHJKMNPQRTVW]{4}$/;

/** A new user code, shown as `XXXX-XXXX`. */
export function createUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** The canonical form of what a person typed (`bcdf ghjk`, `BCDF-GHJK`, …), or undefined when it cannot be a code. */
export function normalizeUserCode(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  const compact = input.toUpperCase().replace(/[\s-]/g, '');
  if (!USER_CODE_PATTERN.test(compact)) return undefined;
  return `${compact.slice(0, 4)}-${compact.slice(4)}`;
}

export function hashUserCode(userCode: string): string {
  return hashToken(`user-code:${userCode}`);
}

export function deviceCodeRef(db: Firestore, deviceCode: string): DocumentReference {
  return db.collection(DEVICE_CODES).doc(hashToken(deviceCode));
}

/** The pending document holding this user code, if any. */
export async function findDeviceCodeRefByUserCode(db: Firestore, userCode: string): Promise<DocumentReference | undefined> {
  const snap = await db
    .collection(DEVICE_CODES)
    .where('userCodeHash', '==', hashUserCode(userCode))
    .where('status', '==', 'pending')
    .limit(1)
    .get();
  return snap.docs[0]?.ref;
}

export async function readDeviceCode(tx: Transaction, ref: DocumentReference): Promise<DeviceCode | undefined> {
  const snap = await tx.get(ref);
  if (!snap.exists) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(snap.data() as Record<string, unknown>))
    out[key] = value instanceof firestore().Timestamp ? value.toDate() : value;
  return out as unknown as DeviceCode;
}

export function writeDeviceCode(tx: Transaction, ref: DocumentReference, code: DeviceCode, existed: boolean): void {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(code)) {
    if (value === undefined) continue;
    data[key] = value instanceof Date ? firestore().Timestamp.fromDate(value) : value;
  }
  if (existed) tx.set(ref, data);
  else tx.create(ref, data);
}
