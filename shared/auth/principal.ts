import { dependencyUnavailable, withDeadline } from '../deadline.ts';
import { AppError, unauthenticated } from '../errors.ts';
import type { Auth, DecodedIdToken } from 'firebase-admin/auth';

export type Role = 'admin' | 'tenant';
export const ROLES: readonly Role[] = ['admin', 'tenant'];

/** Who is calling, passed to the service layer. */
export interface Principal {
  uid: string;
  email?: string;
  role: Role;
}

/** Verifies `Authorization: Bearer <Firebase ID token>` and returns the caller; 401 otherwise. */
export async function verifyBearer(header: string | undefined, getAuth: () => Promise<Auth>, timeoutMs = 8000): Promise<Principal> {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) throw unauthenticated();
  let decoded: DecodedIdToken;
  try {
    // The revocation check asks Auth: an outage is a 503 naming it, not a hang or a bogus 401.
    decoded = await withDeadline('auth', timeoutMs, (async () => (await getAuth()).verifyIdToken(match[1], true))());
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'app/network-error' || code === 'app/network-timeout' || code === 'auth/internal-error')
      throw dependencyUnavailable('auth', code, err);
    if (code === 'auth/id-token-expired') throw new AppError('unauthenticated', 'Your sign-in has expired; sign in again.');
    if (code === 'auth/user-disabled') throw new AppError('forbidden', 'This account is disabled.');
    if (code.startsWith('auth/') || err instanceof SyntaxError) throw unauthenticated('The sign-in token is not valid; sign in again.');
    throw err;
  }
  // Only accounts that confirmed their address through our activation (which sets the role) act:
  // a password account registered straight with Firebase Auth has neither (R-ISO-3).
  if (decoded.email_verified !== true || !ROLES.includes(decoded.role as Role)) {
    throw new AppError(
      'forbidden',
      'This account is not activated yet: open the link in the email we sent you (or sign up again for a new one).',
      { reason: 'not_activated' },
    );
  }
  return { uid: decoded.uid, email: decoded.email, role: decoded.role as Role };
}
