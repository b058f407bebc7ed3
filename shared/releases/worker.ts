/**
 * The rollout worker: one Cloud Task per step, named `ro-<id>-<step>`. A
 * delivery runs only if its step is the rollout's current one and it wins the
 * rollout's lease; it then does one batch (at most `maxParallel` environments
 * updating, or one health check of a soaking wave), and in one transaction
 * moves the rollout on, bumps the step and records the next task in the task
 * outbox. A duplicated or stale delivery finds another step and does nothing;
 * a delivery killed mid-batch leaves its lease and claims to expire, and the
 * retry takes over without updating a finished environment again.
 */
import { randomUUID } from 'node:crypto';
import type { Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import { addOutboxTask, type OutboxTask } from '../store/outbox.ts';
import { getTenantDoc } from '../store/tenants.ts';
import { envRef } from '../tenants/worker-env.ts';
import { DEFAULT_STRATEGY, ENV_ORDER, MIN_REQUESTS_FOR_ERROR_RATE, type RolloutState, type Wave } from './plan.ts';
import {
  appendRolloutEvent,
  getRollout,
  listTargets,
  markTargetFailed,
  targetKey,
  updateRollout,
  type RolloutDoc,
  type TargetDoc,
} from './store.ts';
import { holdMs, moveEnvironment, type UpdateOutcome } from './update-env.ts';

export const ROLLOUT_QUEUE = 'provision';

/** The task of a step; its name makes a repeated enqueue a no-op. */
export function rolloutTask(id: string, step: number): OutboxTask {
  return {
    queue: ROLLOUT_QUEUE,
    options: { fn: 'provision', path: '/tasks/rollout', payload: { rolloutId: id, step }, name: `ro-${id}-${step}` },
  };
}

/** Enqueues a step's task (recorded in the outbox already); a queue outage is left to the sweeper. */
export async function enqueueRolloutStep(deps: Deps, id: string, step: number, at?: Date): Promise<void> {
  const task = rolloutTask(id, step);
  await deps.queue.enqueue(task.queue, { ...task.options, scheduleTime: at }).catch((err: Error) => {
    deps.log.warn('rollout task not enqueued; the outbox sweeper will enqueue it', { rolloutId: id, step, reason: err.message });
  });
}

interface Next {
  state?: RolloutState;
  reason?: string;
  waves?: Wave[];
  currentWave?: number;
  /** When the next step should run; absent: at once. */
  at?: Date;
  events: { type: string; message: string; wave?: number }[];
}

export async function runRolloutStep(deps: Deps, task: { rolloutId: string; step: number }): Promise<'done' | 'stale'> {
  const { db } = deps;
  const holder = randomUUID();
  const rollout = await db.runTransaction(async (tx) => {
    const r = await getRollout(db, task.rolloutId, tx);
    if (!r || r.step !== task.step || (r.state !== 'running' && r.state !== 'rolling_back')) return undefined;
    const now = deps.now();
    if (r.lease && r.lease.holder !== holder && r.lease.until > now.toISOString())
      throw new AppError('unavailable', 'Another delivery is working on this rollout; retry later.');
    updateRollout(db, tx, r.id, { lease: { holder, until: new Date(now.getTime() + holdMs(deps)).toISOString() } });
    return r;
  });
  if (!rollout) return 'stale';
  try {
    const next = rollout.state === 'running' ? await advance(deps, rollout) : await rollBack(deps, rollout);
    const step = rollout.step + 1;
    const moved = await db.runTransaction(async (tx) => {
      const r = await getRollout(db, rollout.id, tx);
      // Paused, cancelled or rolled back meanwhile: that action bumped the step and owns what comes next.
      if (!r || r.step !== rollout.step) return false;
      const now = deps.now();
      let eventSeq = r.eventSeq;
      for (const e of next.events) eventSeq = appendRolloutEvent(db, tx, { id: r.id, eventSeq }, e, now);
      const state = next.state ?? r.state;
      const continues = state === 'running' || state === 'rolling_back';
      updateRollout(db, tx, r.id, {
        state,
        reason: next.reason ?? r.reason,
        waves: next.waves ?? r.waves,
        currentWave: next.currentWave ?? r.currentWave,
        step,
        eventSeq,
        lease: null,
        updatedAt: now.toISOString(),
      });
      if (continues) addOutboxTask(tx, db, rolloutTask(r.id, step), now);
      return continues;
    });
    if (moved) await enqueueRolloutStep(deps, rollout.id, step, next.at);
    return 'done';
  } finally {
    await db
      .runTransaction(async (tx) => {
        const r = await getRollout(db, rollout.id, tx);
        if (r?.lease?.holder === holder) updateRollout(db, tx, r.id, { lease: null });
      })
      .catch(() => undefined);
  }
}

/** Whether an environment moved (so the next batch may start at once) rather than waited on a busy tenant or another delivery. */
const isProgress = (outcome: UpdateOutcome) => outcome !== 'busy' && outcome !== 'done';

const tenantsOf = (targets: TargetDoc[]) => {
  const byTenant = new Map<string, TargetDoc[]>();
  for (const t of targets) byTenant.set(t.tenantId, [...(byTenant.get(t.tenantId) ?? []), t]);
  for (const list of byTenant.values()) list.sort((a, b) => ENV_ORDER.indexOf(a.env) - ENV_ORDER.indexOf(b.env));
  return byTenant;
};

/** One step of a running rollout: a batch of updates in the current wave, or a health check while it soaks. */
async function advance(deps: Deps, rollout: RolloutDoc): Promise<Next> {
  const now = deps.now();
  const waves = structuredClone(rollout.waves);
  const wave = waves[rollout.currentWave];
  if (!wave) return { state: 'succeeded', waves, events: [{ type: 'rollout_succeeded', message: 'Every wave is done.' }] };
  const events: Next['events'] = [];
  if (wave.phase === 'pending') {
    wave.phase = 'updating';
    wave.startedAt = now.toISOString();
    const started = {
      type: 'wave_started',
      wave: wave.index,
      message: `Wave ${wave.index + 1} of ${waves.length}: ${wave.tenantIds.length} tenant(s).`,
    };
    // Recorded before any of its environments moves, so the wave's events follow its start in the stream.
    if (!(await startWave(deps, rollout, waves, started))) events.push(started);
  }
  const targets = await listTargets(deps.db, rollout.id, wave.index);
  const byTenant = tenantsOf(targets);
  if (wave.phase === 'updating') {
    // Per tenant demo → test → live: the next environment waits for the one before to be healthy; a failed one stops its tenant.
    const ready: TargetDoc[] = [];
    let running = 0;
    for (const list of byTenant.values()) {
      if (list.some((t) => t.status === 'failed')) continue;
      const next = list.find((t) => t.status !== 'healthy' && t.status !== 'skipped');
      if (!next) continue;
      if (next.status === 'updating' && next.claim && next.claim.until > now.toISOString()) running += 1;
      else ready.push(next);
    }
    const batch = ready.slice(0, Math.max(0, rollout.strategy.maxParallel - running));
    const moved = await Promise.all(batch.map((t) => moveEnvironment(deps, rollout, targetKey(t.tenantId, t.env), 'forward')));
    const after = tenantsOf(await listTargets(deps.db, rollout.id, wave.index));
    const open = [...after.values()].some(
      (list) => !list.some((t) => t.status === 'failed') && list.some((t) => t.status === 'pending' || t.status === 'updating'),
    );
    wave.failedTenants = [...after.entries()].filter(([, list]) => list.some((t) => t.status === 'failed')).map(([id]) => id);
    if (wave.failedTenants.length > rollout.strategy.errorBudget) return pauseOnBudget(waves, wave, events);
    // Nothing moved (tenants busy in other operations): look again shortly instead of spinning.
    if (open) return { waves, events, at: moved.some(isProgress) ? undefined : new Date(now.getTime() + 1000) };
    wave.phase = 'soaking';
    wave.soakUntil = new Date(now.getTime() + rollout.strategy.soakSeconds * 1000).toISOString();
    events.push({
      type: 'wave_soaking',
      wave: wave.index,
      message: `Wave ${wave.index + 1} updated; watching it for ${rollout.strategy.soakSeconds} s.`,
    });
    return { waves, events, at: soakCheckAt(rollout, now, wave) };
  }
  // Soaking: every updated environment must stay healthy on the new image.
  const lost = await checkHealth(
    deps,
    rollout,
    targets.filter((t) => t.status === 'healthy'),
  );
  for (const t of lost) {
    await markTargetFailed(deps.db, rollout.id, targetKey(t.tenantId, t.env), t.error!, now);
    if (!wave.failedTenants.includes(t.tenantId)) wave.failedTenants.push(t.tenantId);
    events.push({
      type: 'environment_unhealthy',
      wave: wave.index,
      message: `${t.tenantId} ${t.env} failed the health gate while the wave soaked: ${t.error}.`,
    });
  }
  if (wave.failedTenants.length > rollout.strategy.errorBudget) return pauseOnBudget(waves, wave, events);
  if (wave.soakUntil && now.toISOString() < wave.soakUntil) return { waves, events, at: soakCheckAt(rollout, now, wave) };
  wave.phase = 'done';
  wave.endedAt = now.toISOString();
  events.push({
    type: 'wave_done',
    wave: wave.index,
    message: `Wave ${wave.index + 1} is done${wave.failedTenants.length ? ` with ${wave.failedTenants.length} failed tenant(s) within the error budget` : ''}.`,
  });
  const currentWave = rollout.currentWave + 1;
  if (currentWave < waves.length) return { waves, currentWave, events };
  const failed = waves.some((w) => w.failedTenants.length > 0);
  events.push(
    failed
      ? { type: 'rollout_failed', message: 'Every wave ran; some tenants failed (within the error budget). Roll back or fix them.' }
      : { type: 'rollout_succeeded', message: `Every targeted environment runs release ${rollout.release}.` },
  );
  return { state: failed ? 'failed' : 'succeeded', waves, currentWave, events };
}

/**
 * Stores the wave as updating with its `wave_started` event, in one transaction
 * with the step's rollout; a retried step then finds it started and says it
 * once. False when the rollout moved on meanwhile (the step's end then refuses).
 */
async function startWave(deps: Deps, rollout: RolloutDoc, waves: Wave[], event: Next['events'][number]): Promise<boolean> {
  const { db } = deps;
  return db.runTransaction(async (tx) => {
    const r = await getRollout(db, rollout.id, tx);
    if (!r || r.step !== rollout.step || r.state !== 'running') return false;
    const now = deps.now();
    const eventSeq = appendRolloutEvent(db, tx, r, event, now);
    updateRollout(db, tx, r.id, { waves, eventSeq, updatedAt: now.toISOString() });
    return true;
  });
}

function pauseOnBudget(waves: Wave[], wave: Wave, events: Next['events']): Next {
  const reason = `Wave ${wave.index + 1}: ${wave.failedTenants.length} tenant(s) failed (${wave.failedTenants.join(', ')}), over the error budget.`;
  wave.phase = 'failed';
  events.push({ type: 'rollout_paused', wave: wave.index, message: `${reason} Paused: resume, roll back or cancel.` });
  return { state: 'paused', reason, waves, events };
}

/** Soaks are checked a few times (at least once a second, at most every 10 s) and once at their end. */
function soakCheckAt(rollout: RolloutDoc, now: Date, wave: Wave): Date {
  const interval = Math.min(10_000, Math.max(1000, (rollout.strategy.soakSeconds * 1000) / 4));
  return new Date(Math.min(now.getTime() + interval, Date.parse(wave.soakUntil!)));
}

/** The environments that are no longer ready on the release's image (health probes through the driver). */
async function checkHealth(deps: Deps, rollout: RolloutDoc, targets: TargetDoc[]): Promise<TargetDoc[]> {
  const lost: TargetDoc[] = [];
  await Promise.all(
    targets.map(async (t) => {
      const tenant = await getTenantDoc(deps.db, t.tenantId);
      if (tenant?.state !== 'ready') return; // suspended or deleted by its owner meanwhile: not the release's fault
      const driver = deps.runtime(tenant.driver);
      const status = await driver.status(envRef(tenant, t.env));
      if (!status.ready || (status.image && status.image !== rollout.image))
        return void lost.push({ ...t, error: status.ready ? `it runs ${status.image}` : (status.message ?? 'not ready') });
      // Counters run from the process's start, which the update was: errors over requests is the new version's error rate.
      const metrics =
        driver.flags.metrics && driver.metrics ? await driver.metrics(envRef(tenant, t.env)).catch(() => undefined) : undefined;
      const maxRate = rollout.strategy.maxErrorRate ?? DEFAULT_STRATEGY.maxErrorRate;
      if (
        metrics?.errors !== undefined &&
        (metrics.requests ?? 0) >= MIN_REQUESTS_FOR_ERROR_RATE &&
        metrics.errors / metrics.requests! > maxRate
      )
        lost.push({ ...t, error: `${metrics.errors} of ${metrics.requests} requests failed, over the ${maxRate * 100} % allowed` });
    }),
  );
  return lost;
}

/** One step of a rollback: a batch of environments back on their previous image, live first; then rolled_back. */
async function rollBack(deps: Deps, rollout: RolloutDoc): Promise<Next> {
  const targets = await listTargets(deps.db, rollout.id);
  const now = deps.now().toISOString();
  const movable = (t: TargetDoc) =>
    !!t.previousImage &&
    (t.status === 'healthy' || t.status === 'failed' || (t.status === 'updating' && (!t.claim || t.claim.until <= now)));
  const order = [...targets].sort((a, b) => ENV_ORDER.indexOf(b.env) - ENV_ORDER.indexOf(a.env));
  const batch = order.filter(movable).slice(0, rollout.strategy.maxParallel);
  const outcomes = await Promise.all(batch.map((t) => moveEnvironment(deps, rollout, targetKey(t.tenantId, t.env), 'back')));
  const left = (await listTargets(deps.db, rollout.id)).filter((t) => movable(t) || t.status === 'updating');
  if (left.length > 0) return { events: [], at: outcomes.some(isProgress) ? undefined : new Date(Date.now() + 1000) };
  return {
    state: 'rolled_back',
    events: [{ type: 'rollout_rolled_back', message: 'Every updated environment is back on its previous image.' }],
  };
}
