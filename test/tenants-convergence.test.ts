import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { waitForEvent } from '../testing/events.ts';
import { waitFor } from '../scripts/dev/processes.ts';
import { tenantProcesses } from '../testing/processes.ts';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';
import type { EnvironmentSpec } from '../shared/runtime/types.ts';

let stack: TestStack;
let owner: TestUser;
const created: string[] = [];
test.before(async () => {
  stack = await startTestStack();
  owner = await createTestUser(stack.deps);
});
test.after.always(async () => {
  for (const id of created) await stack.fetch(`/api/v1/tenants/${id}`, { method: 'DELETE', token: owner.token });
  for (const id of created) await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_deleted'], 60_000).catch(() => undefined);
  await stack?.close();
});

async function create(name: string, environments = ['live']): Promise<string> {
  const res = await stack.fetch('/api/v1/tenants', { method: 'POST', token: owner.token, json: { name, environments } });
  const { tenant } = await res.json();
  created.push(tenant.id);
  return tenant.id;
}

const deliver = (payload: unknown, secret = stack.config.tasks.secret) =>
  stack.fetch('/__fn/provision/tasks/provision', {
    method: 'POST',
    json: payload,
    headers: { [TASK_SECRET_HEADER]: secret, 'X-CloudTasks-TaskRetryCount': '0' },
  });

// At-least-once delivery

test.serial('a provision task delivered three times at once converges to exactly one environment', async (t) => {
  const id = await create('twice');
  const answers = await Promise.all([
    deliver({ tenantId: id, generation: 1 }),
    deliver({ tenantId: id, generation: 1 }),
    deliver({ tenantId: id, generation: 1 }),
  ]);
  for (const answer of answers) t.true([200, 503].includes(answer.status), `answered ${answer.status}`);
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_ready'], 60_000);
  t.deepEqual(
    tenantProcesses(id).map((p) => p.env),
    ['live'],
  );
  const again = await deliver({ tenantId: id, generation: 1 });
  t.deepEqual(await again.json(), { outcome: 'stale' });
});

test.serial('a worker that dies after starting the process but before recording it converges on redelivery', async (t) => {
  const driver = stack.deps.runtime();
  const deploy = driver.deploy.bind(driver);
  let crashed = false;
  (driver as { deploy: (spec: EnvironmentSpec) => Promise<void> }).deploy = async (spec) => {
    await deploy(spec);
    if (!crashed && spec.tenantId === target) {
      crashed = true;
      throw new Error('worker killed between steps');
    }
  };
  let target = '';
  try {
    target = await create('crashy');
    const events = await waitForEvent(stack.streamUrl, target, owner.token, ['tenant_ready', 'provisioning_failed'], 60_000);
    t.true(crashed);
    t.is(events.at(-1)?.type, 'tenant_ready');
    // At least once more: in one run of the full suite on a loaded machine it ran three times (a retry that also
    // failed, deliveries being at-least-once); what must hold is that the deploy ran again and left one process.
    t.true(events.filter((e) => e.type === 'deploy_started').length >= 2, 'the deploy step ran again after the crash');
    t.is(tenantProcesses(target).length, 1);
  } finally {
    (driver as { deploy: unknown }).deploy = deploy;
  }
});

// Racing operations

/** Records the runtime calls per tenant, so a test can wait for a step to start or for every started step to end. */
function watchRuntimeCalls() {
  const driver = stack.deps.runtime() as unknown as Record<string, (ref: { tenantId: string }, ...rest: unknown[]) => Promise<unknown>>;
  const methods = ['ensureInfrastructure', 'deploy', 'waitReady', 'destroy'];
  const originals = Object.fromEntries(methods.map((m) => [m, driver[m]]));
  const calls: { tenantId: string; method: string; done: boolean }[] = [];
  for (const method of methods) {
    driver[method] = async (ref, ...rest) => {
      const call = { tenantId: ref.tenantId, method, done: false };
      calls.push(call);
      try {
        return await originals[method].call(driver, ref, ...rest);
      } finally {
        call.done = true;
      }
    };
  }
  const of = (id: string) => calls.filter((c) => c.tenantId === id);
  return {
    mark: () => calls.length,
    deployStarted: (id: string) => of(id).some((c) => c.method === 'deploy'),
    idle: (id: string) => of(id).every((c) => c.done),
    /** Methods called for `id` after `mark`. */
    since: (id: string, mark: number) =>
      calls
        .slice(mark)
        .filter((c) => c.tenantId === id)
        .map((c) => c.method),
    restore: () => Object.assign(driver, originals),
  };
}

test.serial('deleting a tenant while it provisions leaves no process behind', async (t) => {
  const calls = watchRuntimeCalls();
  t.teardown(calls.restore);
  const id = await create('racer', ['demo', 'test', 'live']);
  // Delete once a deploy is under way, not after a guessed pause that may land before or after provisioning.
  await waitFor('the first deploy of racer', async () => calls.deployStarted(id), 60_000);
  t.is((await stack.fetch(`/api/v1/tenants/${id}`, { method: 'DELETE', token: owner.token })).status, 202);
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_deleted'], 90_000);
  const deleted = calls.mark();
  // A superseded step that was mid-flight must not leave a process running: wait until every started runtime call ended.
  await waitFor('the superseded steps of racer to end', async () => calls.idle(id), 60_000);
  t.deepEqual(tenantProcesses(id), []);
  t.deepEqual(
    calls.since(id, deleted).filter((m) => m !== 'destroy'),
    [],
    'nothing is started for a deleted tenant',
  );
  const { tenant } = await (await stack.fetch(`/api/v1/tenants/${id}`, { token: owner.token })).json();
  t.is(tenant.state, 'deleted');
});

test.serial('a lifecycle request during provisioning is an illegal transition, and a repeated one is idempotent', async (t) => {
  // The provision queue is paused meanwhile, so the tenant is still provisioning when the requests arrive (a launch
  // can finish in under 200 ms).
  const tasks = await stack.deps.queue.client();
  const provisionQueue = stack.deps.queue.queuePath('provision');
  await tasks.pauseQueue({ name: provisionQueue });
  let id: string;
  try {
    id = await create('busy');
    const suspend = await stack.fetch(`/api/v1/tenants/${id}/suspend`, { method: 'POST', token: owner.token });
    t.is(suspend.status, 409);
    t.is((await suspend.json()).error.code, 'illegal_transition');
    const retry = await stack.fetch(`/api/v1/tenants/${id}/retry-provision`, { method: 'POST', token: owner.token });
    t.is(retry.status, 202);
    t.is((await retry.json()).tenant.generation, 1, 'no new operation while the same one runs');
  } finally {
    await tasks.resumeQueue({ name: provisionQueue });
  }
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_ready'], 60_000);
  t.is(tenantProcesses(id).length, 1);
});

// Task endpoint

test.serial('the task endpoint refuses requests that do not come from the queue', async (t) => {
  const res = await deliver({ tenantId: 't-aaaaaaaaaa', generation: 1 }, 'not-the-secret');
  t.is(res.status, 403);
  const none = await stack.fetch('/__fn/provision/tasks/provision', { method: 'POST', json: { tenantId: 't-aaaaaaaaaa', generation: 1 } });
  t.is(none.status, 403);
  t.is((await deliver({ tenantId: 42 })).status, 400);
});
