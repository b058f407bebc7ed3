import test from 'ava';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { startCloudTasksServer, type CloudTasksServer } from '../emulators/cloud-tasks/server.ts';
import { waitFor } from '../scripts/dev/processes.ts';
import { readEvents, waitForEvent } from '../testing/events.ts';
import { allocatePort } from '../testing/ports.ts';
import { tenantProcesses } from '../testing/processes.ts';
import { QUEUES, startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { TASK_OUTBOX } from '../shared/store/outbox.ts';
import { sweepOperations } from '../shared/tenants/operation-sweep.ts';

// Dependencies stopped mid-use and started again: the platform answers 503
// naming the dependency within seconds, loses nothing, and converges once it is back.

/**
 * The longest wait on one dependency call in this stack: short, so outages show
 * quickly, yet above what a busy shared machine's emulator takes for one call.
 */
const DEADLINE_MS = 6000;

/**
 * A TCP front for the shared Firestore emulator that can be stopped and
 * started on the same port: stopped, every connection is cut and new ones are
 * refused, as when the emulator process is gone; the data survives, as
 * Firestore's does. (A private emulator takes ~12 s per start here.)
 */
async function startPortGate(target: string, port: number) {
  const [host, targetPort] = target.split(':');
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const open = () =>
    new Promise<void>((resolve, reject) => {
      if (server) return resolve();
      server = createServer((client) => {
        const upstream = connect(Number(targetPort), host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await open();
  return {
    start: open,
    async stop() {
      const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

let stack: TestStack;
let owner: TestUser;
let admin: TestUser;
let tasks: CloudTasksServer | undefined;
let tasksPort: number;
let store: Awaited<ReturnType<typeof startPortGate>>;

const startTasks = async () => {
  tasks = await startCloudTasksServer({
    port: tasksPort,
    dedupWindowMs: 2000,
    log: () => {},
    queues: QUEUES.map((q) => ({
      name: `projects/${stack?.config.projectId ?? projectId}/locations/us-central1/queues/${q}`,
      retryConfig: { minBackoff: { nanos: 100_000_000 }, maxBackoff: { seconds: 2 } },
    })),
  });
};
let projectId = '';

test.before(async () => {
  tasksPort = await allocatePort();
  const storePort = await allocatePort();
  store = await startPortGate(process.env.FIRESTORE_EMULATOR_HOST!, storePort);
  stack = await startTestStack({
    tasks: false,
    env: {
      TASKS_EMULATOR_HOST: `127.0.0.1:${tasksPort}`,
      FIRESTORE_EMULATOR_HOST: `127.0.0.1:${storePort}`,
      DEPENDENCY_TIMEOUT_MS: String(DEADLINE_MS),
    },
  });
  projectId = stack.config.projectId;
  await startTasks();
  owner = await createTestUser(stack.deps);
  admin = await createTestUser(stack.deps, { role: 'admin' });
  // The emulator's first transaction on a new project is slow: take it here, not inside a timed answer.
  const warmup = stack.deps.db.doc('warmup/x');
  await waitFor(
    'a first transaction',
    async () => {
      await stack.deps.db.runTransaction(async (tx) => void tx.set(warmup, { seen: (await tx.get(warmup)).exists }));
      return true;
    },
    60_000,
  );
});

test.after.always(async () => {
  await store?.start();
  await stack?.close();
  await tasks?.close();
  await store?.stop();
});

const timed = async (work: Promise<Response>) => {
  const started = performance.now();
  const res = await work;
  return { res, ms: performance.now() - started, body: await res.json().catch(() => undefined) };
};

/** Sweeps until the queue answers again (the client reconnects with a short backoff after a restart). */
async function sweepUntilQueueAnswers(olderThanMs = 0) {
  let result: Awaited<ReturnType<typeof sweepOperations>> | undefined;
  await waitFor(
    'the queue to answer the sweeper',
    async () => {
      result = await sweepOperations(stack.deps, { olderThanMs }).catch(() => undefined);
      return result !== undefined;
    },
    20_000,
  );
  return result!;
}

// Cloud Tasks

/** Stops the Cloud Tasks server; the test's teardown starts it again if the test did not. */
async function stopTasks(t: { teardown(fn: () => Promise<void>): void }) {
  await tasks?.close();
  tasks = undefined;
  t.teardown(async () => {
    if (!tasks) await startTasks();
  });
}

test.serial(
  'with Cloud Tasks down, creating a tenant answers 202 with its credentials link, and the sweeper provisions it once the queue is back',
  async (t) => {
    await stopTasks(t);
    const { res, ms, body } = await timed(
      stack.fetch('/api/v1/tenants', { method: 'POST', token: owner.token, json: { name: 'queue-outage', environments: ['live'] } }),
    );
    t.is(res.status, 202, JSON.stringify(body));
    t.true(ms < 10_000, `answered after ${Math.round(ms)} ms`);
    const id: string = body.tenant.id;
    t.is(body.tenant.state, 'provisioning');
    t.regex(body.links.credentials, new RegExp(`^/api/v1/tenants/${id}/credentials/\\w+`));
    const record = await stack.deps.db.collection(TASK_OUTBOX).doc(`${id}-provision-1`).get();
    t.true(record.exists, 'the task waits in the outbox');

    // Queue still down: the sweeper says so, naming the queue, and keeps the record.
    const down = await sweepOperations(stack.deps, { olderThanMs: 0 }).then(
      () => undefined,
      (err) => err,
    );
    t.is(down?.details?.dependency, 'queue');
    t.true((await stack.deps.db.collection(TASK_OUTBOX).doc(`${id}-provision-1`).get()).exists);

    await startTasks();
    const swept = await sweepUntilQueueAnswers();
    t.is(swept.enqueued, 1);
    await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_ready', 'provisioning_failed'], 60_000);
    t.is((await (await stack.fetch(`/api/v1/tenants/${id}`, { token: owner.token })).json()).tenant.state, 'ready');

    // Nothing duplicated: one process, one environment_ready; the finished operation's record is dropped.
    t.is(tenantProcesses(id).length, 1);
    const events = await readEvents(stack.url, id, owner.token);
    t.is(events.filter((e) => e.type === 'environment_ready').length, 1);
    const after = await sweepOperations(stack.deps, { olderThanMs: 0 });
    t.is(after.enqueued, 0);
    t.false((await stack.deps.db.collection(TASK_OUTBOX).doc(`${id}-provision-1`).get()).exists);

    // The one-time credentials link survived the outage, and stays one-time.
    t.is((await stack.fetch(body.links.credentials, { token: owner.token })).status, 200);
    t.is((await stack.fetch(body.links.credentials, { token: owner.token })).status, 410);
  },
);

test.serial('an operation started while the queue is down runs once it is back', async (t) => {
  const created = await (
    await stack.fetch('/api/v1/tenants', { method: 'POST', token: owner.token, json: { name: 'suspend-outage', environments: ['live'] } })
  ).json();
  const id: string = created.tenant.id;
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_ready'], 60_000);
  await stopTasks(t);
  const { res, ms } = await timed(stack.fetch(`/api/v1/tenants/${id}/suspend`, { method: 'POST', token: owner.token }));
  t.is(res.status, 202);
  t.true(ms < 10_000);
  await startTasks();
  await sweepUntilQueueAnswers();
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_suspended'], 60_000);
  t.is((await (await stack.fetch(`/api/v1/tenants/${id}`, { token: owner.token })).json()).tenant.state, 'suspended');
});

// Firestore

test.serial(
  'with Firestore down, the tenant list, signup and health answer 503 naming the store within 10 s, and recover when it is back',
  async (t) => {
    await store.stop();
    try {
      // All at once: each waits on the store's deadline, not on the others.
      const [list, signup, health, anonymous] = await Promise.all([
        timed(stack.fetch('/api/v1/tenants', { token: owner.token })),
        timed(stack.fetch('/api/signup', { method: 'POST', json: { email: `outage-${Date.now()}@example.com` } })),
        timed(stack.fetch('/api/health', { token: admin.token })),
        timed(stack.fetch('/api/health')),
      ]);
      t.is(list.res.status, 503);
      t.is(list.body.error.code, 'unavailable');
      t.is(list.body.error.details.dependency, 'store');
      t.truthy(list.res.headers.get('retry-after'));
      t.true(list.ms < 10_000, `list answered after ${Math.round(list.ms)} ms`);

      t.is(signup.res.status, 503);
      t.is(signup.body.error.details.dependency, 'store');
      t.true(signup.ms < 10_000, `signup answered after ${Math.round(signup.ms)} ms`);

      t.is(health.res.status, 503);
      t.is(health.body.dependencies.store.status, 'down');
      t.is(health.body.dependencies.queue.status, 'up');
      t.true(health.ms < 10_000);
      t.is(anonymous.res.status, 503);
      t.deepEqual(Object.keys(anonymous.body), ['status']);
    } finally {
      await store.start();
    }
    await waitFor(
      'the tenant list to answer again',
      async () => (await stack.fetch('/api/v1/tenants', { token: owner.token })).status === 200,
      20_000,
    );
    // From the same address as the signup the outage refused: the read it gave up on reached the store once it was
    // back and began a transaction on that address's documents, which must not keep them locked until it expires.
    const signup = await timed(stack.fetch('/api/signup', { method: 'POST', json: { email: `after-outage-${Date.now()}@example.com` } }));
    t.is(signup.res.status, 202);
    t.true(signup.ms < 10_000, `the first signup after the outage answered after ${Math.round(signup.ms)} ms`);
  },
);

// Mail

test.serial('with the mail server refusing, signup still answers 202 and the message goes out once it accepts again', async (t) => {
  stack.mail.setFailing(true);
  const email = `mail-outage-${Date.now()}@example.com`;
  try {
    t.is((await stack.fetch('/api/signup', { method: 'POST', json: { email } })).status, 202);
    const outboxOf = async () => (await stack.deps.db.collection('outbox').where('to', '==', email).get()).docs;
    await waitFor('a refused delivery attempt', async () => Number((await outboxOf())[0]?.get('attempts')) >= 1, 20_000);
    t.is((await outboxOf())[0].get('status'), 'pending');
    t.is((await stack.mail.messagesTo(email)).length, 0);
  } finally {
    stack.mail.setFailing(false);
  }
  // The queue retries with backoff; the message is delivered exactly once.
  await waitFor(
    'the message to be sent',
    async () => (await stack.deps.db.collection('outbox').where('to', '==', email).get()).docs[0]?.get('status') === 'sent',
    20_000,
  );
  t.is((await stack.mail.messagesTo(email)).length, 1);
});
