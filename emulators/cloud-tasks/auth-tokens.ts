/**
 * Authorization headers for HTTP targets with oidc_token / oauth_token.
 *
 * Production sends a Google-signed ID token (OIDC) or access token (OAuth).
 * Locally there is no Google key to sign with, so the OIDC token is an
 * UNSIGNED JWT (`alg: none`, empty signature) with the same claims a real
 * one carries (iss, aud = audience or the task url, email, email_verified,
 * sub, iat, exp). It lets a local receiver read who the caller claims to be;
 * a receiver must never trust it as proof of identity — verify tokens only
 * when running against production.
 */
import { createHash } from 'node:crypto';
import type { HttpTargetRecord } from './model.ts';

const base64url = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Builds the unsigned, JWT-shaped OIDC token for a dispatch. */
export function createLocalOidcToken(email: string, audience: string, nowMs = Date.now()): string {
  const iat = Math.floor(nowMs / 1000);
  const header = { alg: 'none', typ: 'JWT', kid: 'local-cloud-tasks-unsigned' };
  const payload = {
    iss: 'https://accounts.google.com',
    aud: audience,
    azp: email,
    email,
    email_verified: true,
    // A stable numeric-looking subject per account, as Google's are numeric.
    sub: BigInt(`0x${createHash('sha256').update(email).digest('hex').slice(0, 15)}`).toString(),
    iat,
    exp: iat + 3600,
  };
  return `${base64url(header)}.${base64url(payload)}.`;
}

/** The Authorization header value for a task's target, if it asks for one. */
export function authorizationFor(http: HttpTargetRecord, nowMs = Date.now()): string | undefined {
  if (http.oidcToken) {
    return `Bearer ${createLocalOidcToken(http.oidcToken.serviceAccountEmail, http.oidcToken.audience || http.url, nowMs)}`;
  }
  if (http.oauthToken) {
    // Opaque like a real access token, but visibly local so nobody mistakes it for one.
    const token = Buffer.from(`${http.oauthToken.serviceAccountEmail} ${http.oauthToken.scope}`).toString('base64url');
    return `Bearer local-unsigned-oauth.${token}`;
  }
  return undefined;
}
