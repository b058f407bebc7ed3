/**
 * The provision worker's data steps (issue 21): each environment gets what its
 * plan's blueprint names — a database (event `database_ready`) and a bucket
 * (`bucket_ready`) — before its workload starts, and their connection values
 * reach it as platform-managed secrets of that environment. Rotation gives the
 * role a new password, reset recreates the database from the seed, deletion
 * drops everything. Each call is idempotent at the driver; the steps are
 * recorded like every other.
 */
import { blueprintFor } from '../config/resources.ts';
import { createSecretStore } from '../secrets/store.ts';
import type { ResourceRef } from '../resources/types.ts';
import { tenantServiceAccountEmail } from '../gcp/names.ts';
import { listBackups } from './backups.ts';
import type { EnvName } from './types.ts';
import { event, mergeSoon, step, type StepContext } from './worker-env.ts';

/** Variables the platform sets for an environment's resources; a tenant cannot store secrets by these names. */
export const RESOURCE_KEYS = ['DATABASE_URL', 'BUCKET_NAME', 'STORAGE_EMULATOR_HOST', 'STORAGE_ACCESS_TOKEN'] as const;

const refOf = (ctx: StepContext, env: string): ResourceRef => ({ tenantId: ctx.tenant.id, env });
const secrets = (ctx: StepContext) => createSecretStore(ctx.deps.db, ctx.deps.config.secrets.key);
const blueprint = (ctx: StepContext) => blueprintFor(ctx.deps.config.resources, ctx.tenant.plan);

/**
 * Phase 1 of an environment's data: its database and bucket as the blueprint
 * says, each a recorded step. The two do not depend on each other and run at
 * once (step() keeps their records from overwriting each other); both finish,
 * even when one fails, before the error is passed on. A step's values are
 * stored as the environment's secrets in the same commit as its record and
 * event (mergeSoon), not in a commit of their own. Answers `values`, the
 * values stored, when every step ran in this call (none had been recorded done
 * before), so the caller need not read them back, and `stored`, which
 * resolves once they are committed.
 */
export async function provisionResources(
  ctx: StepContext,
  env: EnvName,
): Promise<{ values?: Record<string, string>; stored: Promise<unknown> }> {
  const driver = ctx.deps.resources();
  const plan = blueprint(ctx);
  const work: Promise<void>[] = [];
  const writes: Promise<void>[] = [];
  const values: Record<string, string> = {};
  let skipped = false;
  /**
   * One data step: `fn` makes the resource and answers its values, stored as
   * the environment's secrets, and its event, recorded with them.
   */
  const dataStep = (name: string, fn: () => Promise<{ values: Record<string, string>; announce: () => void }>) => {
    let ran = false;
    work.push(
      step(ctx, env, name, async () => {
        ran = true;
        const made = await fn();
        for (const { path, fields } of secrets(ctx).envDocs(ctx.tenant.id, env, made.values, ctx.deps.now()))
          writes.push(mergeSoon(ctx, path, fields));
        Object.assign(values, made.values);
        made.announce();
      }).then(() => {
        if (!ran) skipped = true;
      }),
    );
  };
  if (plan.database && driver.flags.database) {
    dataStep('database', async () => {
      const access = await driver.ensureDatabase(refOf(ctx, env), { seed: plan.database!.seed[env] });
      const message = `${env}: PostgreSQL database ${access.database} is ready, reachable only by its own role.`;
      return {
        values: { DATABASE_URL: access.url },
        announce: () => event(ctx, 'database_ready', message, env, { database: access.database, driver: driver.name }),
      };
    });
  }
  if (plan.bucket && driver.flags.bucket) {
    dataStep('bucket', async () => {
      const serviceAccount = tenantServiceAccountEmail(ctx.deps.config.projectId, ctx.tenant.id);
      const bucket = await driver.ensureBucket(refOf(ctx, env), { deleteAfterDays: plan.bucket!.deleteAfterDays, serviceAccount });
      const message = `${env}: bucket ${bucket.name} is ready, open to this environment only.`;
      return {
        values: bucket.vars,
        announce: () => event(ctx, 'bucket_ready', message, env, { bucket: bucket.name, driver: driver.name }),
      };
    });
  }
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const stored = Promise.all(writes);
  // A failed write also fails the operation (settleWrites); `stored` only tells when they landed.
  stored.catch(() => undefined);
  return { values: skipped ? undefined : values, stored };
}

/** A new password for the environment's role (the old one stops working at once), stored for the restart that follows. */
export async function rotateDatabase(ctx: StepContext, env: EnvName): Promise<void> {
  const driver = ctx.deps.resources();
  if (!blueprint(ctx).database || !driver.flags.database) return;
  const current = await secrets(ctx).envValues(ctx.tenant.id, env);
  if (!current.DATABASE_URL) return;
  const access = await driver.rotateDatabasePassword(refOf(ctx, env));
  await secrets(ctx).putEnv(ctx.tenant.id, env, { DATABASE_URL: access.url }, ctx.deps.now());
}

/** Reset of demo/test: the database is dropped (the seed makes it anew) and the bucket emptied away. */
export async function wipeResources(ctx: StepContext, env: EnvName): Promise<void> {
  const driver = ctx.deps.resources();
  await driver.dropDatabase(refOf(ctx, env));
  if (driver.flags.bucket) await driver.removeBucket(refOf(ctx, env));
}

/** Tenant deletion: backups, database, role and bucket of every environment, and their stored values. */
export async function removeResources(ctx: StepContext, envs: string[]): Promise<void> {
  const driver = ctx.deps.resources();
  for (const backup of await listBackups(ctx.deps.db, ctx.tenant.id)) await driver.deleteBackup?.(refOf(ctx, backup.env), backup.id);
  for (const env of envs) {
    await driver.removeDatabase(refOf(ctx, env));
    if (driver.flags.bucket) await driver.removeBucket(refOf(ctx, env));
    await secrets(ctx).removeEnv(ctx.tenant.id, env);
  }
}
