/**
 * The provision worker's lease (issue #13): a step that outlasts the lease does
 * not let a second delivery of the same task start working on the tenant.
 */
import test from 'ava';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';
import type { EnvironmentSpec } from '../shared/runtime/types.ts';
import { waitForEvent } from '../testing/events.ts';
import { tenantProcesses } from '../testing/processes.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

const LEASE_MS = 1500;
let stack: TestStack;
let owner: TestUser;
test.before(async () => {
  stack = await startTestStack({ env: { PROVISION_LEASE_MS: String(LEASE_MS) } });
  owner = await createTestUser(stack.deps);
});
test.after.always(async () => {
  await stack?.close();
});

const deliver = (payload: unknown) =>
  stack.fetch('/__fn/provision/tasks/provision', {
    method: 'POST',
    json: payload,
    headers: { [TASK_SECRET_HEADER]: stack.config.tasks.secret, 'X-CloudTasks-TaskRetryCount': '0' },
  });

test('a step longer than the lease keeps it renewed, so a second delivery waits instead of joining in', async (t) => {
  const driver = stack.deps.runtime();
  const deploy = driver.deploy.bind(driver);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let deploying!: () => void;
  const started = new Promise<void>((resolve) => (deploying = resolve));
  let target = '';
  let held = false;
  (driver as { deploy: (spec: EnvironmentSpec) => Promise<void> }).deploy = async (spec) => {
    // Only the first delivery's deploy is held, so a second delivery that got in would finish and answer 200.
    if (spec.tenantId === target && !held) {
      held = true;
      deploying();
      await released;
    }
    return deploy(spec);
  };
  t.teardown(() => {
    (driver as { deploy: (spec: EnvironmentSpec) => Promise<void> }).deploy = deploy;
  });

  const res = await stack.fetch('/api/v1/tenants', { method: 'POST', token: owner.token, json: { name: 'slow', environments: ['live'] } });
  target = (await res.json()).tenant.id;
  await started;
  // Three lease lengths into the step, the first delivery still holds the tenant.
  await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 3));
  const second = await deliver({ tenantId: target, generation: 1 });
  t.is(second.status, 503, 'the lease was renewed, so the second delivery is told to come back later');
  release();
  await waitForEvent(stack.streamUrl, target, owner.token, ['tenant_ready', 'provisioning_failed'], 60_000);
  t.deepEqual(
    tenantProcesses(target).map((p) => p.env),
    ['live'],
  );
  // The worker gives the lease back just after its last event; wait for that rather than read at once.
  const leaseOf = async () => (await stack.deps.db.doc(`tenants/${target}`).get()).get('lease');
  const deadline = Date.now() + 10_000;
  while ((await leaseOf()) !== null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(await leaseOf(), null, 'the lease is given back when the work is done');
  await stack.fetch(`/api/v1/tenants/${target}`, { method: 'DELETE', token: owner.token });
  await waitForEvent(stack.streamUrl, target, owner.token, ['tenant_deleted'], 60_000);
});
