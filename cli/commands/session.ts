/** `login` and `logout`: where the CLI's sign-in comes from and goes. */
import type { Command } from '../command.ts';
import { createClient } from '../client.ts';
import { DEFAULT_URL, decodeJwt, defaultTokenEndpoint, readCredentials, refreshIdToken, removeCredentials, writeCredentials, type StoredCredentials } from '../credentials.ts';
import { UsageError } from '../errors.ts';
import { readSecretValue } from '../input.ts';

export const login: Command = {
  name: 'login',
  usage: 'login [--url <api-url>] [--token <id-token> | --refresh-token <token> --api-key <key>]',
  summary: 'sign in with a Firebase ID token (read from stdin when not given), or a refresh token and web API key',
  args: [0, 0],
  options: {
    url: { type: 'string', description: `API base URL (default: the stored one, else ${DEFAULT_URL})` },
    token: { type: 'string', description: 'Firebase ID token; prefer piping it on stdin so it stays out of shell history' },
    'refresh-token': { type: 'string', description: 'Firebase refresh token: the CLI mints fresh ID tokens with it' },
    'api-key': { type: 'string', description: 'the Firebase web API key (needed with --refresh-token)' },
    'token-endpoint': { type: 'string', description: 'Secure Token API URL (default: the Auth emulator when FIREBASE_AUTH_EMULATOR_HOST is set)' },
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
      credentials.idToken = (await refreshIdToken(credentials.tokenEndpoint, credentials.apiKey, credentials.refreshToken, ctx.fetch)).idToken;
    } else {
      const token = (values.token as string | undefined) ?? (await readSecretValue(ctx.stdin, ctx.stderr, 'Firebase ID token: ')).trim();
      if (!token) throw new UsageError('No token given: pass --token, or pipe the ID token on stdin.', 'login');
      credentials.idToken = token;
    }
    // Prove the token works before saving it, so a typo fails here and not on the next command.
    const client = createClient({ url, token: async () => credentials.idToken! }, ctx.fetch);
    await client.request('GET', '/api/v1/tenants?pageSize=1');
    const file = writeCredentials(env, credentials);
    const claims = decodeJwt(credentials.idToken!);
    const who = claims?.email ?? claims?.user_id ?? claims?.sub ?? 'your account';
    if (out.jsonMode) out.json({ url, user: who, credentialsFile: file, refreshes: Boolean(credentials.refreshToken) });
    out.line(`Signed in to ${url} as ${who}. Credentials saved in ${file}.`);
    if (!credentials.refreshToken && claims?.exp) out.line(out.color('dim', `The ID token expires at ${new Date(claims.exp * 1000).toLocaleString()}; log in with --refresh-token to stay signed in.`));
  },
};

export const logout: Command = {
  name: 'logout',
  usage: 'logout',
  summary: 'forget the stored sign-in',
  args: [0, 0],
  async run(ctx) {
    const removed = removeCredentials(ctx.env);
    if (ctx.out.jsonMode) ctx.out.json({ signedOut: removed });
    ctx.out.line(removed ? 'Signed out: the stored credentials are deleted.' : 'You were not signed in.');
    if (ctx.env.TENANTPLANE_TOKEN) ctx.out.note('TENANTPLANE_TOKEN is still set in this shell and still signs you in.');
  },
};
