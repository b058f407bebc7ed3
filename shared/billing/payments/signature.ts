/**
 * Webhook signature checks exactly as SPEC R-PLANS-1 (and the providers' docs) say,
 * over the RAW body bytes, never a re-serialized JSON:
 * - Stripe `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`: HMAC-SHA256 of `t + "." + body`
 *   with the endpoint secret; any v1 may match (secret rotation), and so may any of our
 *   configured secrets; |now − t| ≤ 300 s.
 * - Paddle `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>…]`: HMAC-SHA256 of `ts + ":" + body`;
 *   |now − ts| ≤ tolerance (5 s by default).
 * Digests are compared in constant time. Failures throw a 401 whose message says
 * what was wrong but never echoes a secret or an expected digest.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../errors.ts';

export function signatureError(provider: string, why: string): AppError {
  return new AppError('unauthenticated', `The ${provider} webhook signature is not valid: ${why}.`, { provider });
}

/** HMAC-SHA256 of `prefix` followed by the raw body, hex. */
export function hmacHex(secret: string, prefix: string, body: Buffer): string {
  return createHmac('sha256', secret).update(prefix).update(body).digest('hex');
}

/** Constant-time equality of two hex digests (a length mismatch is simply false). */
export function equalHex(expected: string, given: string): boolean {
  if (!/^[0-9a-f]+$/i.test(given)) return false;
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(given, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Splits `k=v` pairs on `separator`; repeated keys keep every value. */
function parsePairs(header: string, separator: string): Map<string, string[]> {
  const pairs = new Map<string, string[]>();
  for (const part of header.split(separator)) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const key = part.slice(0, at).trim();
    pairs.set(key, [...(pairs.get(key) ?? []), part.slice(at + 1).trim()]);
  }
  return pairs;
}

function checkTimestamp(provider: string, raw: string | undefined, nowMs: number, toleranceSeconds: number): string {
  if (!raw || !/^\d{1,12}$/.test(raw)) throw signatureError(provider, 'the header has no valid timestamp');
  const skew = nowMs / 1000 - Number(raw);
  if (Math.abs(skew) > toleranceSeconds) {
    throw signatureError(
      provider,
      `the timestamp is ${Math.round(Math.abs(skew))} s ${skew > 0 ? 'old' : 'in the future'}, more than the ${toleranceSeconds} s allowed`,
    );
  }
  return raw;
}

function checkDigests(provider: string, digests: string[], secrets: string[], prefix: string, body: Buffer): void {
  if (digests.length === 0) throw signatureError(provider, 'the header has no signature');
  // Every secret against every digest, without stopping early, so timing says nothing about which matched.
  let matched = false;
  for (const secret of secrets) {
    const expected = hmacHex(secret, prefix, body);
    for (const digest of digests) matched = equalHex(expected, digest) || matched;
  }
  if (!matched) throw signatureError(provider, 'no signature matches the body');
}

/** Verifies a Stripe-Signature header; throws 401 otherwise. */
export function verifyStripeSignature(
  body: Buffer,
  header: string | undefined,
  secrets: string[],
  nowMs: number,
  toleranceSeconds = 300,
): void {
  if (!header) throw signatureError('stripe', 'the Stripe-Signature header is missing');
  const pairs = parsePairs(header, ',');
  const t = checkTimestamp('stripe', pairs.get('t')?.[0], nowMs, toleranceSeconds);
  checkDigests('stripe', pairs.get('v1') ?? [], secrets, `${t}.`, body);
}

/** Verifies a Paddle-Signature header; throws 401 otherwise. */
export function verifyPaddleSignature(
  body: Buffer,
  header: string | undefined,
  secrets: string[],
  nowMs: number,
  toleranceSeconds = 5,
): void {
  if (!header) throw signatureError('paddle', 'the Paddle-Signature header is missing');
  const pairs = parsePairs(header, ';');
  const ts = checkTimestamp('paddle', pairs.get('ts')?.[0], nowMs, toleranceSeconds);
  checkDigests('paddle', pairs.get('h1') ?? [], secrets, `${ts}:`, body);
}
