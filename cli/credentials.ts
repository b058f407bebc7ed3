/**
 * Where the CLI keeps its sign-in: `~/.config/tenantplane/credentials.json`
 * (or `$XDG_CONFIG_HOME/tenantplane/…`), readable by the owner only. It holds
 * the API URL and a Firebase ID token, or a refresh token plus the web API key
 * to mint fresh ID tokens (they last one hour). `TENANTPLANE_TOKEN` and
 * `TENANTPLANE_URL` override the file, for CI and scripts.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './errors.ts';

export type Env = Record<string, string | undefined>;

export interface StoredCredentials {
  url: string;
  idToken?: string;
  refreshToken?: string;
  apiKey?: string;
  /** Base of the Secure Token API used to refresh (the Auth emulator's when it is set). */
  tokenEndpoint?: string;
}

export const DEFAULT_URL = 'http://localhost:8080';
export const PRODUCTION_TOKEN_ENDPOINT = 'https://securetoken.googleapis.com/v1/token';
/** Refresh a little before expiry so a request never leaves with a token about to lapse. */
const REFRESH_MARGIN_S = 120;

export function credentialsPath(env: Env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'tenantplane', 'credentials.json');
}

export function readCredentials(env: Env): StoredCredentials | undefined {
  const file = credentialsPath(env);
  if (!existsSync(file)) return undefined;
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as StoredCredentials;
    if (typeof value.url !== 'string') throw new Error('no url');
    return value;
  } catch {
    throw new CliError(`${file} is not a valid credentials file; run \`tenantplane logout\` and \`tenantplane login\` again.`);
  }
}

/** Writes with mode 0600 in a 0700 folder: the file holds bearer tokens. */
export function writeCredentials(env: Env, credentials: StoredCredentials): string {
  const file = credentialsPath(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its old mode through writeFileSync
  return file;
}

export function removeCredentials(env: Env): boolean {
  const file = credentialsPath(env);
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
}

/** The Secure Token endpoint: the Auth emulator's when FIREBASE_AUTH_EMULATOR_HOST is set, else Google's. */
export function defaultTokenEndpoint(env: Env): string {
  const emulator = env.FIREBASE_AUTH_EMULATOR_HOST;
  return emulator ? `http://${emulator}/securetoken.googleapis.com/v1/token` : PRODUCTION_TOKEN_ENDPOINT;
}

/** The claims of a JWT, unverified: only for showing who is signed in and when the token lapses. */
export function decodeJwt(token: string): { exp?: number; email?: string; user_id?: string; sub?: string } | undefined {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Exchanges a refresh token for a new ID token (Secure Token API `grant_type=refresh_token`). */
export async function refreshIdToken(
  endpoint: string,
  apiKey: string,
  refreshToken: string,
  fetchFn: typeof fetch = fetch,
): Promise<{ idToken: string; refreshToken: string }> {
  let res: Response;
  try {
    res = await fetchFn(`${endpoint}?key=${encodeURIComponent(apiKey)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
  } catch (err) {
    throw new CliError(
      `Cannot reach the token service at ${endpoint} (${(err as Error).message}); check your network or --token-endpoint.`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { id_token?: string; refresh_token?: string; error?: { message?: string } };
  if (!res.ok || !body.id_token) {
    throw new CliError(`Refreshing the sign-in failed (${body.error?.message ?? `HTTP ${res.status}`}); run \`tenantplane login\` again.`);
  }
  return { idToken: body.id_token, refreshToken: body.refresh_token ?? refreshToken };
}

export interface Session {
  url: string;
  /** A valid-looking ID token, refreshed (and saved) when it was about to expire, or at once with `force`. */
  token(force?: boolean): Promise<string>;
  /** True when `token(true)` can mint a new token (a refresh token is stored). */
  readonly canRefresh?: boolean;
}

/** The session from the environment overrides and the credentials file, or a CliError saying how to sign in. */
export function openSession(env: Env, fetchFn: typeof fetch = fetch): Session {
  const stored = readCredentials(env);
  const url = (env.TENANTPLANE_URL || stored?.url || DEFAULT_URL).replace(/\/+$/, '');
  if (env.TENANTPLANE_TOKEN) return { url, token: async () => env.TENANTPLANE_TOKEN! };
  if (!stored || (!stored.idToken && !stored.refreshToken)) {
    throw new CliError('You are not signed in: run `tenantplane login --url <api-url>` (or set TENANTPLANE_TOKEN).');
  }
  let current = stored;
  return {
    url,
    canRefresh: Boolean(stored.refreshToken && stored.apiKey),
    async token(force = false) {
      const exp = current.idToken ? decodeJwt(current.idToken)?.exp : undefined;
      const fresh = !force && current.idToken && (exp === undefined || exp - Date.now() / 1000 > REFRESH_MARGIN_S);
      if (fresh || !current.refreshToken || !current.apiKey) return current.idToken ?? '';
      const next = await refreshIdToken(current.tokenEndpoint ?? defaultTokenEndpoint(env), current.apiKey, current.refreshToken, fetchFn);
      current = { ...current, ...next };
      writeCredentials(env, current);
      return next.idToken;
    },
  };
}
