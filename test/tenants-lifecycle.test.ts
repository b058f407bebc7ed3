import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { latestEventId, waitForEvent } from '../testing/events.ts';
import { waitFor } from '../scripts/dev/processes.ts';
import { tenantImage, tenantRepositoryPath } from '../shared/tenants/registry.ts';

let stack: TestStack;
let owner: TestUser;
let tenantId: string;
let credentialsLink: string;
test.before(async () => {
  stack = await startTestStack();
  owner = await createTestUser(stack.deps);
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'erp', environments: ['test', 'live'] },
  });
  const body = await res.json();
  tenantId = body.tenant.id;
  credentialsLink = body.links.credentials;
  await waitForEvent(stack.streamUrl, tenantId, owner.token, ['tenant_ready'], 60_000);
});
test.after.always(async () => {
  if (tenantId) {
    await stack.fetch(`/api/v1/tenants/${tenantId}`, { method: 'DELETE', token: owner.token });
    await waitForEvent(stack.streamUrl, tenantId, owner.token, ['tenant_deleted'], 60_000).catch(() => undefined);
  }
  await stack?.close();
});

const call = (method: string, path: string, json?: unknown) =>
  stack.fetch(`/api/v1/tenants/${tenantId}${path}`, { method, token: owner.token, json });
const tenant = async () => (await (await call('GET', '')).json()).tenant;

// Deploy

test.serial('a deploy of any image but the tenant-scoped one is refused and changes nothing', async (t) => {
  const lookAlike = `${tenantRepositoryPath(stack.config, tenantId)}x/app:latest`;
  for (const image of [
    'nginx:latest',
    lookAlike,
    `${tenantImage(stack.config, tenantId)}:x`,
    tenantImage(stack.config, 't-otherother'),
    42,
  ]) {
    const res = await call('POST', '/deploy', { image });
    t.is(res.status, 400, String(image));
    t.is((await res.json()).error.code, 'validation_failed');
  }
  t.is((await tenant()).operation, undefined);
});

test.serial('the exact tenant image deploys to every environment', async (t) => {
  const image = tenantImage(stack.config, tenantId);
  t.is((await call('POST', '/deploy', { image })).status, 202);
  await waitForEvent(stack.streamUrl, tenantId, owner.token, ['deployed', 'deploy_failed'], 60_000);
  const { environments } = await (await call('GET', '/environments')).json();
  t.deepEqual(
    environments.map((e: { image: string }) => e.image),
    [image, image],
  );
  t.is((await tenant()).image, image);
  const token = await (await call('GET', '/registry-token')).json();
  t.is(`${token.repository}:${token.tag}`, image);
  t.truthy(token.token);
});

// Reset

test.serial('live is protected from reset; test is reset with fresh data at the same URL', async (t) => {
  const live = await call('POST', '/environments/live/reset');
  t.is(live.status, 403);
  t.regex((await live.json()).error.message, /protected/);
  t.is((await call('POST', '/environments/prod/reset')).status, 400);
  const before = (await tenant()).urls.test;
  await fetch(before); // leaves a visit in the test environment's data folder
  t.is((await call('POST', '/environments/test/reset')).status, 202);
  await waitForEvent(stack.streamUrl, tenantId, owner.token, ['environment_reset', 'reset_failed'], 60_000);
  const page = await (await fetch((await tenant()).urls.test)).text();
  t.true(page.includes('<dd id="visits">1</dd>'), page);
});

// Observability

test.serial('logs of an environment come back as lines, and bad queries are 400', async (t) => {
  await fetch((await tenant()).urls.live);
  const res = await call('GET', '/logs?env=live&limit=50');
  t.is(res.status, 200);
  const { lines } = await res.json();
  t.true(lines.length > 0);
  t.true(lines.some((l: { text: string }) => /GET \//.test(l.text)));
  t.is((await call('GET', '/logs?env=staging')).status, 400);
  t.is((await call('GET', '/logs?limit=100000')).status, 400);
  const metrics = await (await call('GET', '/metrics')).json();
  t.true(metrics.metrics.live.memoryBytes > 0);
  const history = await (await call('GET', '/metrics/history?env=live')).json();
  t.is(history.samples[0].env, 'live');
  t.true(history.samples[0].memoryBytes > 0);
});

test.serial(
  'the log stream sends the recent lines, then new ones, and Last-Event-ID resumes without repeating; bad params are 400',
  async (t) => {
    const stream = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${stack.streamUrl}/api/v1/tenants/${tenantId}/logs/stream${query}`, {
        headers: { Authorization: `Bearer ${owner.token}`, ...headers },
        signal: AbortSignal.timeout(60_000),
      });
    for (const bad of ['?env=staging', '?limit=0', '?limit=x', '?since=2024-01-01T00:00:00Z']) {
      const res = await stream(bad);
      t.is(res.status, 400, bad);
      t.is((await res.json()).error.code, 'validation_failed', bad);
    }
    /** Reads `log` events until `until` holds for the lines so far; then drops the connection. */
    const read = async (res: Response, until: (lines: { id: string; text: string }[]) => boolean) => {
      t.is(res.status, 200);
      t.regex(res.headers.get('content-type') ?? '', /text\/event-stream/);
      const lines: { id: string; text: string }[] = [];
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      while (!until(lines)) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (id && data && /^event: log$/m.test(block)) lines.push({ id, text: JSON.parse(data).text });
          end = buffer.indexOf('\n\n');
        }
      }
      await reader.cancel();
      return lines;
    };
    const first = await read(await stream('?env=live&limit=3'), (lines) => lines.length >= 3);
    t.is(first.length, 3, 'the last three lines first');
    const probe = `/stream-probe-${Date.now()}`;
    const live = (await tenant()).urls.live;
    // After the history, a request the workload logs arrives on the open stream.
    const res = await stream('?env=live&limit=1');
    const pending = read(res, (lines) => lines.some((l) => l.text.includes(probe)));
    await new Promise((r) => setTimeout(r, 300));
    await fetch(`${live}${probe}`).then((r) => r.arrayBuffer());
    const followed = await pending;
    t.true(followed.some((l) => l.text.includes(probe)));
    // Resuming after the line before the probe's gives the probe's line (and what came after), never an earlier one.
    const at = followed.findIndex((l) => l.text.includes(probe));
    const resumed = await read(await stream('?env=live', { 'Last-Event-ID': followed[at - 1].id }), (lines) => lines.length >= 1);
    t.true(resumed[0].text.includes(probe), JSON.stringify(resumed));
  },
);

// Secrets

test.serial('third-party secrets are listed by key only, and generated ones cannot be set by hand', async (t) => {
  t.is((await call('POST', '/secrets/GEMINI_API_KEY', { value: 'sk-test-123' })).status, 201);
  t.is((await call('POST', '/secrets/GEMINI_API_KEY', { value: 'again' })).status, 409);
  const { secrets } = await (await call('GET', '/secrets')).json();
  t.true(secrets.some((s: { key: string }) => s.key === 'GEMINI_API_KEY'));
  t.false(JSON.stringify(secrets).includes('sk-test-123'));
  t.is((await call('PATCH', '/secrets/JWT_SECRET', { value: 'x' })).status, 403);
  t.is((await call('POST', '/secrets/lower-case', { value: 'x' })).status, 400);
  t.is((await call('DELETE', '/secrets/GEMINI_API_KEY')).status, 200);
  t.is((await call('DELETE', '/secrets/GEMINI_API_KEY')).status, 404);
  await waitForEvent(stack.streamUrl, tenantId, owner.token, ['tenant_restarted'], 60_000);
  // Setting and deleting each restarted the tenant: the next test starts once the last restart is over too.
  await waitFor('the restarts to end', async () => !(await tenant()).operation, 60_000);
});

test.serial('rotating credentials gives new values behind a new one-time link', async (t) => {
  const first = await (await stack.fetch(credentialsLink, { token: owner.token })).json();
  const rotated = await call('POST', '/rotate-credentials');
  t.is(rotated.status, 202);
  const { links } = await rotated.json();
  await waitForEvent(stack.streamUrl, tenantId, owner.token, ['credentials_rotated'], 60_000);
  const second = await stack.fetch(links.credentials, { token: owner.token });
  t.is(second.status, 200);
  const values = (await second.json()).credentials;
  t.not(values.JWT_SECRET, first.credentials.JWT_SECRET);
  t.is((await stack.fetch(links.credentials, { token: owner.token })).status, 410);
  const logs = JSON.stringify(await (await call('GET', '/logs?env=live&limit=1000')).json());
  t.false(logs.includes(values.JWT_SECRET));
});

// Settings

test.serial('memory accepts only the documented sizes and a change restarts the environments', async (t) => {
  t.is((await call('PATCH', '', { memoryMb: 300 })).status, 400);
  // An earlier step restarted the environments too: wait only for what follows this change.
  const cursor = await latestEventId(stack.url, tenantId, owner.token);
  const res = await call('PATCH', '', { memoryMb: 512 });
  t.is(res.status, 200);
  t.is((await res.json()).tenant.memoryMb, 512);
  const seen = await waitForEvent(stack.streamUrl, tenantId, owner.token, ['tenant_restarted', 'restart_failed'], 60_000, cursor);
  t.is(seen.at(-1)?.type, 'tenant_restarted');
  t.true(seen.every((e) => e.id > cursor!));
});
