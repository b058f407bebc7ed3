/**
 * Real users on the Auth emulator for tests: create (or update) a user with a
 * role, then exchange a custom token for an ID token exactly as a browser would.
 */
import { randomBytes } from 'node:crypto';
import type { Deps } from '../shared/deps.ts';
import type { Role } from '../shared/auth/principal.ts';
import { mirrorUser } from '../shared/store/users.ts';

export interface TestUser {
  uid: string;
  email: string;
  role: Role;
  token: string;
}

/**
 * Creates (or updates) a user on the Auth emulator with a role and returns an
 * ID token for it, got the way a browser gets one, so tests call the API as a
 * real signed-in user would.
 */
export async function createTestUser(deps: Deps, options: { role?: Role; uid?: string; email?: string } = {}): Promise<TestUser> {
  const auth = await deps.auth();
  const uid = options.uid ?? `u${randomBytes(6).toString('hex')}`;
  const email = options.email ?? `${uid}@example.com`;
  const role = options.role ?? 'tenant';
  await auth.createUser({ uid, email, emailVerified: true }).catch(async (err) => {
    if ((err as { code?: string }).code !== 'auth/uid-already-exists') throw err;
  });
  await auth.setCustomUserClaims(uid, { role });
  // The user directory the portal lists, as activation writes it.
  const createdAt = (await auth.getUser(uid)).metadata.creationTime;
  await mirrorUser(deps.db, { uid, email, role, createdAt: createdAt ? new Date(createdAt).toISOString() : null }, new Date());
  return { uid, email, role, token: await idTokenFor(deps, uid) };
}

/** Signs in with a custom token through the emulator's Identity Toolkit endpoint and returns the ID token. */
export async function idTokenFor(deps: Deps, uid: string): Promise<string> {
  const auth = await deps.auth();
  const customToken = await auth.createCustomToken(uid);
  const host = deps.config.emulators.auth;
  if (!host) throw new Error('idTokenFor needs the Auth emulator (FIREBASE_AUTH_EMULATOR_HOST).');
  const res = await fetch(`http://${host}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken?key=fake-api-key`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: customToken, returnSecureToken: true }),
  });
  const body = (await res.json()) as { idToken?: string; error?: { message: string } };
  if (!body.idToken) throw new Error(`Auth emulator sign-in failed: ${body.error?.message ?? res.status}`);
  return body.idToken;
}
