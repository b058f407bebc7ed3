/**
 * Moving one environment of a rollout to a new image, or back to the one it
 * ran before. A claim on the target (and the tenant's lease, the same one the
 * provision worker takes) is written in one transaction before the driver is
 * called, so two deliveries never update the same environment at once and a
 * finished environment is never updated again. A claim left by a delivery
 * that died expires and is taken over; the driver's deploy of the same spec
 * is then a no-op where the first one got through.
 */
import { recordAudit } from '../audit/store.ts';
import { randomUUID } from 'node:crypto';
import type { Deps } from '../deps.ts';
import { envPath, getTenantDoc, recordEvent, tenantPath, type TenantDoc } from '../store/tenants.ts';
import type { EnvName, EnvironmentRecord } from '../tenants/types.ts';
import { envRef, envSpec } from '../tenants/worker-env.ts';
import { ENV_ORDER } from './plan.ts';
import { getTarget, recordRolloutEvent, setTarget, targetKey, type RolloutDoc, type TargetDoc } from './store.ts';

export type UpdateOutcome = 'healthy' | 'failed' | 'rolled_back' | 'skipped' | 'busy' | 'done';

/** The release an environment runs, shown on the environment (R-ROLL-1: each environment shows its release). */
export interface EnvironmentRelease {
  name: string | null;
  image: string;
}

/**
 * How long a claim (and the rollout's and tenant's lease) lasts: a deploy and
 * its health wait must fit, so a live delivery is never taken over; a dead
 * one's claim is taken over after it.
 */
export const holdMs = (deps: Deps) => deps.config.provision.leaseMs + deps.config.provision.readyTimeoutMs;

interface Claimed {
  tenant: TenantDoc;
  target: TargetDoc;
}

/**
 * Runs `target` of `rollout` forward (to the release's image) or back (to its
 * previous image). Answers what became of it; `busy` when its tenant is in
 * another operation (try again later), `done` when there was nothing to do.
 */
export async function moveEnvironment(deps: Deps, rollout: RolloutDoc, key: string, direction: 'forward' | 'back'): Promise<UpdateOutcome> {
  const holder = `rollout:${rollout.id}:${randomUUID()}`;
  const claimed = await claim(deps, rollout, key, direction, holder);
  if (typeof claimed === 'string') return claimed;
  const { tenant, target } = claimed;
  const env = target.env;
  const image = direction === 'forward' ? rollout.image : target.previousImage!;
  const releaseName = direction === 'forward' ? rollout.release : (target.previousRelease ?? null);
  const event = (type: string, message: string, data?: Record<string, unknown>) =>
    recordRolloutEvent(deps.db, rollout.id, { type, message, wave: target.wave, tenantId: tenant.id, env, data }, deps.now);
  await event(direction === 'forward' ? 'environment_updating' : 'environment_rolling_back', `${tenant.id} ${env}: starting ${image}.`, {
    image,
  });
  const driver = deps.runtime(tenant.driver);
  let error: string | undefined;
  try {
    const ctx = { deps, tenant, generation: tenant.generation, checkCurrent: async () => {} };
    await driver.deploy(await envSpec(ctx, env, image));
    const status = await driver.waitReady(envRef(tenant, env), { timeoutMs: deps.config.provision.readyTimeoutMs });
    if (!status.ready) error = status.message ?? 'not ready';
  } catch (err) {
    error = (err as Error).message.split('\n')[0].slice(0, 300);
  }
  // A driver that updates beside the old version (local, Cloud Run) leaves that one serving when the new one fails:
  // the environment then shows what really runs.
  let kept: EnvironmentRelease | undefined;
  if (error && direction === 'forward' && target.previousImage) {
    const now = await driver.status(envRef(tenant, env)).catch(() => undefined);
    if (now?.ready && now.image === target.previousImage) kept = { name: target.previousRelease ?? null, image: target.previousImage };
  }
  const outcome: UpdateOutcome = error ? 'failed' : direction === 'forward' ? 'healthy' : 'rolled_back';
  await finish(
    deps,
    rollout,
    tenant,
    { ...target, status: outcome as TargetDoc['status'], error, claim: null },
    holder,
    {
      name: releaseName,
      image,
    },
    kept,
  );
  if (error) await event('environment_failed', `${tenant.id} ${env}: ${error}`, { image });
  else
    await event(direction === 'forward' ? 'environment_updated' : 'environment_rolled_back', `${tenant.id} ${env} runs ${image}.`, {
      image,
    });
  await recordEvent(
    deps.db,
    tenant.id,
    {
      type: error ? 'release_failed' : 'release_deployed',
      env,
      message: error
        ? `${env}: ${releaseName ?? image} did not come up healthy.`
        : `${env} runs ${releaseName ? `release ${releaseName}` : image}.`,
      data: { rollout: rollout.id, release: releaseName, image },
    },
    deps.now,
  );
  // The audit trail names rollouts as the path of this change, with the admin who started the rollout (R-AUDIT-1).
  await recordAudit(
    deps.db,
    {
      actorId: 'system:rollout',
      actorEmail: rollout.createdBy.includes('@') ? rollout.createdBy : undefined,
      actorRole: 'admin',
      source: 'rollout',
      action: direction === 'forward' ? 'ROLLOUT_ENVIRONMENT' : 'ROLL_BACK_ENVIRONMENT',
      target: { type: 'tenant', id: tenant.id },
      ownerId: tenant.ownerId,
      requestId: `${rollout.id}/${key}/${direction}`,
      outcome: error ? { status: 503, code: 'not_ready' } : { status: 200 },
    },
    deps.now(),
    deps.config.audit.retentionDays,
  ).catch((err: unknown) => deps.log.warn('audit entry not written', { err, rollout: rollout.id, key }));
  return outcome;
}

async function claim(
  deps: Deps,
  rollout: RolloutDoc,
  key: string,
  direction: 'forward' | 'back',
  holder: string,
): Promise<Claimed | UpdateOutcome> {
  const { db } = deps;
  return db.runTransaction(async (tx) => {
    const target = await getTarget(db, rollout.id, key, tx);
    if (!target) return 'done';
    const now = deps.now();
    const claimLive = target.claim && target.claim.until > now.toISOString();
    const open =
      direction === 'forward'
        ? target.status === 'pending' || (target.status === 'updating' && !claimLive)
        : ((target.status === 'healthy' || target.status === 'failed') && !!target.previousImage) ||
          (target.status === 'updating' && !claimLive && !!target.previousImage);
    if (!open) return 'done';
    const tenant = await getTenantDoc(db, target.tenantId, tx);
    const envSnap = await tx.get(db.doc(envPath(target.tenantId, target.env)));
    if (!tenant || tenant.state === 'deleted' || tenant.state === 'deleting' || !envSnap.exists) {
      setTarget(db, tx, rollout.id, {
        ...target,
        status: 'skipped',
        error: 'the tenant or environment is gone',
        updatedAt: now.toISOString(),
      });
      return 'skipped';
    }
    const leased = tenant.lease && tenant.lease.until > now.toISOString() && !tenant.lease.holder.startsWith(`rollout:${rollout.id}:`);
    if (tenant.state !== 'ready' || tenant.operation || leased) return 'busy';
    const record = envSnap.data() as EnvironmentRecord & { release?: EnvironmentRelease | null };
    const until = new Date(now.getTime() + holdMs(deps)).toISOString();
    const claimed: TargetDoc = {
      ...target,
      status: 'updating',
      claim: { holder, until },
      // Only the first claim records what ran before: a takeover after a crash must not record the new image as the old.
      previousImage: target.previousImage ?? record.image,
      previousRelease: target.previousRelease !== undefined ? target.previousRelease : (record.release?.name ?? null),
      updatedAt: now.toISOString(),
    };
    setTarget(db, tx, rollout.id, claimed);
    tx.update(db.doc(tenantPath(tenant.id)), { lease: { holder, until } });
    return { tenant, target: claimed };
  });
}

/** Records the result on the target, the environment (image and release) and, once its last environment moved, the tenant's image. */
async function finish(
  deps: Deps,
  rollout: RolloutDoc,
  tenant: TenantDoc,
  target: TargetDoc,
  holder: string,
  release: EnvironmentRelease,
  kept?: EnvironmentRelease,
) {
  const { db } = deps;
  await db.runTransaction(async (tx) => {
    const current = await getTenantDoc(db, tenant.id, tx);
    const stored = await getTarget(db, rollout.id, targetKey(target.tenantId, target.env), tx);
    if (stored?.claim?.holder !== holder) return; // taken over after our claim expired; the new holder records its result
    const now = deps.now().toISOString();
    setTarget(db, tx, rollout.id, { ...target, updatedAt: now });
    // A failed environment shows the error and no release; a healthy one its release, as the owner's pages and the API show it.
    const failed = target.status === 'failed';
    // Failed but still serving its previous release: ready on that one, with the failure noted.
    const runs = failed && kept ? kept : release;
    tx.set(
      db.doc(envPath(tenant.id, target.env)),
      {
        image: runs.image,
        release: failed && !kept ? null : runs,
        status: failed && !kept ? 'failed' : 'ready',
        error: failed ? { code: 'release_unhealthy', message: target.error ?? 'not healthy' } : null,
        updatedAt: now,
      },
      { merge: true },
    );
    if (!current) return;
    const last = [...ENV_ORDER].reverse().find((e) => current.environments.includes(e));
    const changes: Record<string, unknown> = {};
    if (current.lease?.holder === holder) changes.lease = null;
    if (target.status !== 'failed' && last === (target.env as EnvName)) changes.image = release.image;
    if (Object.keys(changes).length) tx.update(db.doc(tenantPath(tenant.id)), changes);
  });
}
