import { firestore } from '../../shared/store/firestore-lib.ts';
import type { Deps } from '../../shared/deps.ts';
import { countRequest, rateLimited, rateLimitRef } from '../../shared/http/rate-limit.ts';
import { createRouter } from '../../shared/http/router.ts';
import type { Context, Handler, Reply } from '../../shared/http/wrap.ts';
import { buildActivationLink, renderAccountExistsMail, renderActivationMail } from '../../shared/mail/templates.ts';
import { requestMailDelivery } from '../../shared/mail/delivery.ts';
import { addOutboxMessage, createOutboxId } from '../../shared/store/outbox.ts';
import { createToken, hashEmail, hashToken, signupOf, signupRef, writeSignup, type Signup } from '../../shared/store/signups.ts';
import { runKeyedTransaction } from '../../shared/store/transact.ts';
import { parseSignupInput, type SignupInput } from './input.ts';
import { decideMail } from './mail-budget.ts';

/** Where suppressed signups (R-SIGNUP-7) are counted: fields `mailSuppressed`, `mailSuppressedPerMinute`, `mailSuppressedPerDay`. */
export const SIGNUP_METRICS_DOC = 'metrics/signup';

const HOUR = 3_600_000;

/** The one answer every accepted signup gets, whatever the address's state (R-SIGNUP-3). */
const ACCEPTED: Reply = { status: 202, body: { status: 'pending_activation' } };

/**
 * POST /api/signup. Validates (bad input stores nothing, not even a rate-limit
 * count), rate-limits per client address, then in one transaction rotates the
 * address's token and writes the mail to the outbox, and asks for its
 * delivery (one task per batching window, shared/mail/delivery.ts). New,
 * pending and activated addresses take the same path (an Auth lookup, the
 * same reads and writes, the same delivery request) and get the same bytes
 * back; only the mail differs.
 */
export function createSignupHandler(deps: Deps): Handler {
  return createRouter([{ method: 'POST', path: '/api/signup', handler: (ctx) => handleSignup(deps, ctx) }]);
}

async function handleSignup(deps: Deps, ctx: Context): Promise<Reply> {
  const input = parseSignupInput(await ctx.json(), ctx.url.searchParams);
  const { signup: settings, publicUrl } = deps.config;
  const emailHash = hashEmail(input.email);
  // Started first, awaited only once the limit allowed the request: the lookup never fails (it falls back).
  const lookup = findAccount(deps, ctx, input.email, emailHash);
  const token = createToken();
  const outboxId = createOutboxId();
  const ref = signupRef(deps.db, emailHash);
  const limitRef = rateLimitRef(deps.db, `signup:${ctx.ip}`);
  const limit = { key: `signup:${ctx.ip}`, limit: settings.rateLimitPerHour, windowMs: HOUR, now: deps.now() };
  // One transaction counts the request against the client's address and rotates the address's token (issue 19: one
  // read of both documents and one commit, where a rate-limit transaction and a signup transaction took two of each).
  // Queued in this instance behind others on either document: many signups from one client address share the first,
  // many for one email address the second (the emulator would only make them wait for each other's locks).
  const outcome = await runKeyedTransaction(deps.db, [limitRef.path, ref.path], async (tx) => {
    const now = deps.now();
    const [limitSnap, signupSnap] = await tx.getAll(limitRef, ref);
    const counted = countRequest(tx, limitRef, limitSnap, { ...limit, now });
    if (!counted.allowed) return { queued: false as const, reason: 'rate_limited' as const, counted };
    const account = await lookup;
    const accountExists = account !== 'none';
    const existing = signupOf(signupSnap);
    const decision = decideMail(existing?.mailTimes ?? [], now, { perMinute: settings.mailPerMinute, perDay: settings.mailPerDay });
    if (!decision.send) return { queued: false as const, reason: decision.reason };
    // A disabled account gets the same answer but no mail and no new link: nothing would let it back in.
    if (account === 'disabled') return { queued: false as const, reason: 'disabled' as const };
    const activated = accountExists || existing?.status === 'activated';
    const signup = nextSignup(existing, input, activated, hashToken(token), now, settings.tokenTtlHours, decision.mailTimes);
    writeSignup(tx, ref, signup, existing !== undefined);
    const mail = {
      to: input.email,
      name: signup.name,
      company: signup.company,
      link: buildActivationLink(publicUrl, token),
      ttlHours: settings.tokenTtlHours,
    };
    addOutboxMessage(
      tx,
      deps.db,
      outboxId,
      activated ? 'signin' : 'activation',
      activated ? renderAccountExistsMail(mail) : renderActivationMail(mail),
      now,
    );
    return { queued: true as const, kind: activated ? 'signin' : 'activation' };
  });

  if (!outcome.queued && outcome.reason === 'rate_limited') throw rateLimited(outcome.counted.resetAt, limit.now);
  if (outcome.queued) {
    ctx.log.info('signup accepted', { emailHash, kind: outcome.kind, outboxId });
    try {
      await requestMailDelivery(deps.queue, outboxId, deps.config.mail.batchWindowMs);
    } catch (err) {
      // The message is safe in the outbox; the sweeper creates the task later.
      ctx.log.error('mail task not created; the outbox sweeper will retry', { err, outboxId });
    }
  } else if (outcome.reason === 'disabled') {
    ctx.log.warn('signup mail not sent: the account is disabled', { emailHash });
  } else {
    ctx.log.warn('signup mail suppressed: too many mails to this address', { emailHash, reason: outcome.reason });
    await countSuppressed(deps, ctx, outcome.reason);
  }
  return ACCEPTED;
}

/** Whether Firebase Auth already has this address, and whether it is disabled; an Auth outage falls back to what the signup record says. */
async function findAccount(deps: Deps, ctx: Context, email: string, emailHash: string): Promise<'none' | 'active' | 'disabled'> {
  try {
    const user = await (await deps.auth()).getUserByEmail(email);
    return user.disabled ? 'disabled' : 'active';
  } catch (err) {
    if ((err as { code?: string }).code === 'auth/user-not-found') return 'none';
    ctx.log.warn('account lookup failed; deciding from the signup record', { err, emailHash });
    return 'none';
  }
}

/** The record after this signup: a fresh token replaces the previous one; profile fields follow the latest signup until activation. */
function nextSignup(
  existing: Signup | undefined,
  input: SignupInput,
  activated: boolean,
  tokenHash: string,
  now: Date,
  ttlHours: number,
  mailTimes: Date[],
): Signup {
  const profile =
    existing?.status === 'activated'
      ? { name: existing.name, company: existing.company, plan: existing.plan, migration: existing.migration }
      : { name: input.name, company: input.company, plan: input.plan, migration: input.migration };
  return {
    ...existing,
    ...profile,
    email: input.email,
    status: activated ? 'activated' : 'pending',
    tokenHash,
    tokenExpiresAt: new Date(now.getTime() + ttlHours * HOUR),
    usedAt: null,
    activationId: null,
    mailTimes,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
}

async function countSuppressed(deps: Deps, ctx: Context, reason: 'per_minute' | 'per_day'): Promise<void> {
  const field = reason === 'per_minute' ? 'mailSuppressedPerMinute' : 'mailSuppressedPerDay';
  try {
    await deps.db
      .doc(SIGNUP_METRICS_DOC)
      .set(
        { mailSuppressed: firestore().FieldValue.increment(1), [field]: firestore().FieldValue.increment(1), updatedAt: deps.now() },
        { merge: true },
      );
  } catch (err) {
    ctx.log.warn('could not count a suppressed signup mail', { err });
  }
}
