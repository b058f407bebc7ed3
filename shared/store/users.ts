/**
 * Users: Firebase Auth is the source of truth (identity, role in custom
 * claims); `users/{uid}` in Firestore mirrors `{uid, email, role, updatedAt}`
 * for every role the platform set, so "who are the admins" is one query and
 * the last-admin guard can run inside a transaction.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Auth, UserRecord } from 'firebase-admin/auth';
import type { Principal, Role } from '../auth/principal.ts';
import { conflict, notFound } from '../errors.ts';
import { readExact, readTablePage, sortsFor } from './table-query.ts';

/** What the API shows of a user. Times are ISO-8601 (null when unknown / never). */
export interface UserView {
  uid: string;
  email: string | null;
  role: Role;
  disabled: boolean;
  createdAt: string | null;
  lastSignInAt: string | null;
}

/**
 * The Firestore mirror of a user: their role, and what the portal's table
 * searches, filters and sorts on (`emailLower` for the prefix search,
 * `createdAt`). Older mirrors may lack the directory fields until the user is
 * written again (activation, a role change) or `npm run create-admin` fills them in.
 */
export interface UserMirror {
  uid: string;
  email: string | null;
  /** The address lowercased (prefix search); '' when the user has none. */
  emailLower?: string;
  role: Role;
  createdAt?: string;
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

/** Writes the mirror of a user (e.g. after `create-admin` set the role). */
export async function mirrorUser(
  db: Firestore,
  user: { uid: string; email: string | null; role: Role; createdAt?: string | null },
  now: Date,
): Promise<void> {
  await db.doc(userPath(user.uid)).set(mirrorOf(user, now), { merge: true });
}

/** The mirror document of a user (the directory fields included). */
export function mirrorOf(user: { uid: string; email: string | null; role: Role; createdAt?: string | null }, now: Date): UserMirror {
  const mirror: UserMirror = {
    uid: user.uid,
    email: user.email,
    emailLower: (user.email ?? '').toLowerCase(),
    role: user.role,
    updatedAt: now.toISOString(),
  };
  if (user.createdAt) mirror.createdAt = user.createdAt;
  return mirror;
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
      tx.set(
        db.doc(userPath(caller.uid)),
        { uid: caller.uid, email: caller.email ?? null, emailLower: (caller.email ?? '').toLowerCase(), role: 'admin', updatedAt: at },
        { merge: true },
      );
    }
    tx.set(
      db.doc(userPath(uid)),
      mirrorOf({ uid, email: target.email ?? null, role, createdAt: toUserView(target).createdAt }, new Date(at)),
      {
        merge: true,
      },
    );
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

/** The users table's sorts: `email` (default) and `createdAt`, each either way. */
export const USER_SORTS = sortsFor({ email: 'emailLower', createdAt: 'createdAt' });

export interface UserDirectoryQuery {
  /** Prefix of the email address (any case), or a whole uid. */
  q?: string;
  role?: Role;
  sort?: string;
  pageSize: number;
  pageToken?: string;
}

/**
 * One page of the user directory (the `users/` mirror), searched, filtered and
 * sorted in Firestore, with each user's Auth record (disabled, sign-in times)
 * read in batches of 100 (Auth's getUsers limit). A whole uid matches exactly.
 */
export async function listUserDirectory(
  db: Firestore,
  auth: Auth,
  options: UserDirectoryQuery,
): Promise<{ users: UserView[]; total: number; nextPageToken?: string }> {
  const sort = USER_SORTS.find((s) => s.key === (options.sort ?? 'email')) ?? USER_SORTS[0];
  const search = options.q?.toLowerCase();
  const [page, exact] = await Promise.all([
    readTablePage(
      db.collection('users'),
      {
        search,
        searchField: 'emailLower',
        searchSortKey: 'email',
        filters: { role: options.role },
        sort,
        pageSize: options.pageSize,
        pageToken: options.pageToken,
        validId: isValidUid,
      },
      (data) => data as unknown as UserMirror,
    ),
    options.q && !options.pageToken && isValidUid(options.q) ? readExact(db, 'users', options.q) : undefined,
  ]);
  let mirrors = page.items;
  let total = page.total;
  const exactMirror = exact as UserMirror | undefined;
  if (exactMirror && (!options.role || exactMirror.role === options.role) && !mirrors.some((m) => m.uid === exactMirror.uid)) {
    mirrors = [exactMirror, ...mirrors];
    total += 1;
  }
  const records = new Map<string, UserRecord>();
  await Promise.all(
    chunks(
      mirrors.map((m) => ({ uid: m.uid })),
      100,
    ).map(async (ids) => {
      for (const user of (await auth.getUsers(ids)).users) records.set(user.uid, user);
    }),
  );
  const users = mirrors.map((m): UserView => {
    const record = records.get(m.uid);
    // A mirror whose Auth user is gone is shown as disabled: it can no longer sign in.
    return record
      ? toUserView(record)
      : { uid: m.uid, email: m.email, role: m.role, disabled: true, createdAt: m.createdAt ?? null, lastSignInAt: null };
  });
  return { users, total, nextPageToken: page.nextPageToken };
}

const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

/**
 * Writes the directory entry of every Auth user that has none or lacks the
 * directory fields (users made before the directory, or outside the
 * platform). Idempotent; returns how many it wrote.
 */
export async function syncUserDirectory(db: Firestore, auth: Auth, now: () => Date): Promise<number> {
  let written = 0;
  let pageToken: string | undefined;
  do {
    const page = await auth.listUsers(1000, pageToken);
    const refs = page.users.map((u) => db.doc(userPath(u.uid)));
    const existing = refs.length ? await db.getAll(...refs) : [];
    const stale = page.users.filter((u, i) => {
      const data = existing[i]?.data() as UserMirror | undefined;
      return !(data?.emailLower !== undefined && data.createdAt && data.role === roleOf(u));
    });
    // A batch holds at most 500 writes.
    for (const part of chunks(stale, 500)) {
      const batch = db.batch();
      for (const u of part) {
        const mirror = mirrorOf({ uid: u.uid, email: u.email ?? null, role: roleOf(u), createdAt: toUserView(u).createdAt }, now());
        batch.set(db.doc(userPath(u.uid)), mirror, { merge: true });
      }
      await batch.commit();
    }
    const pending = stale.length;
    written += pending;
    pageToken = page.pageToken || undefined;
  } while (pageToken);
  return written;
}
