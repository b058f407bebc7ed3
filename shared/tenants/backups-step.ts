/**
 * The provision worker's backup and restore steps: each environment's dump is
 * a recorded step (a redelivered task finds the finished dump), expired backups
 * are pruned after a new one, and a restore swaps the database and restarts
 * the environment so its app reconnects to the restored data.
 */
import { backupIdOf, deleteBackupRecord, listBackups, setBackup, type BackupRecord } from './backups.ts';
import type { EnvName } from './types.ts';
import { announceReady, envSpec, event, step, type StepContext } from './worker-env.ts';
import { blueprintFor } from '../config/resources.ts';
import { getTenantDoc } from '../store/tenants.ts';

export async function runBackup(ctx: StepContext, base: string, env: EnvName | undefined): Promise<void> {
  const driver = ctx.deps.resources();
  const envs = env ? [env] : blueprintFor(ctx.deps.config.resources, ctx.tenant.plan).database ? ctx.tenant.environments : [];
  for (const e of envs) {
    const id = backupIdOf(base, e);
    await step(ctx, e, `backup:${id}`, async () => {
      try {
        const { sizeBytes } = await driver.backupDatabase!({ tenantId: ctx.tenant.id, env: e }, id);
        await setBackup(ctx.deps.db, ctx.tenant.id, id, { status: 'done', sizeBytes });
        event(ctx, 'backup_stored', `${e}: backup ${id} stored (${sizeBytes} bytes).`, e, { backupId: id, sizeBytes });
      } catch (error) {
        await setBackup(ctx.deps.db, ctx.tenant.id, id, { status: 'failed' });
        throw error;
      }
    });
  }
  await pruneExpired(ctx);
}

/** Backups past their retention go, dump and record. */
async function pruneExpired(ctx: StepContext): Promise<void> {
  const driver = ctx.deps.resources();
  const now = ctx.deps.now().toISOString();
  for (const backup of await listBackups(ctx.deps.db, ctx.tenant.id)) {
    if (backup.expiresAt > now) continue;
    await driver.deleteBackup?.({ tenantId: ctx.tenant.id, env: backup.env }, backup.id);
    await deleteBackupRecord(ctx.deps.db, ctx.tenant.id, backup.id);
  }
}

export async function runRestore(ctx: StepContext, backupId: string, target: EnvName): Promise<void> {
  const driver = ctx.deps.resources();
  const snap = await ctx.deps.db.doc(`tenants/${ctx.tenant.id}/backups/${backupId}`).get();
  const backup = snap.data() as BackupRecord | undefined;
  if (!backup) throw new Error(`backup ${backupId} is gone`);
  await step(ctx, target, `restore:${backupId}`, async () => {
    await driver.restoreDatabase!({ tenantId: ctx.tenant.id, env: backup.env }, backupId, { tenantId: ctx.tenant.id, env: target });
    event(ctx, 'database_restored', `${target}: database restored from backup ${backupId}.`, target, { backupId });
  });
  await step(ctx, target, 'restart', async () => {
    const tenant = (await getTenantDoc(ctx.deps.db, ctx.tenant.id)) ?? ctx.tenant;
    await ctx.deps.runtime(tenant.driver).deploy(await envSpec(ctx, target));
    return { status: 'ready', url: await announceReady(ctx, target) };
  });
}
