/**
 * CLI sign-in with a device code (R-UX-1), end to end: the real CLI process
 * shows a code, a signed-in user approves it through the API, and the CLI
 * stores a refresh token from the Auth emulator; plus the rules of the codes
 * (expiry, single use, denial, slow_down, the per-address limit) and logout's
 * revocation.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Timestamp } from '@google-cloud/firestore';
import { deviceCodeRef } from '../shared/store/device-codes.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser } from '../testing/users.ts';
import { createCliHome, type CliHome } from '../cli/cli-test-kit.ts';

const BIN = resolve(import.meta.dirname, '../cli/bin.js');

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
});
test.after.always(async () => {
  await stack?.close();
});

interface RunningCli {
  /** Resolves with the user code once the CLI printed it. */
  code: Promise<string>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** `tenantplane login …` as a child process whose output is read while it runs. */
function startLogin(cli: CliHome, args: string[] = []): RunningCli {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({
    ...process.env,
    XDG_CONFIG_HOME: undefined,
    TENANTPLANE_TOKEN: undefined,
    TENANTPLANE_URL: undefined,
    NO_COLOR: '1',
    HOME: cli.home,
  })) {
    if (v !== undefined) env[k] = v;
  }
  const child = spawn(process.execPath, [BIN, 'login', '--url', stack.url, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end('');
  let stdout = '';
  let stderr = '';
  let found: (code: string) => void;
  const code = new Promise<string>((res) => (found = res));
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    const match = /\b([A-Z]{4}-[A-Z]{4})\b/.exec(stderr);
    if (match) found(match[1]);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (exit) => {
      clearTimeout(timer);
      res({ code: exit, stdout, stderr });
    }),
  );
  return { code, done };
}

const post = (path: string, json: unknown, token?: string, headers?: Record<string, string>) =>
  stack.fetch(path, { method: 'POST', json, token, headers });

async function startCode(): Promise<{
  device_code: string;
  user_code: string;
  interval: number;
  expires_in: number;
  verification_uri: string;
}> {
  const res = await post('/api/v1/device/code', {});
  if (res.status !== 200) throw new Error(`starting a device code answered ${res.status}: ${await res.text()}`);
  return res.json();
}

const credentialsOf = (cli: CliHome) => join(cli.home, '.config/tenantplane/credentials.json');

// The flow

test.serial(
  'login shows a short code and a URL, waits for approval, then stores a refresh token readable by the owner only; logout revokes it',
  async (t) => {
    const user = await createTestUser(stack.deps);
    const cli = createCliHome();
    t.teardown(() => cli.remove());
    const login = startLogin(cli);
    const userCode = await login.code;
    t.regex(userCode, /^[BCDFGHJKMNPQRTVW]{4}-[BCDFGHJKMNPQRTVW]{4}$/);

    const approve = await post('/api/v1/device/approve', { user_code: userCode.toLowerCase() }, user.token);
    t.is(approve.status, 200, await approve.clone().text());
    const result = await login.done;
    t.is(result.code, 0, result.stderr);
    t.regex(result.stderr, new RegExp(`${stack.url}/device.html\\?code=${userCode}`));
    t.regex(result.stdout, new RegExp(`Signed in to ${stack.url} as ${user.email}`));

    const file = credentialsOf(cli);
    t.is(statSync(file).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    t.truthy(stored.refreshToken);
    t.truthy(stored.apiKey);
    t.false(result.stdout.includes(stored.refreshToken) || result.stderr.includes(stored.refreshToken));
    const list = await cli.run(['tenants', 'list']);
    t.is(list.code, 0, list.stderr);

    // Revocation has a one-second resolution: a token issued in the same second would outlive it.
    await new Promise((r) => setTimeout(r, 1100));
    const logout = await cli.run(['logout']);
    t.is(logout.code, 0, logout.stderr);
    t.regex(logout.stdout, /refresh token is revoked/);
    t.throws(() => statSync(file));
    const refreshed = await fetch(`${stored.tokenEndpoint}?key=${stored.apiKey}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stored.refreshToken }),
    });
    // Google's token service refuses a revoked refresh token; the Auth emulator's still mints an ID token,
    // but that token carries the old sign-in time, so the API (which checks revocation) refuses it.
    const minted = (await refreshed.json()) as { id_token?: string };
    if (refreshed.ok) t.is((await stack.fetch('/api/v1/tenants', { token: minted.id_token })).status, 401);
    t.is((await stack.fetch('/api/v1/tenants', { token: stored.idToken })).status, 401);
    t.is((await stack.fetch('/api/v1/tenants', { token: user.token })).status, 401, 'every session of the account ends');
  },
);

test.serial('login --email mails a sign-in link and still waits for the code to be approved', async (t) => {
  const user = await createTestUser(stack.deps);
  const cli = createCliHome();
  t.teardown(() => cli.remove());
  const login = startLogin(cli, ['--email', user.email]);
  const userCode = await login.code;
  const mail = await stack.mail.waitFor(user.email, { timeoutMs: 30_000 });
  t.regex(mail.text, /activate\.html\?token=/);
  t.is((await post('/api/v1/device/approve', { user_code: userCode }, user.token)).status, 200);
  const result = await login.done;
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, new RegExp(`sign-in link to ${user.email.replace('.', '\\.')}`));
});

test.serial('a denied code makes the waiting CLI stop with access_denied and store nothing', async (t) => {
  const user = await createTestUser(stack.deps);
  const cli = createCliHome();
  t.teardown(() => cli.remove());
  const login = startLogin(cli);
  t.is((await post('/api/v1/device/deny', { user_code: await login.code }, user.token)).status, 200);
  const result = await login.done;
  t.is(result.code, 1);
  t.regex(result.stderr, /denied/);
  t.throws(() => statSync(credentialsOf(cli)));
});

// The rules of a code

test.serial('a code is single-use: the custom token is handed over once, then polling answers 410 expired_token', async (t) => {
  const user = await createTestUser(stack.deps);
  const start = await startCode();
  t.is(start.expires_in, 600);
  t.is((await post('/api/v1/device/approve', { user_code: start.user_code }, user.token)).status, 200);
  const first = await post('/api/v1/device/token', { device_code: start.device_code });
  t.is(first.status, 200);
  const body = await first.json();
  t.is(typeof body.custom_token, 'string');
  t.is(body.uid, user.uid);
  const second = await post('/api/v1/device/token', { device_code: start.device_code });
  t.is(second.status, 410);
  t.is((await second.json()).error.details.error, 'expired_token');
  // An approved (used) code cannot be approved again either.
  t.is((await post('/api/v1/device/approve', { user_code: start.user_code }, user.token)).status, 404);
});

test.serial('polling faster than the interval answers 429 slow_down with a longer interval; pending answers 202', async (t) => {
  const start = await startCode();
  const first = await post('/api/v1/device/token', { device_code: start.device_code });
  t.is(first.status, 202);
  t.deepEqual(await first.json(), { status: 'authorization_pending', interval: start.interval });
  const second = await post('/api/v1/device/token', { device_code: start.device_code });
  t.is(second.status, 429);
  t.is(second.headers.get('retry-after'), String(start.interval + 5));
  t.like((await second.json()).error, { code: 'rate_limited', details: { error: 'slow_down', interval: start.interval + 5 } });
});

test.serial('a code expires after 10 minutes: polling answers 410 expired_token and approving it fails', async (t) => {
  const user = await createTestUser(stack.deps);
  const start = await startCode();
  const ref = deviceCodeRef(stack.deps.db, start.device_code);
  t.is((await ref.get()).data()?.device_code, undefined, 'the device code itself is not stored');
  await ref.update({ expiresAt: Timestamp.fromMillis(Date.now() - 1000) });
  const approve = await post('/api/v1/device/approve', { user_code: start.user_code }, user.token);
  t.is(approve.status, 410);
  const poll = await post('/api/v1/device/token', { device_code: start.device_code });
  t.is(poll.status, 410);
  t.is((await poll.json()).error.details.error, 'expired_token');
});

test.serial('an unknown or malformed code is refused without a 500', async (t) => {
  const user = await createTestUser(stack.deps);
  t.is((await post('/api/v1/device/approve', { user_code: 'BBBB-BBBB' }, user.token)).status, 404);
  t.is((await post('/api/v1/device/approve', { user_code: 'AEIO-U123' }, user.token)).status, 400);
  t.is((await post('/api/v1/device/token', { device_code: 'f'.repeat(64) })).status, 400);
  t.is((await post('/api/v1/device/token', { device_code: 'short' })).status, 400);
});

test.serial("creating codes is rate-limited per client address (the earlier tests used some of this address's budget)", async (t) => {
  const limit = stack.config.signup.rateLimitPerHour;
  let refused: Response | undefined;
  for (let i = 0; i <= limit && !refused; i++) {
    const res = await post('/api/v1/device/code', {});
    if (res.status === 429) refused = res;
    else t.is(res.status, 200);
  }
  t.truthy(refused, `no 429 after ${limit + 1} codes from one address`);
  t.truthy(refused?.headers.get('retry-after'));
  t.is((await refused!.json()).error.code, 'rate_limited');
});
