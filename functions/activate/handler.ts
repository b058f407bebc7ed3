import { randomUUID } from 'node:crypto';
import type { DocumentReference } from '@google-cloud/firestore';
import type { Deps } from '../../shared/deps.ts';
import { AppError } from '../../shared/errors.ts';
import { enforceRateLimit } from '../../shared/http/rate-limit.ts';
import { createRouter } from '../../shared/http/router.ts';
import type { Context, Handler, Reply } from '../../shared/http/wrap.ts';
import { findSignupRefByTokenHash, hashToken, isExpired, readSignup, TOKEN_PATTERN, writeSignup } from '../../shared/store/signups.ts';
import { runKeyedTransaction } from '../../shared/store/transact.ts';
import { mirrorUser } from '../../shared/store/users.ts';
import { AccountDisabledError, ensureTenantUser } from './user.ts';

const HOUR = 3_600_000;
/** Where the activation page sends the visitor next. */
export const NEXT_STEP = '/launch.html';

/** What a successful activation answers: enough for the page to sign in with Firebase and move on. */
export interface ActivationResult {
  uid: string;
  email: string;
  customToken: string;
  next: string;
}

const invalid = () =>
  new AppError(
    'invalid_request',
    'This activation link is not valid (it may have been replaced by a newer one). Sign up again to get a new link.',
  );

/**
 * GET /api/activate?token=… and POST /api/activate {token}. The token is
 * claimed in a transaction (so of two concurrent activations exactly one
 * wins), then the Firebase user is created or enabled with the `tenant` role
 * (an admin stays admin). If Auth fails, the claim is given back so the same
 * link works on a retry.
 */
export function createActivateHandler(deps: Deps): Handler {
  const run = async (ctx: Context, token: unknown): Promise<Reply> => ({ status: 200, body: await activate(deps, ctx, token) });
  return createRouter([
    { method: 'GET', path: '/api/activate', handler: (ctx) => run(ctx, ctx.url.searchParams.get('token')) },
    { method: 'POST', path: '/api/activate', handler: async (ctx) => run(ctx, (await ctx.json()).token) },
  ]);
}

async function activate(deps: Deps, ctx: Context, token: unknown): Promise<ActivationResult> {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) throw invalid();
  await enforceRateLimit(deps.db, {
    key: `activate:${ctx.ip}`,
    limit: deps.config.signup.rateLimitPerHour,
    windowMs: HOUR,
    now: deps.now(),
  });
  const tokenHash = hashToken(token);
  const ref = await findSignupRefByTokenHash(deps.db, tokenHash);
  if (!ref) throw invalid();
  const activationId = randomUUID();

  // Claim the token: re-read under the transaction, since it may have been rotated or used since the lookup.
  const signup = await runKeyedTransaction(deps.db, ref.path, async (tx) => {
    const now = deps.now();
    const current = await readSignup(tx, ref);
    if (!current || current.tokenHash !== tokenHash) throw invalid();
    if (current.usedAt)
      throw new AppError('already_used', 'This link was already used: your account is active. Sign in, or sign up again for a new link.');
    if (isExpired(current, now)) throw new AppError('expired', 'This link has expired. Sign up again to get a new one.');
    writeSignup(tx, ref, { ...current, usedAt: now, activationId, updatedAt: now }, true);
    return current;
  });
  const emailHash = ref.id;

  let user: Awaited<ReturnType<typeof ensureTenantUser>>;
  try {
    user = await ensureTenantUser(await deps.auth(), signup.email, signup.name);
  } catch (err) {
    if (err instanceof AccountDisabledError) {
      ctx.log.warn('activation refused: the account is disabled', { emailHash });
      throw new AppError('forbidden', 'This account is disabled. Ask the operator of this service to enable it.');
    }
    await releaseClaim(deps, ref, activationId).catch((releaseErr: unknown) =>
      ctx.log.error('could not release an activation claim', { err: releaseErr, emailHash }),
    );
    throw new AppError('unavailable', 'We could not create your account just now. Try the same link again in a minute.', undefined, {
      cause: err,
    });
  }

  await runKeyedTransaction(deps.db, ref.path, async (tx) => {
    const current = await readSignup(tx, ref);
    if (!current) return;
    const now = deps.now();
    writeSignup(tx, ref, { ...current, status: 'activated', uid: user.uid, activatedAt: current.activatedAt ?? now, updatedAt: now }, true);
  });
  // The portal's user directory lists the new user (`npm run create-admin` adds an entry missed here).
  await mirrorUser(deps.db, { uid: user.uid, email: signup.email, role: user.role, createdAt: user.createdAt }, deps.now()).catch(
    (err: unknown) => ctx.log.warn('user directory entry not written', { err, uid: user.uid }),
  );
  ctx.log.info('signup activated', { emailHash, uid: user.uid });
  return { uid: user.uid, email: signup.email, customToken: user.customToken, next: NEXT_STEP };
}

/** Gives the token back after a failed account creation, unless something newer replaced the claim. */
async function releaseClaim(deps: Deps, ref: DocumentReference, activationId: string): Promise<void> {
  await runKeyedTransaction(deps.db, ref.path, async (tx) => {
    const current = await readSignup(tx, ref);
    if (!current || current.activationId !== activationId) return;
    writeSignup(tx, ref, { ...current, usedAt: null, activationId: null, updatedAt: deps.now() }, true);
  });
}
