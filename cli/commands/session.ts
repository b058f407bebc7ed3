/** `login` and `logout`: where the CLI's sign-in comes from and goes. */
import type { Command } from '../command.ts';
import { createClient } from '../client.ts';
import {
  DEFAULT_URL,
  decodeJwt,
  defaultTokenEndpoint,
  readCredentials,
  refreshIdToken,
  removeCredentials,
  writeCredentials,
  type StoredCredentials,
} from '../credentials.ts';
import { UsageError } from '../errors.ts';
import { readSecretValue } from '../input.ts';
import { deviceLogin } from '../device-login.ts';
import { openSession } from '../credentials.ts';

export const login: Command = {
  name: 'login',
  usage: 'login [--url <api-url>] [--email <address>] [--token <id-token> | --refresh-token <token> --api-key <key>]',
  summary: 'sign in: shows a one-time code to approve in a signed-in browser (or a piped ID token, --token, --refresh-token)',
  args: [0, 0],
  options: {
    url: { type: 'string', description: `API base URL (default: the stored one, else ${DEFAULT_URL})` },
    email: { type: 'string', description: 'mail a sign-in link to this address too, to approve the code from another device' },
    token: { type: 'string', description: 'Firebase ID token; prefer piping it on stdin so it stays out of shell history' },
    'refresh-token': { type: 'string', description: 'Firebase refresh token: the CLI mints fresh ID tokens with it' },
    'api-key': { type: 'string', description: 'the Firebase web API key (needed with --refresh-token)' },
    'token-endpoint': {
      type: 'string',
      description: 'Secure Token API URL (default: the Auth emulator when FIREBASE_AUTH_EMULATOR_HOST is set)',
    },
  },
  async run(ctx) {
    const { values, env, out } = ctx;
    const url = String(values.url ?? env.TENANTPLANE_URL ?? readCredentials(env)?.url ?? DEFAULT_URL).replace(/\/+$/, '');
    try {
      new URL(url);
    } catch {
      throw new UsageError(`--url must be a URL such as ${DEFAULT_URL}, got "${url}".`, 'login');
    }
    const credentials: StoredCredentials = { url };
    if (values['refresh-token'] !== undefined) {
      if (!values['api-key']) throw new UsageError('--refresh-token needs --api-key (the Firebase web API key of the project).', 'login');
      credentials.refreshToken = String(values['refresh-token']);
      credentials.apiKey = String(values['api-key']);
      credentials.tokenEndpoint = String(values['token-endpoint'] ?? defaultTokenEndpoint(env));
      credentials.idToken = (
        await refreshIdToken(credentials.tokenEndpoint, credentials.apiKey, credentials.refreshToken, ctx.fetch)
      ).idToken;
    } else {
      // An ID token given or piped in (scripts) is used as before; a terminal, or nothing piped, starts the device flow.
      const piped =
        values.token === undefined && !ctx.stdin.isTTY && values.email === undefined
          ? (await readSecretValue(ctx.stdin, ctx.stderr, '')).trim()
          : '';
      const token = (values.token as string | undefined) ?? piped;
      if (values.token !== undefined && !token)
        throw new UsageError(
          '--token is empty: pass the ID token, or run `tenantplane login` alone to approve a code in the browser.',
          'login',
        );
      if (token) credentials.idToken = token;
      else Object.assign(credentials, await deviceLogin(url, ctx, { email: values.email as string | undefined }));
    }
    // Prove the token works before saving it, so a typo fails here and not on the next command.
    const client = createClient({ url, token: async () => credentials.idToken! }, ctx.fetch);
    await client.request('GET', '/api/v1/tenants?pageSize=1');
    const file = writeCredentials(env, credentials);
    const claims = decodeJwt(credentials.idToken!);
    const who = claims?.email ?? claims?.user_id ?? claims?.sub ?? 'your account';
    if (out.jsonMode) out.json({ url, user: who, credentialsFile: file, refreshes: Boolean(credentials.refreshToken) });
    out.line(`Signed in to ${url} as ${who}. Credentials saved in ${file}.`);
    if (!credentials.refreshToken && claims?.exp)
      out.line(
        out.color(
          'dim',
          `The ID token expires at ${new Date(claims.exp * 1000).toLocaleString()}; log in with --refresh-token to stay signed in.`,
        ),
      );
  },
};

export const logout: Command = {
  name: 'logout',
  usage: 'logout [--keep-sessions]',
  summary: 'revoke the sign-in (every session of the account) and delete the stored credentials',
  args: [0, 0],
  options: {
    'keep-sessions': { type: 'boolean', description: 'only delete the local credentials; the refresh token stays valid' },
  },
  async run(ctx) {
    const revoked = ctx.values['keep-sessions'] ? false : await revokeStoredSession(ctx);
    const removed = removeCredentials(ctx.env);
    if (ctx.out.jsonMode) ctx.out.json({ signedOut: removed, revoked });
    ctx.out.line(
      removed
        ? `Signed out: ${revoked ? 'the refresh token is revoked (every session of this account ends) and ' : ''}the stored credentials are deleted.`
        : 'You were not signed in.',
    );
    if (ctx.env.TENANTPLANE_TOKEN) ctx.out.note('TENANTPLANE_TOKEN is still set in this shell and still signs you in.');
  },
};

/**
 * Revokes the stored sign-in's refresh tokens through the API (Firebase revokes
 * per account, so the browser's sessions end too). A failure is reported and
 * does not keep the local file: signing out locally always works.
 */
async function revokeStoredSession(ctx: Parameters<Command['run']>[0]): Promise<boolean> {
  const env = { ...ctx.env, TENANTPLANE_TOKEN: undefined, TENANTPLANE_URL: undefined };
  const stored = readCredentials(env);
  if (!stored || (!stored.idToken && !stored.refreshToken)) return false;
  try {
    await createClient(openSession(env, ctx.fetch), ctx.fetch).request('POST', '/api/v1/session/revoke', { sessions: 'all' });
    return true;
  } catch (err) {
    ctx.out.note(`Could not revoke the sign-in on ${stored.url} (${(err as Error).message}); deleting the local credentials anyway.`);
    return false;
  }
}
