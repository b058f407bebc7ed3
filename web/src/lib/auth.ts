/**
 * Sign-in with the Firebase JS SDK. There are no passwords: the activation
 * page signs in with the Firebase custom token the link gave (leaving it in
 * sessionStorage for the next page should that fail, then forgetting it). Firebase keeps the
 * session in IndexedDB, so every page after that is signed in until sign-out.
 * A returning user asks for a new link (signup with the same address), which
 * activates the same account again.
 */
import { initializeApp } from 'firebase/app';
import {
  browserLocalPersistence,
  connectAuthEmulator,
  indexedDBLocalPersistence,
  initializeAuth,
  signInWithCustomToken,
  signOut as firebaseSignOut,
  type Auth,
  type User,
} from 'firebase/auth';
import { getWebConfig } from './config.ts';
import { ApiError } from './errors.ts';

/** Where the activation page leaves what the next page needs to sign in. */
export const SESSION_KEY = 'tenantplane.session';

export type Role = 'admin' | 'tenant';

export interface SignedInUser {
  uid: string;
  email: string;
  role: Role;
}

interface PendingSession {
  uid?: string;
  email?: string;
  customToken?: string;
}

let authPromise: Promise<Auth> | undefined;

async function loadAuth(): Promise<Auth> {
  const config = await getWebConfig();
  const app = initializeApp(config.firebase);
  // No popup/redirect resolver: sign-in is by custom token only, so nothing loads from the auth domain.
  const auth = initializeAuth(app, { persistence: [indexedDBLocalPersistence, browserLocalPersistence] });
  if (config.authEmulatorHost) connectAuthEmulator(auth, `http://${config.authEmulatorHost}`, { disableWarnings: true });
  await auth.authStateReady();
  return auth;
}

/** The Firebase Auth instance, configured from `GET /api/config` once per page. */
export function getFirebaseAuth(): Promise<Auth> {
  authPromise ??= loadAuth().catch((err) => {
    authPromise = undefined;
    throw err;
  });
  return authPromise;
}

function readPending(): PendingSession | null {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as PendingSession | null;
  } catch {
    return null;
  }
}

function describeSignInFailure(err: unknown): ApiError {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'auth/invalid-custom-token' || code === 'auth/custom-token-mismatch' || code === 'auth/user-token-expired') {
    return new ApiError('Your sign-in link has expired. Ask for a new one and open it in this browser.', 401, 'unauthenticated');
  }
  if (code === 'auth/network-request-failed')
    return new ApiError('We could not reach the sign-in service. Check your connection and try again.', 0, 'network');
  if (code === 'auth/user-disabled') return new ApiError('This account is disabled. Contact your administrator.', 403, 'forbidden');
  return new ApiError('We could not sign you in. Ask for a new sign-in link and try again.', 401, 'unauthenticated');
}

async function toSignedIn(user: User): Promise<SignedInUser> {
  const claims = (await user.getIdTokenResult()).claims;
  return { uid: user.uid, email: user.email ?? '', role: claims.role === 'admin' ? 'admin' : 'tenant' };
}

/**
 * The signed-in user, or null. First uses a pending custom token from activation
 * (if it belongs to someone else than the current user, it wins: the newest link decides).
 */
export async function loadCurrentUser(): Promise<SignedInUser | null> {
  const auth = await getFirebaseAuth();
  const pending = readPending();
  // A custom token is single-purpose: once used (or useless), keep only who it was for.
  const forget = () =>
    pending?.customToken && sessionStorage.setItem(SESSION_KEY, JSON.stringify({ uid: pending.uid, email: pending.email }));
  if (pending?.customToken && auth.currentUser?.uid !== pending.uid) {
    try {
      await signInWithCustomToken(auth, pending.customToken);
    } catch (err) {
      // Say so, even with someone else still signed in here: the page must not carry on as if the link had worked.
      forget();
      throw describeSignInFailure(err);
    }
  }
  forget();
  return auth.currentUser ? toSignedIn(auth.currentUser) : null;
}

/**
 * Signs in at once with the custom token from an activation or sign-in link.
 * Firebase keeps the session in IndexedDB, so it survives closing the tab;
 * the token also stays pending for the next page in case this fails here.
 */
export async function signInWithLink(session: { uid: string; email: string; customToken: string }): Promise<SignedInUser> {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ ...session, at: Date.now() }));
  const user = await loadCurrentUser();
  if (!user) throw new ApiError('We could not sign you in. Ask for a new sign-in link and try again.', 401, 'unauthenticated');
  return user;
}

/** A fresh Firebase ID token for `Authorization: Bearer` (the SDK refreshes it before it expires). */
export async function getIdToken(forceRefresh = false): Promise<string> {
  const auth = await getFirebaseAuth();
  if (!auth.currentUser) throw new ApiError('You are signed out. Sign in again to continue.', 401, 'unauthenticated');
  try {
    return await auth.currentUser.getIdToken(forceRefresh);
  } catch (err) {
    // The refresh itself was refused (account disabled, sign-in revoked): say what to do, not the SDK's code.
    const failure = describeSignInFailure(err);
    throw failure.code === 'unauthenticated'
      ? new ApiError('Your sign-in has ended. Ask for a new sign-in link to continue.', 401, 'unauthenticated')
      : failure;
  }
}

/** Signs out of this browser and forgets any pending activation. */
export async function signOut(): Promise<void> {
  sessionStorage.removeItem(SESSION_KEY);
  const auth = await getFirebaseAuth();
  await firebaseSignOut(auth);
}
