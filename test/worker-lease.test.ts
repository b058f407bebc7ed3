/**
 * The provision worker's lease (issue #13): a step that outlasts the lease does
 * not let a second delivery of the same task start working on the tenant.
 */
import test from 'ava';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';
import type { DocumentReference, Transaction } from '@google-cloud/firestore';
import { DriverError, type EnvironmentSpec } from '../shared/runtime/types.ts';
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

test('a delivery that fails gives its lease back even when the first try to do so fails, so the retry need not wait for it to lapse', async (t) => {
  // A lease of a minute: left behind, it would hold the retry far past this test's wait.
  const slow = await startTestStack({ env: { PROVISION_LEASE_MS: '60000' } });
  t.teardown(() => slow.close());
  const user = await createTestUser(slow.deps);
  let target = '';
  const driver = slow.deps.runtime();
  const deploy = driver.deploy.bind(driver);
  let deploys = 0;
  (driver as { deploy: (spec: EnvironmentSpec) => Promise<void> }).deploy = async (spec) => {
    if (spec.tenantId === target && deploys++ === 0) throw new DriverError('local', 'failed', 'injected: the first deploy fails');
    return deploy(spec);
  };
  // The first write that gives the lease back fails, as Firestore's writes do under the same trouble that failed the step.
  const db = slow.deps.db;
  const runTransaction = db.runTransaction.bind(db);
  let leaseWrites = 0;
  db.runTransaction = ((fn: (tx: Transaction) => Promise<unknown>, options?: object) =>
    runTransaction(async (tx) => {
      const update = tx.update.bind(tx) as (...args: unknown[]) => Transaction;
      (tx as { update: unknown }).update = (ref: DocumentReference, data: Record<string, unknown>, ...rest: unknown[]) => {
        if (ref.path === `tenants/${target}` && data?.lease === null && leaseWrites++ === 0)
          throw new Error('injected: the lease write fails');
        return update(ref, data, ...rest);
      };
      return fn(tx);
    }, options)) as typeof db.runTransaction;

  const res = await slow.fetch('/api/v1/tenants', {
    method: 'POST',
    token: user.token,
    json: { name: 'lease-back', environments: ['live'] },
  });
  target = (await res.json()).tenant.id;
  const events = await waitForEvent(slow.streamUrl, target, user.token, ['tenant_ready', 'provisioning_failed'], 20_000);
  t.is(events.at(-1)?.type, 'tenant_ready');
  t.is(deploys, 2, 'the first deploy failed and a retry deployed');
  t.true(leaseWrites >= 2, 'the first write giving the lease back failed, and a later one landed');
  await slow.fetch(`/api/v1/tenants/${target}`, { method: 'DELETE', token: user.token });
  await waitForEvent(slow.streamUrl, target, user.token, ['tenant_deleted'], 60_000);
});
