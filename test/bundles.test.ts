/**
 * The platform as deployed: every function from its esbuild bundle in its own
 * functions-framework process behind the Hosting-like gateway, Cloud Tasks
 * calling the private task receivers with OIDC tokens that they check.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalOidcToken } from '../emulators/cloud-tasks/auth-tokens.ts';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';
import { FRAMEWORK } from '../scripts/dev/bundles.ts';
import { freePort } from '../scripts/dev/processes.ts';
import { waitForEvent } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

let stack: TestStack;
let owner: TestUser;
test.before(async () => {
  stack = await startTestStack({ bundles: true });
  owner = await createTestUser(stack.deps);
});
test.after.always(async () => {
  await stack?.close();
});

test.serial(
  'a tenant launches through the bundles: created by the api process, provisioned by the provision process through Cloud Tasks',
  async (t) => {
    const res = await stack.fetch('/api/v1/tenants', {
      method: 'POST',
      token: owner.token,
      json: { name: 'bundled', environments: ['demo'] },
    });
    const body = await res.json();
    t.is(res.status, 202, JSON.stringify(body));
    const events = await waitForEvent(stack.streamUrl, body.tenant.id, owner.token, ['tenant_ready', 'provisioning_failed'], 90_000);
    t.is(events.at(-1)!.type, 'tenant_ready', events.map((e) => `${e.type}: ${e.message ?? ''}`).join('\n'));
    const { environments } = await (await stack.fetch(`/api/v1/tenants/${body.tenant.id}/environments`, { token: owner.token })).json();
    const health = await fetch(new URL('/health', environments[0].url));
    t.is(health.status, 200);
    // The api process took the request and the provision process, not this one, ran the work.
    // (A request's line is written once it is answered, which can come just after the events.)
    t.true(await logShows('fn-api.log', /"requestMethod":"POST","requestUrl":"\/api\/v1\/tenants"/));
    t.true(await logShows('fn-provision.log', /"requestUrl":"\/tasks\/provision","status":200/));
    await stack.fetch(`/api/v1/tenants/${body.tenant.id}`, { method: 'DELETE', token: owner.token });
    await waitForEvent(stack.streamUrl, body.tenant.id, owner.token, ['tenant_deleted'], 60_000);
  },
);

async function logShows(file: string, line: RegExp): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (line.test(readFileSync(join(stack.dataDir, file), 'utf8'))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

test("a task receiver refuses a call with the task secret but without the tasks account's OIDC token for its own URL", async (t) => {
  const receiver = stack.config.functionsUrl.replace('{name}', 'provision');
  const account = stack.config.tasks.serviceAccount!;
  const call = (authorization?: string) =>
    fetch(`${receiver}/tasks/provision-sweep`, {
      method: 'POST',
      headers: { [TASK_SECRET_HEADER]: stack.config.tasks.secret, ...(authorization ? { Authorization: authorization } : {}) },
    });
  const refusals: Record<string, string | undefined> = {
    'no token': undefined,
    'not a JWT': 'Bearer not-a-token',
    'another audience': `Bearer ${createLocalOidcToken(account, stack.config.functionsUrl.replace('{name}', 'mail'))}`,
    'another account': `Bearer ${createLocalOidcToken('intruder@example.iam.gserviceaccount.com', receiver)}`,
    expired: `Bearer ${createLocalOidcToken(account, receiver, Date.now() - 2 * 3600_000)}`,
  };
  for (const [why, authorization] of Object.entries(refusals)) {
    const res = await call(authorization);
    t.is(res.status, 401, why);
    t.is((await res.json()).error.code, 'unauthenticated', why);
  }
  const res = await call(`Bearer ${createLocalOidcToken(account, receiver)}`);
  t.is(res.status, 200, await res.text());
});

test('a bundle without credentials says what is missing on one line and answers health 503, without an unhandled rejection', async (t) => {
  const port = await freePort();
  const root = join(import.meta.dirname, '..');
  const child = spawn(process.execPath, [FRAMEWORK, '--target=api', `--source=${join(root, 'dist/functions/api')}`, `--port=${port}`], {
    env: { PATH: process.env.PATH, HOME: stack.dataDir, METADATA_SERVER_DETECTION: 'none' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  try {
    let health: Response | undefined;
    for (let i = 0; i < 300 && !health; i++) {
      health = await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => undefined);
      if (!health) await new Promise((r) => setTimeout(r, 100));
    }
    t.is(health?.status, 503);
    t.like((await health!.json()).error, { code: 'unavailable', details: { dependency: 'credentials' } });
    t.is(health!.headers.get('retry-after'), '60');
    // A second request: nothing left over from the first either.
    t.is((await fetch(`http://127.0.0.1:${port}/api/v1/tenants`)).status, 503);
    await new Promise((r) => setTimeout(r, 500));
    const errors = output.split('\n').filter((l) => /"severity":"ERROR"/.test(l));
    t.is(errors.length, 1, output);
    t.regex(errors[0], /api cannot reach Google Cloud: no credentials.*GOOGLE_APPLICATION_CREDENTIALS/);
    t.notRegex(output, /Exception from a finished function|Unhandled/i);
  } finally {
    child.kill('SIGKILL');
  }
});
