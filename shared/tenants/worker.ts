/**
 * The provision worker: executes the operation recorded on a tenant, step by
 * step, when its Cloud Task arrives. Safe under at-least-once delivery: a
 * stale task (older generation) is acknowledged and ignored, a lease keeps two
 * deliveries from working at once, and completed steps are skipped.
 */
import { randomUUID } from 'node:crypto';
import type { DocumentSnapshot, Transaction } from '@google-cloud/firestore';
import type { Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import { DriverError } from '../runtime/types.ts';
import { ResourceError } from '../resources/types.ts';
import { createSecretStore, secretPath } from '../secrets/store.ts';
import { runKeyedTransaction } from '../store/transact.ts';
import { stripUndefined } from '../store/plain.ts';
import { appendEvent, envPath, getTenantDoc, listEnvironments, recordTenantWrite, tenantPath, type TenantDoc } from '../store/tenants.ts';
import { graceEndsAt, purgeTenantData } from './grace.ts';
import { releaseTenantSlot } from './entitlements.ts';
import { GENERATED_KEYS, generateCredentials, storeGenerated } from './credentials.ts';
import { PROVISION_QUEUE } from './operations.ts';
import { OPERATIONS, type OperationName, type OperationSpec } from './state-machine.ts';
import { ENV_NAMES, isTenantId, type EnvName, type EnvironmentRecord } from './types.ts';
import {
  announceReady,
  envRef,
  envSpec,
  event,
  failedWrite,
  knownSteps,
  provisionEnv,
  setEnv,
  settleWrites,
  step,
  type StepContext,
} from './worker-env.ts';
import { provisionIdentity } from './identity-step.ts';
import { rotateDatabase, wipeResources } from './resources-step.ts';
import { runBackup, runRestore } from './backups-step.ts';
import { addFailureMail, enqueueFailureMail, failureMailQueued, ownerAddress } from './failure-mail.ts';
import { runExport } from './exports.ts';

export class Superseded extends Error {}

export type Outcome = 'done' | 'stale' | 'failed';

export async function runOperation(
  deps: Deps,
  task: { tenantId: string; generation: number; op?: string },
  attempt: { retryCount: number },
): Promise<Outcome> {
  const { db } = deps;
  const holder = randomUUID();
  const leaseMs = deps.config.provision.leaseMs;
  const leased = await runKeyedTransaction(db, tenantPath(task.tenantId), async (tx) => {
    // One round trip reads the tenant, its environments' step records and, for a provision (the task says so), its generated secrets.
    const [t, envRecords, secrets] = isTenantId(task.tenantId)
      ? await readForLease(deps, tx, task.tenantId, task.op === 'provision')
      : [await getTenantDoc(db, task.tenantId, tx), undefined, undefined];
    if (!t || t.generation !== task.generation || !t.operation) return undefined;
    const now = deps.now();
    if (t.lease && t.lease.holder !== holder && t.lease.until > now.toISOString()) {
      throw new AppError('unavailable', 'Another delivery of this task is working on the tenant; retry later.');
    }
    const lease = { holder, until: new Date(now.getTime() + leaseMs).toISOString() };
    // A provision's first step rides on the lease's commit: one transaction instead of three.
    const started = t.operation.name === 'provision' ? await startProvision(deps, tx, t, now, secrets) : undefined;
    tx.update(db.doc(tenantPath(t.id)), started ? { lease, eventSeq: started.eventSeq } : { lease });
    return { tenant: started ? { ...t, eventSeq: started.eventSeq } : t, envRecords };
  });
  if (!leased) return 'stale';
  const { tenant, envRecords } = leased;
  // A step may outlast the lease (a slow health check, a cloud API); renew it while we work so no second delivery joins in.
  // One renewal at a time: on a slow emulator, renewals piling up only contend with each other.
  let renewing = false;
  const renewal = setInterval(() => {
    if (renewing) return;
    renewing = true;
    void renewLease(deps, tenant.id, holder, leaseMs)
      .catch((err: unknown) => deps.log.warn('lease renewal failed', { tenantId: tenant.id, err }))
      .finally(() => (renewing = false));
  }, leaseMs / 3);
  renewal.unref();
  const operation = tenant.operation!;
  const generation = watchGeneration(deps, tenant.id, task.generation);
  const ctx: StepContext = {
    deps,
    tenant,
    generation: task.generation,
    async checkCurrent() {
      if (!(await generation.isCurrent())) throw new Superseded();
    },
    holder,
  };
  envRecords?.forEach((snap, i) => knownSteps(ctx, ENV_NAMES[i], snap.exists ? (snap.data() as EnvironmentRecord) : undefined));
  const log = deps.log.child({ tenantId: tenant.id, operation: operation.name, generation: task.generation });
  try {
    await execute(ctx, operation.name, operation.env as EnvName | undefined, operation.image);
    log.info('operation done');
    return 'done';
  } catch (err) {
    if (err instanceof Superseded) return 'stale';
    const permanent = isPermanent(err) || attempt.retryCount + 1 >= deps.config.provision.maxAttempts;
    log.warn('operation step failed', { err, retryCount: attempt.retryCount, permanent });
    if (!permanent) throw new AppError('unavailable', `Step failed, will retry: ${(err as Error).message}`, undefined, { cause: err });
    // The events and records already started land before the failure's.
    await settleWrites(ctx).catch(() => undefined);
    await fail(ctx, operation.name, operation.env as EnvName | undefined, err as Error);
    return 'failed';
  } finally {
    clearInterval(renewal);
    await generation.stop();
    await settleWrites(ctx).catch(() => undefined);
    if (!leaseGivenBack.has(ctx)) await giveBackLease(deps, tenant.id, holder, log);
  }
}

/**
 * Clears the lease `holder` has on the tenant, trying again twice within about
 * three seconds: a lease left behind makes every later delivery of the task
 * wait until it lapses (`PROVISION_LEASE_MS`, two minutes by default), and the
 * failed delivery that most needs a retry is the one whose Firestore writes
 * are failing.
 */
async function giveBackLease(deps: Deps, tenantId: string, holder: string, log: Deps['log']): Promise<void> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await setOwnLease(deps, tenantId, holder, null);
      return;
    } catch (err) {
      if (attempt === 3 || Date.now() - started > 3000) {
        log.warn('lease not given back: the next delivery waits until it lapses', { err, attempts: attempt });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

/**
 * Whether the operation of `generation` is still the tenant's, as a listener
 * on the tenant document last saw it (issue 19: a read before every step cost
 * each step a round trip). Until the first snapshot the lease's own read holds;
 * if the listener fails, each check reads the document as before. The
 * emulator's listener can miss a change committed while it is being set up
 * (functions/api/routes/events.ts), so the document is read once more after
 * the first snapshot; a generation only grows, so any sign of a newer one is final.
 */
function watchGeneration(deps: Deps, tenantId: string, generation: number): { isCurrent(): Promise<boolean>; stop(): Promise<void> } {
  let seen: boolean | undefined = true;
  let first = true;
  let confirming: Promise<void> | undefined;
  const ours = (t: { generation?: number } | undefined) => t?.generation === generation;
  const unsubscribe = deps.db.doc(tenantPath(tenantId)).onSnapshot(
    (snap) => {
      if (seen) seen = snap.exists && ours(snap.data());
      if (!first) return;
      first = false;
      confirming = getTenantDoc(deps.db, tenantId).then(
        (t) => {
          if (seen) seen = ours(t);
        },
        () => undefined, // the listener still holds, and the operation's end checks the generation in its transaction
      );
    },
    (err) => {
      deps.log.warn('tenant listener failed; reading the tenant before each step instead', { tenantId, err });
      seen = undefined;
    },
  );
  return {
    async isCurrent() {
      if (seen !== undefined) return seen;
      const current = await getTenantDoc(deps.db, tenantId);
      return current?.generation === generation;
    },
    /** Stops listening; resolves once the read after the first snapshot ended, so the delivery ends with its reads. */
    async stop() {
      unsubscribe();
      await confirming;
    },
  };
}

/** Extends the lease while `holder` still has it. */
function renewLease(deps: Deps, tenantId: string, holder: string, leaseMs: number): Promise<void> {
  return setOwnLease(deps, tenantId, holder, { holder, until: new Date(deps.now().getTime() + leaseMs).toISOString() });
}

/** Sets the tenant's lease to `lease` (null: none) if `holder` still has it; another holder's lease is left alone. */
async function setOwnLease(deps: Deps, tenantId: string, holder: string, lease: { holder: string; until: string } | null): Promise<void> {
  await runKeyedTransaction(deps.db, tenantPath(tenantId), async (tx) => {
    const t = await getTenantDoc(deps.db, tenantId, tx);
    if (t?.lease?.holder === holder) tx.update(deps.db.doc(tenantPath(tenantId)), { lease });
  });
}

function isPermanent(err: unknown): boolean {
  if (err instanceof DriverError || err instanceof ResourceError) return err.code === 'not_configured' || err.code === 'not_supported';
  return err instanceof AppError && err.status < 500;
}

async function execute(ctx: StepContext, op: OperationName, env: EnvName | undefined, image: string | undefined): Promise<void> {
  const { tenant } = ctx;
  const driver = ctx.deps.runtime(tenant.driver);
  const envs = tenant.environments;
  switch (op) {
    case 'provision': {
      // provisioning_started and the generated credentials were written with the lease (startProvision).
      await provisionIdentity(ctx);
      const urls = await eachEnv(envs, (e) => provisionEnv(ctx, e));
      return finish(ctx, 'provision', 'Every environment is ready.', { urls: Object.fromEntries(envs.map((e, i) => [e, urls[i]])) });
    }
    case 'suspend':
      await eachEnv(envs, (e) =>
        step(ctx, e, 'suspend', async () => {
          await driver.suspend(envRef(tenant, e));
          event(ctx, 'environment_suspended', `${e} scaled to zero; its data is kept.`, e);
          return { status: 'suspended' };
        }),
      );
      return finish(ctx, 'suspend', 'Suspended: every environment is scaled to zero.');
    case 'resume':
      await eachEnv(envs, (e) =>
        step(ctx, e, 'resume', async () => {
          await driver.resume(envRef(tenant, e));
          return { status: 'ready', url: await announceReady(ctx, e) };
        }),
      );
      return finish(ctx, 'resume', 'Resumed: every environment answers again.');
    case 'restart':
    case 'rotate':
    case 'deploy': {
      const newImage = op === 'deploy' ? image! : tenant.image;
      await eachEnv(envs, (e) =>
        step(ctx, e, op, async () => {
          if (op === 'rotate') await rotateDatabase(ctx, e);
          event(ctx, 'deploy_started', `${e}: ${op === 'deploy' ? `deploying ${newImage}` : 'restarting'}.`, e, { image: newImage });
          // A deploy of the current spec restarts with fresh secrets and memory, on every driver.
          await driver.deploy(await envSpec(ctx, e, newImage));
          return { status: 'ready', url: await announceReady(ctx, e), image: newImage };
        }),
      );
      return finish(
        ctx,
        op,
        op === 'deploy' ? `Deployed ${newImage}.` : 'Every environment restarted.',
        op === 'deploy' ? { image: newImage } : {},
      );
    }
    case 'reset': {
      await step(ctx, env!, 'destroy', async () => {
        await driver.destroy(envRef(tenant, env!));
        await wipeResources(ctx, env!);
        event(ctx, 'environment_destroyed', `${env}: removed with its data.`, env);
        return { status: 'provisioning' };
      });
      const url = await provisionEnv(ctx, env!);
      return finish(ctx, 'reset', `${env} was reset.`, { urls: { ...tenant.urls, [env!]: url } });
    }
    case 'backup': {
      const base = tenant.operation!.backupId!;
      await runBackup(ctx, base, env);
      return finish(ctx, 'backup', `Backup ${base} is stored.`);
    }
    case 'restore': {
      const backupId = tenant.operation!.backupId!;
      await runRestore(ctx, backupId, env!);
      return finish(ctx, 'restore', `${env} was restored from backup ${backupId}.`);
    }
    case 'export': {
      const exportId = tenant.operation!.backupId!;
      await runExport(ctx, exportId, env);
      return finish(ctx, 'export', `Export ${exportId} is ready to download.`);
    }
    case 'delete':
      return remove(ctx);
    case 'undelete': {
      // The kept databases and buckets are found again (ensure* converge); every environment starts on them.
      event(ctx, 'provisioning_started', `Restoring ${envs.join(', ')} on ${driver.name} with the data kept since the deletion.`);
      await provisionIdentity(ctx);
      const urls = await eachEnv(envs, (e) => provisionEnv(ctx, e));
      return finish(ctx, 'undelete', 'Restored: every environment runs again on its kept data.', {
        urls: Object.fromEntries(envs.map((e, i) => [e, urls[i]])),
      });
    }
    default:
      throw new AppError('invalid_request', `Unknown operation ${op}.`);
  }
}

/**
 * Runs `fn` for every environment at once and waits for all of them, even after
 * one failed or was superseded: the lease is given back only when no step of
 * this delivery is still in flight, so a deletion that takes over next never
 * races a deploy that would start a process after it.
 */
async function eachEnv<T>(envs: EnvName[], fn: (env: EnvName) => Promise<T>): Promise<T[]> {
  const results = await Promise.allSettled(envs.map(fn));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * Inside the lease's transaction (which has read the tenant, no write yet):
 * records `provisioning_started` and, the first time only, generates and
 * stores the tenant's credentials with `secrets_stored` (rotation replaces
 * them at request time). Returns the new event counter for the caller's update.
 */
async function startProvision(
  deps: Deps,
  tx: Transaction,
  t: TenantDoc,
  now: Date,
  read?: DocumentSnapshot[],
): Promise<{ eventSeq: number }> {
  const { db, config } = deps;
  const stored = read ?? (await tx.getAll(...generatedRefs(deps, t.id)));
  const needsSecrets = stored.some((snap) => !snap.exists || snap.get('origin') !== 'generated');
  const driver = deps.runtime(t.driver);
  let eventSeq = appendEvent(
    db,
    tx,
    t,
    { type: 'provisioning_started', message: `Provisioning ${t.environments.join(', ')} on ${driver.name}.` },
    now,
  );
  if (needsSecrets) {
    storeGenerated(createSecretStore(db, config.secrets.key), t.id, generateCredentials(t.id), now, tx);
    eventSeq = appendEvent(
      db,
      tx,
      { id: t.id, eventSeq },
      { type: 'secrets_stored', message: `Generated ${GENERATED_KEYS.join(', ')} (values are never shown in events).` },
      now,
    );
  }
  return { eventSeq };
}

/**
 * The generated secrets by their paths, not by a query: the emulator locks a
 * query's whole range, and a burst of launches then timed out on each other's locks.
 */
const generatedRefs = (deps: Deps, tenantId: string) => GENERATED_KEYS.map((key) => deps.db.doc(secretPath(tenantId, key)));

/**
 * In the lease's transaction, in one read (reads precede a transaction's
 * writes): the tenant, the record of each environment it may have (ENV_NAMES,
 * in that order), and with `secrets` its generated secrets.
 */
async function readForLease(
  deps: Deps,
  tx: Transaction,
  tenantId: string,
  secrets: boolean,
): Promise<[TenantDoc | undefined, DocumentSnapshot[], DocumentSnapshot[] | undefined]> {
  const envRefs = ENV_NAMES.map((env) => deps.db.doc(envPath(tenantId, env)));
  const [tenant, ...rest] = await tx.getAll(
    deps.db.doc(tenantPath(tenantId)),
    ...envRefs,
    ...(secrets ? generatedRefs(deps, tenantId) : []),
  );
  return [
    tenant.exists ? (tenant.data() as TenantDoc) : undefined,
    rest.slice(0, envRefs.length),
    secrets ? rest.slice(envRefs.length) : undefined,
  ];
}

/**
 * Ends the operation as the state machine says: the new state, an event, and
 * the operation cleared, only if it is still ours. Every event and step record
 * of the operation is stored before, or in the same commit as, its end: the
 * end is the last of the tenant's grouped writes (issue 19: waiting for them,
 * then a transaction of its own, cost a launch two round trips). A deletion,
 * which also gives the owner's plan slot back, reads that count in a
 * transaction of its own.
 */
async function finish(ctx: StepContext, op: OperationName, message: string, changes: Partial<TenantDoc> = {}): Promise<void> {
  const { db, now } = ctx.deps;
  const { state, event: type } = OPERATIONS[op].done;
  const closing = (t: TenantDoc) => {
    const urls = { ...t.urls, ...(changes.urls ?? {}) };
    // The lease goes back with the same commit (a transaction of its own after it cost every operation two round trips).
    const lease = ctx.holder && t.lease?.holder === ctx.holder ? { lease: null } : {};
    return stripUndefined({ ...changes, ...lease, urls, state, operation: null, error: null, updatedAt: now().toISOString() });
  };
  if (state === 'deleted') {
    await settleWrites(ctx);
    await runKeyedTransaction(db, tenantPath(ctx.tenant.id), async (tx) => {
      const t = await getTenantDoc(db, ctx.tenant.id, tx);
      if (!t || t.generation !== ctx.generation) throw new Superseded();
      const releaseSlot = t.state !== 'deleted' ? await releaseTenantSlot(db, tx, t) : undefined;
      const eventSeq = appendEvent(db, tx, t, { type, message }, now());
      releaseSlot?.();
      tx.update(db.doc(tenantPath(t.id)), { ...closing(t), eventSeq });
    });
  } else {
    await recordTenantWrite(db, ctx.tenant.id, {
      close: (t) => {
        if (!t || t.generation !== ctx.generation) return new Superseded();
        // An earlier write of this delivery failed: the operation fails instead of ending with a gap in its record.
        return failedWrite(ctx) ?? { event: { type, message }, now: now(), fields: closing(t) };
      },
    });
    await settleWrites(ctx);
  }
  leaseGivenBack.add(ctx);
}

/** Deliveries whose finishing transaction already gave the lease back. */
const leaseGivenBack = new WeakSet<StepContext>();

async function fail(ctx: StepContext, op: OperationName, env: EnvName | undefined, err: Error): Promise<void> {
  const { db, now } = ctx.deps;
  const error = {
    code: err instanceof DriverError || err instanceof ResourceError ? `driver_${err.code}` : 'operation_failed',
    message: err.message.slice(0, 500),
  };
  for (const e of env ? [env] : ctx.tenant.environments) await setEnv(ctx, e, { status: 'failed', error });
  // The owner hears of it once per failed operation (its generation names the failure); a deletion is not an environment failing.
  const failure = { env: env ?? ctx.tenant.environments.join(', '), what: op, reason: error.message, key: `operation-${ctx.generation}` };
  const to = op === 'delete' ? undefined : await ownerAddress(ctx.deps, ctx.tenant);
  const mailId = await runKeyedTransaction(db, tenantPath(ctx.tenant.id), async (tx) => {
    const t = await getTenantDoc(db, ctx.tenant.id, tx);
    if (!t || t.generation !== ctx.generation) return undefined;
    const mailed = to ? await failureMailQueued(db, tx, t.id, failure) : true;
    const failed: OperationSpec['failed'] = OPERATIONS[op].failed;
    const eventSeq = appendEvent(
      db,
      tx,
      t,
      { type: failed.event, message: `${op} failed: ${error.message}`, env, data: { code: error.code } },
      now(),
    );
    const state = failed.state ?? t.state;
    tx.update(db.doc(tenantPath(t.id)), { state, eventSeq, operation: null, error, updatedAt: now().toISOString() });
    return mailed ? undefined : addFailureMail(ctx.deps, tx, t, to, failure, now());
  });
  await enqueueFailureMail(ctx.deps, mailId);
}

/**
 * Stops every environment. With a grace period (grace.ts) the databases,
 * buckets, backups, stored values and name are kept until `restorableUntil`;
 * without one they go now. The tenant document stays as a `deleted` tombstone
 * with its event log.
 */
async function remove(ctx: StepContext): Promise<void> {
  const { db, queue } = ctx.deps;
  const { tenant } = ctx;
  const driver = ctx.deps.runtime(tenant.driver);
  const envs = new Set<string>([...tenant.environments, ...(await listEnvironments(db, tenant.id)).map((e) => e.env)]);
  await Promise.all([...envs].map((e) => driver.destroy(envRef(tenant, e))));
  event(ctx, 'resources_removed', `Removed ${[...envs].join(', ')} from ${driver.name}.`);
  for (const name of tenant.tasks ?? []) await queue.deleteTask(PROVISION_QUEUE, name).catch(() => undefined);
  const keptUntil = graceEndsAt(ctx.deps, ctx.deps.now());
  if (keptUntil) {
    for (const e of tenant.environments) await setEnv(ctx, e, { status: 'suspended', url: null as never });
    event(
      ctx,
      'data_kept',
      `Databases, buckets and backups are kept until ${keptUntil}: restore the tenant before then to get them back.`,
      undefined,
      {
        restorableUntil: keptUntil,
      },
    );
    return finish(ctx, 'delete', `The tenant is deleted; its data is kept until ${keptUntil}.`, {
      urls: {} as TenantDoc['urls'],
      restorableUntil: keptUntil,
    });
  }
  await purgeTenantData(ctx.deps, tenant);
  await finish(ctx, 'delete', 'The tenant and everything it owned are deleted.', { urls: {} as TenantDoc['urls'] });
}
