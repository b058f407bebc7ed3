/**
 * Users: Firebase Auth is the source of truth (identity, role in custom
 * claims); `users/{uid}` in Firestore mirrors `{uid, email, role, updatedAt}`
 * for every role the platform set, so "who are the admins" is one query and
 * the last-admin guard can run inside a transaction.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Auth, UserRecord } from 'firebase-admin/auth';
import type { Principal, Role } from '../auth/principal.ts';
import { AppError, conflict, notFound } from '../errors.ts';

/** What the API shows of a user. Times are ISO-8601 (null when unknown / never). */
export interface UserView {
  uid: string;
  email: string | null;
  role: Role;
  disabled: boolean;
  createdAt: string | null;
  lastSignInAt: string | null;
}

/** The Firestore mirror of a user's role. */
export interface UserMirror {
  uid: string;
  email: string | null;
  role: Role;
  updatedAt: string;
}

export const userPath = (uid: string) => `users/${uid}`;

/** Firebase uids are 1–128 characters; a `/` would address another document, `.`/`..`/`__x__` are reserved by Firestore. */
export function isValidUid(uid: string): boolean {
  return uid.length >= 1 && uid.length <= 128 && !uid.includes('/') && uid !== '.' && uid !== '..' && !/^__.*__$/.test(uid);
}

export const roleOf = (record: Pick<UserRecord, 'customClaims'>): Role => (record.customClaims?.role === 'admin' ? 'admin' : 'tenant');

const isoOf = (time: string | undefined | null) => (time ? new Date(time).toISOString() : null);

export function toUserView(record: UserRecord): UserView {
  return {
    uid: record.uid,
    email: record.email ?? null,
    role: roleOf(record),
    disabled: record.disabled,
    createdAt: isoOf(record.metadata.creationTime),
    lastSignInAt: isoOf(record.metadata.lastSignInTime),
  };
}

/** The Auth user, or a 404 naming the uid. */
export async function getUserRecord(auth: Auth, uid: string): Promise<UserRecord> {
  if (!isValidUid(uid)) throw notFound(`User ${uid}`);
  try {
    return await auth.getUser(uid);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'auth/user-not-found' || code === 'auth/invalid-uid') throw notFound(`User ${uid}`);
    throw err;
  }
}

/** One page of users in Auth's own order; `pageToken` is Auth's. */
export async function listUserPage(
  auth: Auth,
  options: { pageSize: number; pageToken?: string },
): Promise<{ users: UserView[]; nextPageToken?: string }> {
  try {
    const page = await auth.listUsers(options.pageSize, options.pageToken);
    return { users: page.users.map(toUserView), nextPageToken: page.pageToken || undefined };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'auth/invalid-page-token' || code === 'auth/argument-error') {
      throw new AppError('validation_failed', 'pageToken is not valid: pass the nextPageToken of the previous page unchanged.', {
        field: 'pageToken',
      });
    }
    throw err;
  }
}

/** Writes the mirror of a user (e.g. after `create-admin` set the role). */
export async function mirrorUser(db: Firestore, user: { uid: string; email: string | null; role: Role }, now: Date): Promise<void> {
  const mirror: UserMirror = { uid: user.uid, email: user.email, role: user.role, updatedAt: now.toISOString() };
  await db.doc(userPath(user.uid)).set(mirror, { merge: true });
}

/** Uids the mirror lists as admins. */
export async function listMirroredAdmins(db: Firestore): Promise<string[]> {
  const snap = await db.collection('users').where('role', '==', 'admin').get();
  return snap.docs.map((d) => d.id);
}

export interface RoleChangeDeps {
  db: Firestore;
  auth: Auth;
  now: () => Date;
}

/**
 * Sets a user's role (custom claim `role`, other claims kept) and mirrors it.
 * Demoting an admin is refused with 409 when no other admin would remain:
 * the mirror's admins (checked against Auth, so a removed or disabled admin
 * does not count) plus the caller are read in one transaction with the
 * target's write, so two admins demoting each other at once cannot both win.
 * A demoted user's sessions are revoked: the old ID token stops working at
 * once instead of keeping admin rights until it expires.
 * The new role reaches the user with their next ID token.
 */
export async function changeUserRole(deps: RoleChangeDeps, caller: Principal, uid: string, role: Role): Promise<UserView> {
  const { db, auth, now } = deps;
  const target = await getUserRecord(auth, uid);
  const current = roleOf(target);
  const lastAdmin = await db.runTransaction(async (tx) => {
    const at = now().toISOString();
    if (current === 'admin' && role !== 'admin') {
      const mirrored = (await tx.get(db.collection('users').where('role', '==', 'admin'))).docs.map((d) => d.id);
      const others = [...new Set([...mirrored, caller.uid])].filter((id) => id !== uid);
      const confirmed = await confirmAdmins(auth, others);
      for (const stale of mirrored.filter((id) => id !== uid && !confirmed.has(id))) {
        tx.set(db.doc(userPath(stale)), { role: 'tenant', updatedAt: at }, { merge: true });
      }
      // Commit the corrections to stale entries, but change nothing else.
      if (confirmed.size === 0) return true;
    }
    if (caller.role === 'admin' && caller.uid !== uid) {
      tx.set(db.doc(userPath(caller.uid)), { uid: caller.uid, email: caller.email ?? null, role: 'admin', updatedAt: at }, { merge: true });
    }
    const mirror: UserMirror = { uid, email: target.email ?? null, role, updatedAt: at };
    tx.set(db.doc(userPath(uid)), mirror, { merge: true });
    return false;
  });
  if (lastAdmin) {
    throw conflict(
      `${target.email ?? uid} is the last admin; make another user admin first (PATCH /api/v1/users/{uid} {"role": "admin"}), then change this role.`,
      { uid, role: current },
    );
  }
  if (current !== role) {
    try {
      await auth.setCustomUserClaims(uid, { ...(target.customClaims ?? {}), role });
    } catch (err) {
      // Put the mirror back to what Auth still says, so the guard never counts a role that was not granted.
      await mirrorUser(db, { uid, email: target.email ?? null, role: current }, now()).catch(() => undefined);
      throw err;
    }
    if (role !== 'admin') await auth.revokeRefreshTokens(uid);
  }
  return toUserView(await auth.getUser(uid));
}

/** The uids that Auth confirms are enabled admins right now. */
async function confirmAdmins(auth: Auth, uids: string[]): Promise<Set<string>> {
  const confirmed = new Set<string>();
  for (let i = 0; i < uids.length; i += 100) {
    const { users } = await auth.getUsers(uids.slice(i, i + 100).map((uid) => ({ uid })));
    for (const user of users) if (!user.disabled && roleOf(user) === 'admin') confirmed.add(user.uid);
  }
  return confirmed;
}
