import type { Auth, UserRecord } from 'firebase-admin/auth';

/** The address belongs to a disabled account: activation does not enable it. */
export class AccountDisabledError extends Error {}

/**
 * Creates the Firebase user for a confirmed address, or verifies an existing
 * one (a disabled one is refused), and makes sure it carries a role: `tenant`, unless it is
 * already `admin` (activation never downgrades). Other custom claims are kept.
 * Returns the uid and a custom token the page exchanges for a sign-in.
 */
export async function ensureTenantUser(
  auth: Auth,
  email: string,
  displayName?: string,
): Promise<{ uid: string; customToken: string; role: 'admin' | 'tenant'; createdAt: string | null }> {
  let user = await findUser(auth, email);
  if (!user) {
    try {
      user = await auth.createUser({ email, emailVerified: true, displayName });
    } catch (err) {
      // Created meanwhile by someone else (another activation, an operator): use that one.
      if ((err as { code?: string }).code !== 'auth/email-already-exists') throw err;
      user = await auth.getUserByEmail(email);
    }
  }
  // A disabled account stays disabled: only an operator enables it again (R-ISO-3).
  if (user.disabled) throw new AccountDisabledError();
  if (!user.emailVerified) user = await auth.updateUser(user.uid, { emailVerified: true });
  const claims = user.customClaims ?? {};
  if (claims.role !== 'admin' && claims.role !== 'tenant') await auth.setCustomUserClaims(user.uid, { ...claims, role: 'tenant' });
  const createdAt = user.metadata.creationTime ? new Date(user.metadata.creationTime).toISOString() : null;
  return {
    uid: user.uid,
    customToken: await auth.createCustomToken(user.uid),
    role: claims.role === 'admin' ? 'admin' : 'tenant',
    createdAt,
  };
}

async function findUser(auth: Auth, email: string): Promise<UserRecord | undefined> {
  try {
    return await auth.getUserByEmail(email);
  } catch (err) {
    if ((err as { code?: string }).code === 'auth/user-not-found') return undefined;
    throw err;
  }
}
