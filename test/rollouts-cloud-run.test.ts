/**
 * A rollout on the Cloud Run driver (issue 20), against the Cloud Run fake
 * (Admin API v2 revisions and traffic, Cloud Monitoring request_count): the
 * new revision takes the traffic once ready; during the soak the error rate
 * Monitoring reports (5xx answers of the serving revision) fails the wave and
 * pauses the rollout; rollback moves the traffic back to the previous
 * revision without building a new one.
 */
import test from 'ava';
import { createGcpClients } from '../shared/gcp/identity.ts';
import { createCloudRunDriver } from '../shared/runtime/cloud-run/index.ts';
import { serviceIdOf } from '../shared/runtime/cloud-run/resources.ts';
import { waitForEvent } from '../testing/events.ts';
import { startCloudRunFake, type CloudRunFake } from '../testing/fakes/cloud-run-fake.ts';
import { fakeGoogleClientOptions } from '../testing/fakes/google-auth.ts';
import { createRelease, pushImage, waitForRolloutEvent } from '../testing/rollouts.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { makeNodeApp } from '../testing/tar.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

process.env.METADATA_SERVER_DETECTION ??= 'none';

let fake: CloudRunFake;
let stack: TestStack;
let admin: TestUser;
let owner: TestUser;
test.before(async () => {
  fake = await startCloudRunFake();
  const clientOptions = fakeGoogleClientOptions(fake.url);
  const runtime = createCloudRunDriver({ projectId: 'tp-test', region: 'us-central1', clientOptions, pollIntervalMs: 50 });
  stack = await startTestStack({
    env: { RUNTIME_DRIVER: 'cloud-run', PROVISION_LEASE_MS: '10000', PROVISION_READY_TIMEOUT_MS: '8000' },
    deps: { gcp: createGcpClients(clientOptions), runtime: () => runtime },
  });
  [admin, owner] = await Promise.all([createTestUser(stack.deps, { role: 'admin' }), createTestUser(stack.deps)]);
});
test.after.always(async () => {
  await stack?.close();
  await fake?.close();
});

test('a high 5xx rate of the new revision during the soak pauses the rollout, and rollback moves the traffic back', async (t) => {
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'cr-shop', environments: ['demo'] },
  });
  t.is(res.status, 202);
  const id = (await res.json()).tenant.id as string;
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_ready', 'provisioning_failed'], 120_000);
  const name = `projects/tp-test/locations/us-central1/services/${serviceIdOf({ ownerId: owner.uid, tenantId: id, env: 'demo' })}`;
  const service = () => fake.services.get(name)!;
  const before = service().trafficStatuses?.[0]?.revision ?? service().latestReadyRevision.split('/').pop();
  const url = service().uri as string;

  const image = await pushImage(stack, admin.token, makeNodeApp({ name: 'cr-app', version: '2.0.0' }));
  await createRelease(stack, admin.token, 'cr2', image);
  const start = await stack.fetch('/api/v1/rollouts', {
    method: 'POST',
    token: admin.token,
    json: { release: 'cr2', target: { ids: [id] }, strategy: { soakSeconds: 6 } },
  });
  t.is(start.status, 202);
  const rolloutId = (await start.json()).rollout.id as string;
  await waitForRolloutEvent(stack, rolloutId, admin.token, ['wave_soaking', 'rollout_paused'], 90_000);
  // The new revision serves all the traffic now.
  const updated = service().traffic[0];
  t.not(updated.revision, before);
  t.is(service().template.containers[0].image, image);

  // Clients call it, and 12 of 15 answers are 503s, which Cloud Monitoring counts per response code.
  for (let i = 0; i < 15; i++) t.true(fake.request(url, '/', i < 12 ? 503 : 200));
  const events = await waitForRolloutEvent(stack, rolloutId, admin.token, ['rollout_paused', 'rollout_succeeded'], 90_000);
  t.is(events.at(-1)!.type, 'rollout_paused');
  t.regex(events.find((e) => e.type === 'environment_unhealthy')?.message ?? '', /12 of 15 requests failed, over the 10 % allowed/);

  const revisions = fake.revisions.size;
  const back = await stack.fetch(`/api/v1/rollouts/${rolloutId}/rollback`, { method: 'POST', token: admin.token });
  t.is(back.status, 200);
  await waitForRolloutEvent(stack, rolloutId, admin.token, ['rollout_rolled_back'], 90_000);
  t.is(service().traffic[0].revision, before, 'the traffic is back on the revision that served before');
  t.is(fake.revisions.size, revisions, 'no revision was built for the rollback');
  t.true(fake.isServing(url));
});
