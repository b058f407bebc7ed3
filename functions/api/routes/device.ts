/**
 * CLI sign-in with a device code (R-UX-1), shaped after RFC 8628 and
 * `gh auth login`:
 *
 * 1. `POST /api/v1/device/code` (public, rate-limited per client address):
 *    a secret `device_code` for the CLI and a short `user_code` (`XXXX-XXXX`)
 *    for the person, with `verification_uri`, `expires_in` (600 s) and `interval`.
 * 2. The person opens `/device.html`, signed in, and approves or denies:
 *    `POST /api/v1/device/approve|deny {user_code}` (any signed-in user).
 * 3. The CLI polls `POST /api/v1/device/token {device_code}` every `interval`
 *    seconds: 202 `authorization_pending`; 429 `slow_down` when it polls
 *    sooner (with the new, longer interval); 410 `expired_token` once the code
 *    expired or was used; 403 `access_denied`; and exactly once 200 with a
 *    Firebase custom token for the approving user, which the CLI exchanges for
 *    an ID and refresh token (`accounts:signInWithCustomToken`).
 *
 * The RFC's error names travel in `details.error`, inside the §9 error body.
 * `POST /api/v1/session/revoke {"sessions": "all"}` revokes every refresh token
 * of the caller (`tenantplane logout`): Firebase revokes per account, so
 * browser sessions end too; the body makes the caller say so.
 */
import type { Deps } from '../../../shared/deps.ts';
import { AppError } from '../../../shared/errors.ts';
import { enforceRateLimit } from '../../../shared/http/rate-limit.ts';
import { createToken, TOKEN_PATTERN } from '../../../shared/store/signups.ts';
import {
  createUserCode,
  deviceCodeRef,
  findDeviceCodeRefByUserCode,
  hashUserCode,
  normalizeUserCode,
  readDeviceCode,
  writeDeviceCode,
  type DeviceCode,
} from '../../../shared/store/device-codes.ts';
import { runKeyedTransaction } from '../../../shared/store/transact.ts';
import { signedIn, type ApiRoute } from '../route.ts';

const HOUR = 3_600_000;
export const DEVICE_CODE_TTL_S = 600;
export const DEVICE_POLL_INTERVAL_S = 5;
/** Approvals a signed-in user may attempt per hour: guessing codes gets nowhere. */
const APPROVALS_PER_HOUR = 30;

export interface DeviceRouteOptions {
  /** Seconds between polls the server asks for (tests shorten it). */
  intervalSeconds?: number;
}

const expired = () =>
  new AppError('expired', 'This sign-in code has expired or was already used; run `tenantplane login` again.', { error: 'expired_token' });
const unknownCode = () =>
  new AppError('invalid_request', 'This device code is not known; run `tenantplane login` again.', { error: 'invalid_grant' });
const noUserCode = () =>
  new AppError(
    'not_found',
    'No sign-in is waiting for this code: check it against your terminal, or run `tenantplane login` again (codes last 10 minutes).',
  );

export function deviceRoutes(deps: Deps, options: DeviceRouteOptions = {}): ApiRoute[] {
  const interval = options.intervalSeconds ?? DEVICE_POLL_INTERVAL_S;

  async function decide(userCodeInput: unknown, uid: string, decision: 'approved' | 'denied'): Promise<void> {
    const userCode = normalizeUserCode(userCodeInput);
    if (!userCode)
      throw new AppError('validation_failed', 'user_code must be the 8-letter code your terminal shows, like BCDF-GHJK.', {
        fields: { user_code: 'expected XXXX-XXXX' },
      });
    await enforceRateLimit(deps.db, { key: `device-approve:${uid}`, limit: APPROVALS_PER_HOUR, windowMs: HOUR, now: deps.now() });
    const ref = await findDeviceCodeRefByUserCode(deps.db, userCode);
    if (!ref) throw noUserCode();
    await runKeyedTransaction(deps.db, ref.path, async (tx) => {
      const now = deps.now();
      const current = await readDeviceCode(tx, ref);
      if (current?.status !== 'pending' || current.userCodeHash !== hashUserCode(userCode)) throw noUserCode();
      if (current.expiresAt.getTime() <= now.getTime()) throw expired();
      writeDeviceCode(tx, ref, { ...current, status: decision, uid, decidedAt: now }, true);
    });
  }

  return [
    {
      method: 'POST',
      path: '/api/v1/device/code',
      action: 'device.start',
      handler: async (ctx) => {
        await enforceRateLimit(deps.db, {
          key: `device:${ctx.ip}`,
          limit: deps.config.signup.rateLimitPerHour,
          windowMs: HOUR,
          now: deps.now(),
        });
        const deviceCode = createToken();
        const userCode = createUserCode();
        const now = deps.now();
        const ref = deviceCodeRef(deps.db, deviceCode);
        const code: DeviceCode = {
          userCodeHash: hashUserCode(userCode),
          status: 'pending',
          interval,
          createdAt: now,
          expiresAt: new Date(now.getTime() + DEVICE_CODE_TTL_S * 1000),
        };
        await runKeyedTransaction(deps.db, ref.path, async (tx) => writeDeviceCode(tx, ref, code, false));
        const verificationUri = `${deps.config.publicUrl.replace(/\/+$/, '')}/device.html`;
        return {
          status: 200,
          headers: { 'Cache-Control': 'no-store' },
          body: {
            device_code: deviceCode,
            user_code: userCode,
            verification_uri: verificationUri,
            verification_uri_complete: `${verificationUri}?code=${userCode}`,
            expires_in: DEVICE_CODE_TTL_S,
            interval,
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/device/token',
      action: 'device.poll',
      handler: async (ctx) => {
        const deviceCode = (await ctx.json()).device_code;
        if (typeof deviceCode !== 'string' || !TOKEN_PATTERN.test(deviceCode)) {
          throw new AppError('validation_failed', 'device_code is required: the value POST /api/v1/device/code answered.', {
            fields: { device_code: 'required' },
          });
        }
        const ref = deviceCodeRef(deps.db, deviceCode);
        const outcome = await runKeyedTransaction(deps.db, ref.path, async (tx) => {
          const now = deps.now();
          const current = await readDeviceCode(tx, ref);
          if (!current) throw unknownCode();
          if (current.status === 'delivered' || current.expiresAt.getTime() <= now.getTime()) return { kind: 'expired' as const };
          if (current.status === 'denied') return { kind: 'denied' as const };
          // Polling sooner than asked: slow down by 5 more seconds each time (RFC 8628 §3.5). A little slack for timers.
          const tooSoon = current.lastPolledAt && now.getTime() - current.lastPolledAt.getTime() < current.interval * 1000 - 250;
          if (tooSoon) {
            const next = current.interval + 5;
            writeDeviceCode(tx, ref, { ...current, interval: next, lastPolledAt: now }, true);
            return { kind: 'slow_down' as const, interval: next };
          }
          if (current.status === 'pending') {
            writeDeviceCode(tx, ref, { ...current, lastPolledAt: now }, true);
            return { kind: 'pending' as const, interval: current.interval };
          }
          writeDeviceCode(tx, ref, { ...current, status: 'delivered', deliveredAt: now, lastPolledAt: now }, true);
          return { kind: 'approved' as const, uid: current.uid! };
        });
        switch (outcome.kind) {
          case 'expired':
            throw expired();
          case 'denied':
            throw new AppError('forbidden', 'The sign-in was denied in the browser.', { error: 'access_denied' });
          case 'slow_down':
            throw new AppError('rate_limited', `Polling too fast; wait ${outcome.interval} seconds between polls.`, {
              error: 'slow_down',
              interval: outcome.interval,
            }).withHeader('Retry-After', String(outcome.interval));
          case 'pending':
            return {
              status: 202,
              headers: { 'Cache-Control': 'no-store' },
              body: { status: 'authorization_pending', interval: outcome.interval },
            };
        }
        // Minted now, handed over in this one answer and never stored or logged.
        const auth = await deps.auth();
        const user = await auth.getUser(outcome.uid);
        const customToken = await auth.createCustomToken(outcome.uid);
        ctx.log.info('device sign-in delivered', { uid: outcome.uid });
        return {
          status: 200,
          headers: { 'Cache-Control': 'no-store' },
          body: { status: 'approved', custom_token: customToken, uid: user.uid, email: user.email },
        };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/device/approve',
      action: 'device.approve',
      handler: async (ctx, principal) => {
        const p = signedIn(principal);
        await decide((await ctx.json()).user_code, p.uid, 'approved');
        ctx.log.info('device sign-in approved', { uid: p.uid });
        return { status: 200, body: { status: 'approved' } };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/device/deny',
      action: 'device.approve',
      handler: async (ctx, principal) => {
        const p = signedIn(principal);
        await decide((await ctx.json()).user_code, p.uid, 'denied');
        return { status: 200, body: { status: 'denied' } };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/session/revoke',
      action: 'session.revoke',
      handler: async (ctx, principal) => {
        const p = signedIn(principal);
        // Firebase revokes per account, not per session: the caller says it knows every session ends.
        if ((await ctx.json()).sessions !== 'all') {
          throw new AppError(
            'validation_failed',
            'Send {"sessions": "all"}: revoking signs this account out everywhere (every CLI and browser).',
            { fields: { sessions: 'must be "all"' } },
          );
        }
        await (await deps.auth()).revokeRefreshTokens(p.uid);
        ctx.log.info('refresh tokens revoked', { uid: p.uid });
        return { status: 200, body: { revoked: true } };
      },
    },
  ];
}
