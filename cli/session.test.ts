import test from 'ava';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { createCliHome, type CliHome } from './cli-test-kit.ts';

let stack: TestStack;
let user: TestUser;
let cli: CliHome;
test.before(async () => {
  stack = await startTestStack({ tasks: false });
  user = await createTestUser(stack.deps);
  cli = createCliHome({ FIREBASE_AUTH_EMULATOR_HOST: stack.config.emulators.auth });
});
test.after.always(async () => {
  cli?.remove();
  await stack?.close();
});

const credentialsFile = () => join(cli.home, '.config/tenantplane/credentials.json');

// Sign-in

test.serial('login reads the ID token from stdin, checks it, and stores it readable by the owner only', async (t) => {
  const login = await cli.run(['login', '--url', stack.url], { input: `${user.token}\n` });
  t.is(login.code, 0, login.stderr);
  t.regex(login.stdout, new RegExp(`Signed in to ${stack.url} as ${user.email}`));
  t.is(statSync(credentialsFile()).mode & 0o777, 0o600);
  t.false(login.stdout.includes(user.token));
  const list = await cli.run(['tenants', 'list', '--json']);
  t.is(list.code, 0, list.stderr);
  t.deepEqual(JSON.parse(list.stdout), { tenants: [] });
});

test.serial('a bad token is refused at login with the API message, and nothing is stored', async (t) => {
  const other = createCliHome();
  try {
    const login = await other.run(['login', '--url', stack.url, '--token', 'not-a-token']);
    t.is(login.code, 1);
    t.regex(login.stderr, /sign-in token is not valid.*tenantplane login.*\[unauthenticated\]/s);
    const list = await other.run(['tenants', 'list']);
    t.is(list.code, 1);
    t.regex(list.stderr, /not signed in.*tenantplane login/);
  } finally {
    other.remove();
  }
});

test.serial('TENANTPLANE_TOKEN overrides the stored token, and a bad one fails with exit 1 and a JSON error', async (t) => {
  const res = await cli.run(['tenants', 'list', '--json'], { env: { TENANTPLANE_TOKEN: 'garbage', TENANTPLANE_URL: stack.url } });
  t.is(res.code, 1);
  t.is(JSON.parse(res.stdout).error.code, 'unauthenticated');
  t.regex(res.stderr, /Error: The sign-in token is not valid/);
});

test.serial('login with a refresh token mints a new ID token when the stored one is missing or expiring', async (t) => {
  const customToken = await (await stack.deps.auth()).createCustomToken(user.uid);
  const signIn = await fetch(
    `http://${stack.config.emulators.auth}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken?key=fake-api-key`,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: customToken, returnSecureToken: true }),
    },
  );
  const { refreshToken } = (await signIn.json()) as { refreshToken: string };
  const login = await cli.run(['login', '--url', stack.url, '--refresh-token', refreshToken, '--api-key', 'fake-api-key']);
  t.is(login.code, 0, login.stderr);
  const stored = JSON.parse(readFileSync(credentialsFile(), 'utf8'));
  t.is(stored.refreshToken, refreshToken);
  writeFileSync(credentialsFile(), JSON.stringify({ ...stored, idToken: undefined }));
  const list = await cli.run(['tenants', 'list']);
  t.is(list.code, 0, list.stderr);
  t.truthy(JSON.parse(readFileSync(credentialsFile(), 'utf8')).idToken, 'the refreshed token is saved for the next command');
});

test.serial('logout forgets the credentials', async (t) => {
  t.is((await cli.run(['logout'])).code, 0);
  const list = await cli.run(['tenants', 'list']);
  t.is(list.code, 1);
  t.regex(list.stderr, /not signed in/);
});

// Usage

test('an unknown command, a missing argument or an unknown option is a usage error with exit code 2', async (t) => {
  const unknown = await cli.run(['frobnicate']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /Unknown command "frobnicate".*Usage: tenantplane <command>/s);
  const missing = await cli.run(['create']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /Missing argument.*Usage: tenantplane create <name>/s);
  const option = await cli.run(['show', 'shop', '--colour']);
  t.is(option.code, 2);
  t.regex(option.stderr, /Unknown option '--colour'/);
  const bare = await cli.run([]);
  t.is(bare.code, 2);
});

test('--help lists every command and exits 0', async (t) => {
  const help = await cli.run(['--help']);
  t.is(help.code, 0);
  for (const name of [
    'login',
    'tenants list',
    'create',
    'show',
    'suspend',
    'resume',
    'deploy',
    'logs',
    'secrets',
    'rotate',
    'delete',
    'status',
    'events',
  ]) {
    t.regex(help.stdout, new RegExp(`^  ${name} `, 'm'));
  }
});
