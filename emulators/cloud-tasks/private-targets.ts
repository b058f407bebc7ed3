/**
 * Private receivers, as Cloud Run's front end guards them. A private function
 * (`--no-allow-unauthenticated`) accepts a Cloud Tasks call only with an OIDC
 * token whose audience is the function's own URL
 * (https://cloud.google.com/run/docs/authenticating/service-to-service): no
 * token is 403, a token for another audience is 401, and the function never
 * sees the request. Locally the token is unsigned, so this check is the part of
 * that rule the emulator can enforce: a task built with the wrong audience
 * fails here as it would in production instead of passing silently.
 */
import type { AttemptOutcome } from './http-attempt.ts';
import type { HttpTargetRecord } from './model.ts';

/** The URL a private target answers on (e.g. `http://127.0.0.1:8080/__fn/provision`), or undefined when `url` is public. */
export function privateTargetOf(url: string, privateTargets: readonly string[]): string | undefined {
  return privateTargets.find((target) => {
    const base = target.replace(/\/+$/, '');
    return url === base || url.startsWith(`${base}/`) || url.startsWith(`${base}?`);
  });
}

/** The answer Cloud Run's front end gives instead of delivering, or undefined when the call may go through. */
export function refusalFor(
  http: Pick<HttpTargetRecord, 'url' | 'oidcToken'>,
  privateTargets: readonly string[],
): AttemptOutcome | undefined {
  const target = privateTargetOf(http.url, privateTargets);
  if (!target) return undefined;
  if (!http.oidcToken) return { kind: 'response', status: 403 };
  const audience = http.oidcToken.audience || http.url;
  return audience.replace(/\/+$/, '') === target.replace(/\/+$/, '') ? undefined : { kind: 'response', status: 401 };
}

/** Reads TASKS_PRIVATE_TARGETS: comma-separated function URLs that require an OIDC token for exactly that URL. */
export function parsePrivateTargets(raw: string | undefined): string[] {
  const targets = (raw ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const target of targets) {
    if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(target)) {
      throw new Error(
        `TASKS_PRIVATE_TARGETS entry "${target}" is not a URL; example: TASKS_PRIVATE_TARGETS=http://127.0.0.1:8080/__fn/provision,http://127.0.0.1:8080/__fn/mail`,
      );
    }
  }
  return targets;
}
