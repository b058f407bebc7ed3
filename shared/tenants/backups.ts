/**
 * Backups of environment databases (issue 21, R-DATA-2): on demand through the
 * API and nightly through `/tasks/backups-nightly`, kept as long as the
 * plan's blueprint says, listed, and restored into the same environment or
 * from live into test. Restoring replaces data, so it needs `{"confirm": true}`.
 * Each backup is a record at `tenants/{id}/backups/{backupId}` (this module is
 * the only one that names that collection) made with the operation that fills it.
 */
import { recordSystemAudit } from '../audit/store.ts';
import { randomBytes } from 'node:crypto';
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { authorizeHidden } from '../auth/authorize.ts';
import type { Principal } from '../auth/principal.ts';
import { blueprintFor } from '../config/resources.ts';
import type { Deps } from '../deps.ts';
import { AppError, notFound } from '../errors.ts';
import { getTenantDoc, tenantPath, type TenantDoc } from '../store/tenants.ts';
import { startOperation } from './operations.ts';
import { isTenantId, type EnvName, type Tenant } from './types.ts';
import { stripUndefined } from '../store/plain.ts';

export interface BackupRecord {
  id: string;
  env: EnvName;
  kind: 'manual' | 'nightly';
  status: 'pending' | 'done' | 'failed';
  createdAt: string;
  expiresAt: string;
  sizeBytes?: number;
}

export const backupPath = (tenantId: string, backupId: string) => `${tenantPath(tenantId)}/backups/${backupId}`;
const backupsOf = (db: Firestore, tenantId: string) => db.collection(`${tenantPath(tenantId)}/backups`);

export async function listBackups(db: Firestore, tenantId: string): Promise<BackupRecord[]> {
  const snap = await backupsOf(db, tenantId).orderBy('createdAt', 'desc').get();
  return snap.docs.map((d) => d.data() as BackupRecord);
}

export async function setBackup(db: Firestore, tenantId: string, id: string, fields: Partial<BackupRecord>): Promise<void> {
  await db.doc(backupPath(tenantId, id)).set(stripUndefined(fields), { merge: true });
}

export async function deleteBackupRecord(db: Firestore, tenantId: string, id: string): Promise<void> {
  await db.doc(backupPath(tenantId, id)).delete();
}

/** The environment's backup made by the backup operation `base`: one per environment. */
export const backupIdOf = (base: string, env: string) => `${base}-${env}`;

/** The environments of a tenant that have a database to back up. */
const withDatabase = (deps: Deps, tenant: TenantDoc) =>
  blueprintFor(deps.config.resources, tenant.plan).database ? tenant.environments : [];

export function createBackupsService(deps: Deps) {
  const ctx = deps;
  const driver = () => deps.resources();
  async function load(p: Principal, id: string, action: 'tenants.read' | 'tenants.operate'): Promise<TenantDoc> {
    const tenant = isTenantId(id) ? await getTenantDoc(deps.db, id) : undefined;
    if (!tenant || tenant.state === 'deleted') throw notFound(`Tenant ${id}`);
    authorizeHidden(p, action, tenant, `Tenant ${id}`);
    return tenant;
  }
  const checkSupported = () => {
    if (!driver().flags.backups)
      throw new AppError('not_supported', `The ${driver().name} resources driver keeps no backups.`, {
        driver: driver().name,
        capability: 'backups',
      });
  };

  /** Starts a backup of `env` (or of every environment with a database), recording a pending backup for each. */
  async function create(
    p: Principal,
    id: string,
    input: { env?: unknown } = {},
    kind: BackupRecord['kind'] = 'manual',
  ): Promise<{ tenant: Tenant; backups: string[] }> {
    const tenant = await load(p, id, 'tenants.operate');
    checkSupported();
    const candidates = withDatabase(deps, tenant);
    if (input.env !== undefined && !candidates.includes(input.env as EnvName))
      throw new AppError('validation_failed', `env must be one of ${candidates.join(', ') || '(none: this plan has no database)'}.`, {
        field: 'env',
      });
    const envs = input.env === undefined ? candidates : [input.env as EnvName];
    if (envs.length === 0) throw new AppError('conflict', 'This tenant has no database to back up.');
    const now = deps.now();
    const base = `b${now.toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(2).toString('hex')}`;
    const days = blueprintFor(deps.config.resources, tenant.plan).backupRetentionDays;
    const updated = await startOperation(ctx, p, id, 'tenants.operate', 'backup', {
      env: input.env as EnvName | undefined,
      backupId: base,
      message: `Backing up ${envs.join(', ')}.`,
      extra: (tx: Transaction) => {
        for (const env of envs) {
          const record: BackupRecord = {
            id: backupIdOf(base, env),
            env,
            kind,
            status: 'pending',
            createdAt: now.toISOString(),
            expiresAt: new Date(now.getTime() + days * 86_400_000).toISOString(),
          };
          tx.create(deps.db.doc(backupPath(id, record.id)), record);
        }
      },
    });
    return { tenant: updated, backups: envs.map((env) => backupIdOf(base, env)) };
  }

  return {
    create,
    async list(p: Principal, id: string): Promise<BackupRecord[]> {
      await load(p, id, 'tenants.read');
      return listBackups(deps.db, id);
    },
    /** Restores a finished backup into its environment, or a live backup into test; `confirm: true` is required. */
    async restore(p: Principal, id: string, backupId: string, input: { env?: unknown; confirm?: unknown }): Promise<Tenant> {
      const tenant = await load(p, id, 'tenants.operate');
      checkSupported();
      const snap = /^[a-z0-9-]{1,64}$/.test(backupId) ? await deps.db.doc(backupPath(id, backupId)).get() : undefined;
      const backup = snap?.exists ? (snap.data() as BackupRecord) : undefined;
      if (!backup) throw notFound(`Backup ${backupId}`);
      if (backup.status !== 'done')
        throw new AppError('conflict', `Backup ${backupId} is ${backup.status}; only a finished backup can be restored.`);
      const target = (input.env ?? backup.env) as EnvName;
      if (target !== backup.env && !(backup.env === 'live' && target === 'test'))
        throw new AppError(
          'validation_failed',
          `A ${backup.env} backup restores into ${backup.env}${backup.env === 'live' ? ' or test' : ''}.`,
          { field: 'env' },
        );
      if (!tenant.environments.includes(target)) throw notFound(`Environment ${target} of tenant ${id}`);
      if (input.confirm !== true)
        throw new AppError(
          'validation_failed',
          `Restoring replaces every change in ${target} since the backup: send {"confirm": true} to go ahead.`,
          {
            field: 'confirm',
          },
        );
      return startOperation(ctx, p, id, 'tenants.operate', 'restore', {
        env: target,
        backupId,
        message: `Restoring ${target} from backup ${backupId}.`,
      });
    },
    /** Cloud Scheduler's nightly run: a backup of every ready tenant with a database that has no operation running. */
    async nightly(): Promise<{ started: number; skipped: number }> {
      if (!driver().flags.backups) return { started: 0, skipped: 0 };
      const system: Principal = { uid: 'system:backups', role: 'admin' };
      const snap = await deps.db.collection('tenants').where('state', '==', 'ready').get();
      let started = 0;
      let skipped = 0;
      for (const doc of snap.docs) {
        const tenant = doc.data() as TenantDoc;
        if (tenant.operation || withDatabase(deps, tenant).length === 0) {
          skipped += 1;
          continue;
        }
        const ok = await create(system, tenant.id, {}, 'nightly').then(
          () => true,
          (error: unknown) => {
            deps.log.warn('nightly backup not started', { tenantId: tenant.id, reason: (error as Error).message });
            return false;
          },
        );
        if (ok) started += 1;
        else skipped += 1;
        // The audit trail shows the platform's own changes too (R-AUDIT-1).
        if (ok) await recordSystemAudit(deps, 'backups', 'NIGHTLY_BACKUP', tenant, { status: 202 }, deps.config.audit.retentionDays);
      }
      return { started, skipped };
    },
  };
}

export type BackupsService = ReturnType<typeof createBackupsService>;
