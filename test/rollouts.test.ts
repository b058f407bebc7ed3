/**
 * Rollouts end to end (R-REL-1, R-ROLL-1) on the local runtime: real images
 * from the image store, real tenant processes, Cloud Tasks driving the steps.
 * A release reaches every targeted environment in waves, demo before live;
 * duplicated deliveries and a control plane that dies mid-step update no
 * environment twice; a failing canary pauses the rollout and rollback restores
 * the previous version; pinned tenants are left alone.
 */
import test from 'ava';
import { createDeps, type Deps } from '../shared/deps.ts';
import type { Queue } from '../shared/queue/client.ts';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';
import { createRollout } from '../shared/releases/rollouts.ts';
import { getRollout, type RolloutEvent } from '../shared/releases/store.ts';
import { runRolloutStep } from '../shared/releases/worker.ts';
import type { RuntimeDriver } from '../shared/runtime/types.ts';
import { sweepOperations } from '../shared/tenants/operation-sweep.ts';
import { postChat } from '../testing/chat.ts';
import { waitForEvent } from '../testing/events.ts';
import { callEvery, createRelease, pushImage, waitForRolloutEvent } from '../testing/rollouts.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { makeNodeApp } from '../testing/tar.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

let stack: TestStack;
let admin: TestUser;
let owner: TestUser;
const images: Record<string, string> = {};
const tenants: { id: string; urls: Record<string, string> }[] = [];
let pinned: { id: string; urls: Record<string, string> };

test.before(async () => {
  // Leases short enough that a dead delivery is taken over within seconds (not shorter: a renewal every second contends with
  // the launch's own transactions on the emulator until they time out); a broken image is given up on after 8 s.
  stack = await startTestStack({ env: { PROVISION_LEASE_MS: '10000', PROVISION_READY_TIMEOUT_MS: '8000' } });
  [admin, owner] = await Promise.all([createTestUser(stack.deps, { role: 'admin' }), createTestUser(stack.deps)]);
  for (const [name, version, healthy] of [
    ['r1', '1.0.0', true],
    ['r2', '2.0.0', true],
    ['r3', '3.0.0', false],
    ['r4', '4.0.0', true],
  ] as const) {
    const failing = name === 'r4'; // healthy by its health check, but every request fails
    images[name] = await pushImage(stack, admin.token, makeNodeApp({ name: 'shop-app', version, healthy, failing }));
    await createRelease(stack, admin.token, name, images[name]);
  }
  const create = async (name: string, environments: string[]) => {
    const res = await stack.fetch('/api/v1/tenants', { method: 'POST', token: owner.token, json: { name, environments } });
    if (res.status !== 202) throw new Error(`creating ${name} answered ${res.status}: ${await res.text()}`);
    return (await res.json()).tenant.id as string;
  };
  const ids = await Promise.all([1, 2, 3, 4, 5].map((i) => create(`fleet-${i}`, ['demo', 'live'])));
  const pinnedId = await create('pinned', ['live']);
  for (const id of [...ids, pinnedId])
    await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_ready', 'provisioning_failed'], 120_000);
  const read = async (id: string) => (await (await stack.fetch(`/api/v1/tenants/${id}`, { token: owner.token })).json()).tenant;
  for (const id of ids.sort()) tenants.push(await read(id));
  pinned = await read(pinnedId);
  const pin = await stack.fetch(`/api/v1/tenants/${pinnedId}/release-settings`, { method: 'PUT', token: admin.token, json: { pin: 'r1' } });
  if (pin.status !== 200) throw new Error(`pinning answered ${pin.status}: ${await pin.text()}`);
});
test.after.always(async () => {
  if (!stack) return;
  for (const t of [...tenants, ...(pinned ? [pinned] : [])]) {
    await stack.fetch(`/api/v1/tenants/${t.id}`, { method: 'DELETE', token: owner.token });
    await waitForEvent(stack.streamUrl, t.id, owner.token, ['tenant_deleted'], 60_000).catch(() => undefined);
  }
  await stack.close();
});

const versionOf = async (url: string) =>
  fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })
    .then((r) => r.json())
    .then((b) => String(b.version))
    .catch(() => 'down');
const start = async (body: unknown) => {
  const res = await stack.fetch('/api/v1/rollouts', { method: 'POST', token: admin.token, json: body });
  if (res.status !== 202) throw new Error(`starting a rollout answered ${res.status}: ${await res.text()}`);
  return (await res.json()).rollout as { id: string; waves: { tenantIds: string[] }[]; skipped: { tenantId: string; reason: string }[] };
};
const readRollout = async (id: string) => (await (await stack.fetch(`/api/v1/rollouts/${id}`, { token: admin.token })).json()).rollout;
/** How many times the environment's process was started on `image`, from its system log. */
const startsOn = async (tenantId: string, env: string, image: string) => {
  const res = await stack.fetch(`/api/v1/tenants/${tenantId}/logs?env=${env}&limit=1000`, { token: owner.token });
  const { lines } = (await res.json()) as { lines: { stream: string; text: string }[] };
  return lines.filter((l) => l.stream === 'system' && l.text.startsWith('started pid') && l.text.endsWith(`with image ${image}`)).length;
};
const indexOf = (events: RolloutEvent[], type: string, tenantId: string, env: string) =>
  events.findIndex((e) => e.type === type && e.tenantId === tenantId && e.env === env);

test.serial('a release reaches every tenant in waves, demo before live, once each despite duplicated deliveries', async (t) => {
  // A client calls every environment the whole time: updates start the new version beside the old, so none fails.
  const client = callEvery([...tenants, pinned].flatMap((x) => Object.values(x.urls)));
  const rollout = await start({ release: 'r2', target: 'all', strategy: { soakSeconds: 1, maxParallel: 2 } });
  t.deepEqual(
    rollout.waves.map((w) => w.tenantIds.length),
    [1, 2, 2],
    'canary 1, then up to 50 %, then the rest',
  );
  t.deepEqual(rollout.skipped, [{ tenantId: pinned.id, reason: 'pinned to release r1' }]);
  // Cloud Tasks delivers at least once: send every current step three more times while the rollout runs.
  const taskUrl = `${stack.config.functionsUrl.replace('{name}', 'provision')}/tasks/rollout`;
  let done = false;
  let duplicates = 0;
  const duplicating = (async () => {
    while (!done) {
      const current = await getRollout(stack.deps.db, rollout.id);
      if (current?.state !== 'running') break;
      await Promise.all(
        [1, 2, 3].map(() =>
          fetch(taskUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', [TASK_SECRET_HEADER]: stack.config.tasks.secret },
            body: JSON.stringify({ rolloutId: rollout.id, step: current.step }),
          }).then((r) => r.text()),
        ),
      );
      duplicates += 3;
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  const events = await waitForRolloutEvent(stack, rollout.id, admin.token, ['rollout_succeeded', 'rollout_failed', 'rollout_paused']);
  done = true;
  await duplicating;
  await client.stop();
  t.deepEqual(client.failures, [], 'no call to any environment failed during the rollout');
  t.true(client.ok > 0);
  t.is(events.at(-1)!.type, 'rollout_succeeded');
  t.true(duplicates > 0);
  const waveOrder = events.filter((e) => e.type === 'wave_started' || e.type === 'wave_done').map((e) => `${e.type}:${e.wave}`);
  t.deepEqual(waveOrder, ['wave_started:0', 'wave_done:0', 'wave_started:1', 'wave_done:1', 'wave_started:2', 'wave_done:2']);
  for (const tenant of tenants) {
    t.true(indexOf(events, 'environment_updated', tenant.id, 'demo') < indexOf(events, 'environment_updating', tenant.id, 'live'));
    for (const env of ['demo', 'live']) {
      t.is(await versionOf(tenant.urls[env]), '2.0.0', `${tenant.id} ${env} runs release r2`);
      t.is(await startsOn(tenant.id, env, images.r2), 1, `${tenant.id} ${env} was started once on r2`);
      t.is(events.filter((e) => e.type === 'environment_updating' && e.tenantId === tenant.id && e.env === env).length, 1, 'claimed once');
    }
    const { environments } = await (await stack.fetch(`/api/v1/tenants/${tenant.id}/environments`, { token: owner.token })).json();
    t.deepEqual(
      environments.map((e: { env: string; release?: { name: string } }) => [e.env, e.release?.name]),
      [
        ['demo', 'r2'],
        ['live', 'r2'],
      ],
      'the owner sees the release each environment runs',
    );
  }
  t.not(await versionOf(pinned.urls.live), '2.0.0', 'the pinned tenant keeps its version');
  const read = await readRollout(rollout.id);
  t.is(read.state, 'succeeded');
  t.deepEqual(
    read.waves.map((w: { healthy: number }) => w.healthy),
    [2, 4, 4],
  );
});

test.serial('a failing canary pauses the rollout, and rollback puts the canary back on its previous version', async (t) => {
  const client = callEvery(tenants.flatMap((x) => Object.values(x.urls)));
  const rollout = await start({ release: 'r3', target: 'all', strategy: { soakSeconds: 1 } });
  const canary = rollout.waves[0].tenantIds[0];
  const events = await waitForRolloutEvent(stack, rollout.id, admin.token, ['rollout_paused', 'rollout_succeeded'], 120_000);
  await client.stop();
  t.deepEqual(client.failures, [], 'the broken version never served a request');
  t.is(events.at(-1)!.type, 'rollout_paused');
  const paused = await readRollout(rollout.id);
  t.is(paused.state, 'paused');
  t.deepEqual(paused.waves[0].failedTenants, [canary]);
  t.true(events.some((e) => e.type === 'environment_failed' && e.tenantId === canary && e.env === 'demo'));
  t.false(
    events.some((e) => e.tenantId === canary && e.env === 'live'),
    'live waits for a healthy demo',
  );
  const byId = new Map(tenants.map((x) => [x.id, x]));
  t.is(await versionOf(byId.get(canary)!.urls.live), '2.0.0');
  const envsOf = async (id: string) =>
    (await (await stack.fetch(`/api/v1/tenants/${id}/environments`, { token: owner.token })).json()).environments;
  // The new version never got healthy, so the old one kept serving: the environment shows that.
  t.is(await versionOf(byId.get(canary)!.urls.demo), '2.0.0');
  t.like(
    (await envsOf(canary)).find((e: { env: string }) => e.env === 'demo'),
    {
      status: 'ready',
      release: { name: 'r2' },
      image: images.r2,
      error: { code: 'release_unhealthy' },
    },
  );
  for (const other of tenants.filter((x) => x.id !== canary)) t.is(await versionOf(other.urls.demo), '2.0.0', 'later waves are untouched');

  const res = await stack.fetch(`/api/v1/rollouts/${rollout.id}/rollback`, { method: 'POST', token: admin.token });
  t.is(res.status, 200);
  const after = await waitForRolloutEvent(stack, rollout.id, admin.token, ['rollout_rolled_back'], 120_000);
  t.truthy(after.find((e) => e.type === 'environment_rolled_back' && e.tenantId === canary && e.env === 'demo'));
  t.is(await versionOf(byId.get(canary)!.urls.demo), '2.0.0');
  const { environments } = await (await stack.fetch(`/api/v1/tenants/${canary}/environments`, { token: owner.token })).json();
  t.like(
    environments.find((e: { env: string }) => e.env === 'demo'),
    { status: 'ready', release: { name: 'r2' }, image: images.r2 },
  );
  t.is((await readRollout(rollout.id)).state, 'rolled_back');
  // The audit trail names the rollout as the path of each change, with the admin who started it; the owner sees it too.
  const audit = await (await stack.fetch(`/api/v1/audit?tenantId=${canary}&source=rollout`, { token: owner.token })).json();
  const moves = audit.entries
    .filter((e: { requestId: string }) => e.requestId.startsWith(`${rollout.id}/`))
    .map(
      (e: { action: string; requestId: string; outcome: { status: number } }) =>
        `${e.action} ${e.requestId.split('/').pop()} ${e.outcome.status}`,
    )
    .sort();
  t.deepEqual(moves, ['ROLLOUT_ENVIRONMENT forward 503', 'ROLL_BACK_ENVIRONMENT back 200']);
  t.like(audit.entries[0], { source: 'rollout', actorId: 'system:rollout', actorEmail: admin.email });
  // A finished rollout refuses actions it cannot take; a repeated rollback answers it as it is.
  t.is((await stack.fetch(`/api/v1/rollouts/${rollout.id}/resume`, { method: 'POST', token: admin.token })).status, 409);
  t.is((await stack.fetch(`/api/v1/rollouts/${rollout.id}/rollback`, { method: 'POST', token: admin.token })).status, 200);
});

test.serial('a control plane that dies mid-step is taken over after a restart, without updating an environment twice', async (t) => {
  const real = stack.deps.runtime();
  // The dying instance: its task never reaches the queue, and it dies inside the driver right after starting the new version.
  const lostQueue = { ...stack.deps.queue, enqueue: async () => Promise.reject(new Error('the instance died')) } as Queue;
  const dying: RuntimeDriver = { ...real, deploy: async (spec) => real.deploy(spec).then(() => new Promise<void>(() => {})) };
  const dead: Deps = createDeps(stack.config, { db: stack.deps.db, auth: stack.deps.auth, queue: lostQueue, runtime: () => dying });
  const target = tenants.slice(0, 2).map((x) => x.id);
  const { rollout } = await createRollout(
    dead,
    { uid: admin.uid, email: admin.email, role: 'admin' },
    {
      release: 'r1',
      target: { ids: target },
      strategy: { waves: ['100%'], maxParallel: 1, soakSeconds: 1 },
    },
  );
  void runRolloutStep(dead, { rolloutId: rollout.id, step: 1 });
  const first = tenants.find((x) => x.id === target[0])!;
  const deadline = Date.now() + 60_000;
  while ((await versionOf(first.urls.demo)) !== '1.0.0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  t.is(await versionOf(first.urls.demo), '1.0.0', 'the dying instance got as far as starting the new version');

  // The restart: the outbox sweep finds the step's task that never reached the queue.
  const swept = await sweepOperations(stack.deps, { olderThanMs: 0 });
  t.true(swept.enqueued >= 1);
  const events = await waitForRolloutEvent(
    stack,
    rollout.id,
    admin.token,
    ['rollout_succeeded', 'rollout_paused', 'rollout_failed'],
    120_000,
  );
  t.is(events.at(-1)!.type, 'rollout_succeeded');
  for (const id of target) {
    const tenant = tenants.find((x) => x.id === id)!;
    for (const env of ['demo', 'live']) {
      t.is(await versionOf(tenant.urls[env]), '1.0.0');
      t.is(await startsOn(id, env, images.r1), 1, `${id} ${env} was started once on r1`);
    }
  }
});

test.serial('bad rollout and release requests are refused with a §9 error and change nothing', async (t) => {
  const before = (await (await stack.fetch('/api/v1/rollouts', { token: admin.token })).json()).rollouts.length;
  const cases: [unknown, RegExp][] = [
    [{ release: 'nope', target: 'all' }, /no release "nope"/],
    [{ release: 'r1', target: { ids: ['t-aaaaaaaaaa'] } }, /Unknown tenant/],
    [{ release: 'r1', target: 'all', strategy: { waves: ['150%'] } }, /percentage/],
    [{ release: 'r1', target: { label: 'ring=early' } }, /No tenant of the target/],
    [{ release: 'r1' }, /target/],
  ];
  for (const [body, message] of cases) {
    const res = await stack.fetch('/api/v1/rollouts', { method: 'POST', token: admin.token, json: body });
    t.is(res.status, 400, JSON.stringify(body));
    t.regex((await res.json()).error.message, message);
  }
  t.is((await (await stack.fetch('/api/v1/rollouts', { token: admin.token })).json()).rollouts.length, before);
  const again = await stack.fetch('/api/v1/releases', {
    method: 'POST',
    token: admin.token,
    json: { name: 'r1', image: images.r1, notes: 'release r1' },
  });
  t.is(again.status, 200, 'the same release again answers it');
  const changed = await stack.fetch('/api/v1/releases', { method: 'POST', token: admin.token, json: { name: 'r1', image: images.r2 } });
  t.is(changed.status, 409, 'a release is immutable');
  const unknown = await stack.fetch('/api/v1/releases', {
    method: 'POST',
    token: admin.token,
    json: { name: 'r9', image: `local/x@sha256:${'c'.repeat(64)}` },
  });
  t.is(unknown.status, 400);
  t.is((await stack.fetch('/api/v1/rollouts/ro-123456789abc', { token: admin.token })).status, 404);

  // One rollout at a time: a second is refused while the first runs, and the refused one leaves nothing behind.
  const first = await start({ release: 'r1', target: { ids: [tenants[2].id] }, strategy: { soakSeconds: 60 } });
  const targetsBefore = (await stack.deps.db.collectionGroup('targets').get()).size;
  const second = await stack.fetch('/api/v1/rollouts', { method: 'POST', token: admin.token, json: { release: 'r2', target: 'all' } });
  t.is(second.status, 409);
  t.regex((await second.json()).error.message, new RegExp(`Rollout ${first.id}`));
  t.is((await stack.deps.db.collectionGroup('targets').get()).size, targetsBefore);
  const repeat = await stack.fetch('/api/v1/rollouts', {
    method: 'POST',
    token: admin.token,
    json: { release: 'r1', target: { ids: [tenants[2].id] }, strategy: { soakSeconds: 60 } },
  });
  t.is(repeat.status, 200, 'the same request again answers the running rollout');
  t.is((await repeat.json()).rollout.id, first.id);
  t.is(
    (await (await stack.fetch(`/api/v1/rollouts/${first.id}/cancel`, { method: 'POST', token: admin.token })).json()).rollout.state,
    'cancelled',
  );
});

test.serial(
  'a release whose requests fail pauses the rollout during the soak on its error rate, though its health check passes',
  async (t) => {
    const tenant = tenants[3];
    const rollout = await start({ release: 'r4', target: { ids: [tenant.id] }, strategy: { soakSeconds: 8 } });
    await waitForRolloutEvent(stack, rollout.id, admin.token, ['wave_soaking', 'rollout_paused'], 90_000);
    t.is(await versionOf(tenant.urls.live), '4.0.0');
    // A client calls the environments, and every answer is a 500.
    for (const env of ['demo', 'live']) for (let i = 0; i < 15; i++) t.is((await fetch(tenant.urls[env])).status, 500);
    const events = await waitForRolloutEvent(stack, rollout.id, admin.token, ['rollout_paused', 'rollout_succeeded'], 90_000);
    t.is(events.at(-1)!.type, 'rollout_paused');
    t.regex(events.find((e) => e.type === 'environment_unhealthy')?.message ?? '', /15 of 15 requests failed, over the 10 % allowed/);
    const paused = await readRollout(rollout.id);
    t.true(paused.environments.some((e: { status: string }) => e.status === 'failed'));
    await stack.fetch(`/api/v1/rollouts/${rollout.id}/rollback`, { method: 'POST', token: admin.token });
    await waitForRolloutEvent(stack, rollout.id, admin.token, ['rollout_rolled_back'], 90_000);
    for (const env of ['demo', 'live']) t.is(await versionOf(tenant.urls[env]), '2.0.0');
  },
);

test.serial('the chat shows a rollout as a plan, refuses it to tenants, and starts it only once an admin confirms', async (t) => {
  const chatUrl = stack.config.streams.url.replace('{name}', 'chat');
  const count = async () => (await (await stack.fetch('/api/v1/rollouts', { token: admin.token })).json()).rollouts.length;
  const before = await count();
  const denied = await postChat(chatUrl, owner.token, { message: 'roll out release r1 to all tenants' });
  t.deepEqual(denied.of('confirmation_required'), []);
  t.regex(denied.text, /not an action you can use/);
  const asked = await postChat(chatUrl, admin.token, { message: 'roll out release r1 to all tenants' });
  const [confirmation] = asked.of('confirmation_required');
  t.like(confirmation, { action: 'ROLLOUT_RELEASE' });
  t.regex(confirmation.summary, /Roll release r1 .* out to 5 tenant\(s\), 10 environment\(s\), in 3 wave\(s\) of 1, 2, 2 tenant\(s\)/);
  t.regex(confirmation.summary, /pinned to release r1/);
  t.is(await count(), before, 'nothing starts before the confirmation');
  const reply = await postChat(chatUrl, admin.token, { confirm: confirmation.id, conversationId: asked.conversationId });
  const id = /Rollout (ro-[a-f0-9]+) of r1 is running/.exec(reply.text)?.[1];
  t.truthy(id, reply.text);
  t.is(await count(), before + 1);
  const cancelled = await stack.fetch(`/api/v1/rollouts/${id}/cancel`, { method: 'POST', token: admin.token });
  t.is((await cancelled.json()).rollout.state, 'cancelled');
});
