/**
 * A runtime API outage (issue #18): Cloud Run's API stops answering during a
 * launch — its server is really down, connections refused — and comes back.
 * Callers get quick, named answers meanwhile; afterwards the launch converges
 * with nothing created twice.
 */
import test from 'ava';
import { createCloudRunDriver } from '../shared/runtime/cloud-run/index.ts';
import { createGcpClients } from '../shared/gcp/identity.ts';
import { startCloudRunFake, type CloudRunFake } from '../testing/fakes/cloud-run-fake.ts';
import { fakeGoogleClientOptions } from '../testing/fakes/google-auth.ts';
import { readEvents, waitForEvent } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

process.env.METADATA_SERVER_DETECTION ??= 'none';

let fake: CloudRunFake;
let stack: TestStack;
let owner: TestUser;
test.before(async () => {
  fake = await startCloudRunFake();
  const clientOptions = fakeGoogleClientOptions(fake.url);
  const runtime = createCloudRunDriver({ projectId: 'tp-test', region: 'us-central1', clientOptions, pollIntervalMs: 50 });
  stack = await startTestStack({
    env: { RUNTIME_DRIVER: 'cloud-run' },
    deps: { gcp: createGcpClients(clientOptions), runtime: () => runtime },
  });
  owner = await createTestUser(stack.deps);
});
test.after.always(async () => {
  await stack?.close();
  await fake?.close();
});

test('with the Cloud Run API down mid-launch, callers get quick named answers; once it is back the launch completes, one service per environment', async (t) => {
  await fake.pause();
  let started = Date.now();
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'outage-shop', environments: ['demo'] },
  });
  const body = await res.json();
  t.is(res.status, 202, JSON.stringify(body));
  t.true(Date.now() - started < 10_000, `creation answered after ${Date.now() - started} ms`);
  const id = body.tenant.id as string;

  // The worker's attempts fail and are retried; the tenant waits in provisioning, its failure not final.
  await waitForEvent(stack.streamUrl, id, owner.token, ['provisioning_started'], 60_000);
  started = Date.now();
  const logs = await stack.fetch(`/api/v1/tenants/${id}/logs?env=demo`, { token: owner.token });
  const answer = await logs.json();
  t.true(Date.now() - started < 10_000, `logs answered after ${Date.now() - started} ms`);
  t.is(logs.status, 503, JSON.stringify(answer));
  t.like(answer.error, { code: 'unavailable', details: { driver: 'cloud-run' } });
  t.truthy(logs.headers.get('retry-after'));
  const during = await (await stack.fetch(`/api/v1/tenants/${id}`, { token: owner.token })).json();
  t.is(during.tenant.state, 'provisioning');

  // An attempt made during the outage fails and is retried: a second provisioning_started shows the retry began.
  for (let i = 0; i < 600; i++) {
    const seen = await readEvents(stack.url, id, owner.token);
    if (seen.filter((e) => e.type === 'provisioning_started').length >= 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await fake.resume();
  const events = await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_ready', 'provisioning_failed'], 120_000);
  t.is(events.at(-1)!.type, 'tenant_ready', events.map((e) => `${e.type}: ${e.message ?? ''}`).join('\n'));
  const services = [...fake.services.keys()].filter((name) => name.includes(id.replace(/^t-/, '')));
  t.is(services.length, 1, services.join(', '));
  const history = await readEvents(stack.url, id, owner.token);
  t.is(history.filter((e) => e.type === 'tenant_ready').length, 1);
  t.is(history.filter((e) => e.type === 'environment_ready').length, 1);
  // The attempt made during the outage failed and was retried: the worker started twice, finished once.
  t.true(history.filter((e) => e.type === 'provisioning_started').length >= 2);
});
