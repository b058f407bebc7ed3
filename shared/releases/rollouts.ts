/**
 * The rollouts service (R-ROLL-1): starting a rollout of a release to a target
 * set of tenants, reading its progress, and the actions pause, resume, cancel
 * and rollback. Requests write documents and enqueue the worker's next step
 * (worker.ts); one rollout runs at a time, and repeating the request that
 * started it answers that rollout again.
 */
import { randomBytes } from 'node:crypto';
import { lazySchema } from '../zod-lib.ts';
import { authorize } from '../auth/authorize.ts';
import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { AppError, conflict, notFound } from '../errors.ts';
import { addOutboxTask } from '../store/outbox.ts';
import { getTenantDoc, tenantsInStates, type TenantDoc } from '../store/tenants.ts';
import { parseInput } from '../tenants/validate.ts';
import {
  ENV_ORDER,
  DEFAULT_STRATEGY,
  FINAL_STATES,
  ROLLOUT_ACTIONS,
  createRolloutSchema,
  planWaves,
  splitLabel,
  type RolloutAction,
} from './plan.ts';
import { getRelease, isReleaseName } from './releases.ts';
import {
  appendRolloutEvent,
  createRolloutDocs,
  getAllReleaseSettings,
  getReleaseSettings,
  getRollout,
  listRollouts,
  listTargets,
  rolloutLockPath,
  setReleaseSettings,
  updateRollout,
  writeTargets,
  type ReleaseSettings,
  type RolloutDoc,
  type TargetDoc,
} from './store.ts';
import { enqueueRolloutStep, rolloutTask } from './worker.ts';

const newRolloutId = () => `ro-${randomBytes(6).toString('hex')}`;
export const isRolloutId = (id: string) => /^ro-[a-f0-9]{12}$/.test(id);

/** A rollout as the API shows it: its document without the worker's bookkeeping, each wave's counts, and its environments. */
export function viewRollout(rollout: RolloutDoc, targets: TargetDoc[]) {
  const { lease: _lease, step: _step, eventSeq: _seq, ...rest } = rollout;
  const waves = rollout.waves.map((w) => {
    const mine = targets.filter((t) => t.wave === w.index);
    const count = (s: TargetDoc['status']) => mine.filter((t) => t.status === s).length;
    return {
      ...w,
      environments: mine.length,
      healthy: count('healthy'),
      failed: count('failed'),
      updating: count('updating'),
      pending: count('pending'),
      skipped: count('skipped'),
      rolledBack: count('rolled_back'),
    };
  });
  const environments = targets.map(({ claim: _claim, ...t }) => t);
  return { ...rest, waves, environments, links: { events: `/api/v1/rollouts/${rollout.id}/events` } };
}

/** The rollout as `GET /api/v1/rollouts/{id}` answers it; the CLI and the pages read it with this type. */
export type RolloutView = ReturnType<typeof viewRollout>;

async function selectTenants(deps: Deps, target: RolloutDoc['target']): Promise<TenantDoc[]> {
  if (target !== 'all' && 'ids' in target) {
    const found = await Promise.all([...new Set(target.ids)].map((id) => getTenantDoc(deps.db, id)));
    const missing = target.ids.filter((id) => !found.some((t) => t?.id === id && t.state !== 'deleted'));
    if (missing.length)
      throw new AppError('validation_failed', `Unknown tenant(s): ${missing.join(', ')}.`, { field: 'target.ids', missing });
    return found as TenantDoc[];
  }
  const all = (await tenantsInStates(
    deps.db,
    ['ready', 'suspended', 'failed', 'provisioning'],
    ['id', 'plan', 'state', 'environments', 'ownerId'],
  )) as TenantDoc[];
  if (target === 'all') return all;
  if ('plan' in target) return all.filter((t) => t.plan === target.plan);
  const [key, value] = splitLabel(target.label);
  const settings = await getAllReleaseSettings(deps.db);
  return all.filter((t) => settings.get(t.id)?.labels?.[key] === value);
}

/** What a rollout would do, without doing it: the release, the waves of tenants and who is skipped (the chat shows it before asking to confirm). */
export async function planRollout(deps: Deps, p: Principal, raw: unknown) {
  authorize(p, 'rollouts.write');
  const input = parseInput(createRolloutSchema, raw);
  const release = isReleaseName(input.release) ? await getRelease(deps, input.release) : undefined;
  if (!release)
    throw new AppError('validation_failed', `There is no release "${input.release}"; create it first (POST /api/v1/releases).`, {
      field: 'release',
    });
  const strategy = { ...DEFAULT_STRATEGY, ...input.strategy };
  const settings = await getAllReleaseSettings(deps.db);
  const skipped: RolloutDoc['skipped'] = [];
  const chosen: TenantDoc[] = [];
  for (const tenant of await selectTenants(deps, input.target)) {
    const pin = settings.get(tenant.id)?.pin;
    if (pin) skipped.push({ tenantId: tenant.id, reason: `pinned to release ${pin}` });
    else if (tenant.state !== 'ready') skipped.push({ tenantId: tenant.id, reason: `the tenant is ${tenant.state}` });
    else chosen.push(tenant);
  }
  if (chosen.length === 0)
    throw new AppError('validation_failed', 'No tenant of the target can be updated now.', {
      field: 'target',
      skipped: skipped.slice(0, 50),
    });
  chosen.sort((a, b) => a.id.localeCompare(b.id));
  const waves = planWaves(
    chosen.map((t) => t.id),
    strategy.waves,
  );
  return { input, release, strategy, chosen, skipped, waves };
}

/** The plan in words, for a confirmation: waves, environments, skipped tenants. */
export async function describeRollout(deps: Deps, p: Principal, raw: unknown): Promise<string> {
  const { release, strategy, chosen, skipped, waves } = await planRollout(deps, p, raw);
  const environments = chosen.reduce((sum, t) => sum + t.environments.length, 0);
  return (
    `Roll release ${release.name} (${release.image}) out to ${chosen.length} tenant(s), ${environments} environment(s), ` +
    `in ${waves.length} wave(s) of ${waves.map((w) => w.tenantIds.length).join(', ')} tenant(s): demo, then test, then live within each tenant, ` +
    `at most ${strategy.maxParallel} at once, each wave watched ${strategy.soakSeconds} s; it pauses when more than ${strategy.errorBudget} tenant(s) of a wave fail.` +
    (skipped.length ? ` Skipped: ${skipped.map((s) => `${s.tenantId} (${s.reason})`).join(', ')}.` : '')
  );
}

export async function createRollout(
  deps: Deps,
  p: Principal,
  raw: unknown,
): Promise<{ rollout: ReturnType<typeof viewRollout>; created: boolean }> {
  const { input, release, strategy, chosen, skipped, waves } = await planRollout(deps, p, raw);
  const now = deps.now().toISOString();
  const id = newRolloutId();
  const waveOf = new Map(waves.flatMap((w) => w.tenantIds.map((t) => [t, w.index] as const)));
  const targets: TargetDoc[] = chosen.flatMap((t) =>
    ENV_ORDER.filter((e) => t.environments.includes(e)).map((env) => ({
      tenantId: t.id,
      ownerId: t.ownerId,
      env,
      wave: waveOf.get(t.id)!,
      status: 'pending' as const,
      updatedAt: now,
    })),
  );
  const rollout: RolloutDoc = {
    id,
    release: release.name,
    image: release.image,
    target: input.target,
    strategy,
    state: 'running',
    waves,
    currentWave: 0,
    skipped,
    step: 1,
    lease: null,
    eventSeq: 0,
    createdBy: p.email ?? p.uid,
    createdAt: now,
    updatedAt: now,
  };
  // Targets first, in batches (they do nothing until their rollout exists); then the rollout, its first event and task at once.
  await writeTargets(deps.db, id, targets);
  const dropTargets = () => deps.db.recursiveDelete(deps.db.collection(`rollouts/${id}/targets`));
  const result = await deps.db
    .runTransaction(async (tx) => {
      const lockRef = deps.db.doc(rolloutLockPath);
      const activeId = (await tx.get(lockRef)).data()?.rolloutId as string | undefined;
      const active = activeId ? await getRollout(deps.db, activeId, tx) : undefined;
      if (active && !FINAL_STATES.includes(active.state)) {
        if (active.release === rollout.release && JSON.stringify(active.target) === JSON.stringify(rollout.target))
          return { rollout: active, created: false };
        throw conflict(`Rollout ${active.id} of release ${active.release} is ${active.state}; cancel it or wait for it to end first.`, {
          rolloutId: active.id,
        });
      }
      rollout.eventSeq = appendRolloutEvent(
        deps.db,
        tx,
        rollout,
        {
          type: 'rollout_started',
          message: `Rolling ${release.name} out to ${chosen.length} tenant(s) in ${waves.length} wave(s); ${skipped.length} skipped.`,
        },
        deps.now(),
      );
      createRolloutDocs(deps.db, tx, rollout);
      tx.set(lockRef, { rolloutId: id });
      addOutboxTask(tx, deps.db, rolloutTask(id, 1), deps.now());
      return { rollout, created: true };
    })
    .catch(async (err: unknown) => {
      // Refused (another rollout runs) or failed: the targets written for it go too, so a refusal stores nothing.
      await dropTargets();
      throw err;
    });
  if (result.created) await enqueueRolloutStep(deps, id, 1);
  else await dropTargets();
  return { rollout: viewRollout(result.rollout, await listTargets(deps.db, result.rollout.id)), created: result.created };
}

export async function readRollout(deps: Deps, p: Principal, id: string) {
  authorize(p, 'rollouts.read');
  const rollout = isRolloutId(id) ? await getRollout(deps.db, id) : undefined;
  if (!rollout) throw notFound(`Rollout ${id}`);
  return viewRollout(rollout, await listTargets(deps.db, id));
}

export async function listAllRollouts(deps: Deps, p: Principal) {
  authorize(p, 'rollouts.read');
  return (await listRollouts(deps.db)).map((r) => viewRollout(r, []));
}

/** Pause, resume, cancel or roll back; repeating an action that already took effect answers the rollout as it is. */
export async function actOnRollout(deps: Deps, p: Principal, id: string, action: RolloutAction) {
  authorize(p, 'rollouts.write');
  if (!isRolloutId(id) || !(await getRollout(deps.db, id))) throw notFound(`Rollout ${id}`);
  const spec = ROLLOUT_ACTIONS[action];
  const outcome = await deps.db.runTransaction(async (tx) => {
    const r = (await getRollout(deps.db, id, tx))!;
    if (r.state === spec.to || (action === 'rollback' && r.state === 'rolled_back')) return { step: 0 };
    if (!(spec.from as readonly string[]).includes(r.state))
      throw new AppError('illegal_transition', `Cannot ${action} a rollout that is ${r.state}.`, { state: r.state, action });
    const now = deps.now();
    const step = r.step + 1;
    const waves = structuredClone(r.waves);
    const strategy = { ...r.strategy };
    const current = waves[r.currentWave];
    let message = `${action} by ${p.email ?? p.uid}.`;
    if (action === 'resume' && current?.phase === 'failed') {
      // Resuming after the error budget stopped a wave accepts its failures and goes on.
      current.phase = 'updating';
      strategy.errorBudget = Math.max(strategy.errorBudget, current.failedTenants.length);
      message = `Resumed by ${p.email ?? p.uid}, accepting ${current.failedTenants.length} failed tenant(s) in wave ${current.index + 1}.`;
    }
    const eventSeq = appendRolloutEvent(deps.db, tx, r, { type: `rollout_${spec.to}`, message }, now);
    const runs = spec.to === 'running' || spec.to === 'rolling_back';
    updateRollout(deps.db, tx, id, { state: spec.to, step, eventSeq, waves, strategy, reason: undefined, updatedAt: now.toISOString() });
    if (runs) addOutboxTask(tx, deps.db, rolloutTask(id, step), now);
    return { step: runs ? step : 0 };
  });
  if (outcome.step) await enqueueRolloutStep(deps, id, outcome.step);
  return readRollout(deps, p, id);
}

const settingsSchema = lazySchema((z) =>
  z
    .object({
      pin: z.string().max(63).nullable().optional(),
      labels: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/), z.string().regex(/^[a-z0-9_.-]{0,63}$/)).optional(),
    })
    .strict(),
);

/** A tenant's pin and labels for rollouts (admins). A pinned tenant is left out of every rollout. */
export async function updateReleaseSettings(deps: Deps, p: Principal, tenantId: string, raw: unknown): Promise<ReleaseSettings> {
  authorize(p, 'rollouts.write');
  const input = parseInput(settingsSchema, raw);
  const tenant = /^t-[a-z2-7]{10}$/.test(tenantId) ? await getTenantDoc(deps.db, tenantId) : undefined;
  if (!tenant || tenant.state === 'deleted') throw notFound(`Tenant ${tenantId}`);
  if (input.pin && !(isReleaseName(input.pin) && (await getRelease(deps, input.pin))))
    throw new AppError('validation_failed', `There is no release "${input.pin}" to pin to.`, { field: 'pin' });
  const current = await getReleaseSettings(deps.db, tenantId);
  const next: ReleaseSettings = {
    pin: input.pin === undefined ? (current.pin ?? null) : input.pin,
    labels: input.labels ?? current.labels ?? {},
    updatedAt: deps.now().toISOString(),
  };
  await setReleaseSettings(deps.db, tenantId, next);
  return next;
}

export async function readReleaseSettings(deps: Deps, p: Principal, tenantId: string): Promise<ReleaseSettings> {
  authorize(p, 'rollouts.read');
  const tenant = /^t-[a-z2-7]{10}$/.test(tenantId) ? await getTenantDoc(deps.db, tenantId) : undefined;
  if (!tenant || tenant.state === 'deleted') throw notFound(`Tenant ${tenantId}`);
  return getReleaseSettings(deps.db, tenantId);
}
