/**
 * Owner exports (issue 21, offboarding): an environment's data, or the whole
 * tenant's, as one `.tar.gz` — per environment `<env>/database.sql` (a plain
 * SQL dump) and `<env>/bucket/<object>` — made by the provision worker and
 * downloaded through the API under the tenant's own authorization (no signed
 * URL). Locally the archive lives at `<DATA_DIR>/exports/<tenant>/<id>.tar.gz`;
 * records at `tenants/{id}/exports/{exportId}` (this module names that
 * collection). Both go when the tenant's data is purged.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Transaction } from '@google-cloud/firestore';
import { authorizeHidden } from '../auth/authorize.ts';
import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { AppError, notFound } from '../errors.ts';
import { getTenantDoc, tenantPath, type TenantDoc } from '../store/tenants.ts';
import { startOperation } from './operations.ts';
import { isTenantId, type EnvName, type Tenant } from './types.ts';
import { event, type StepContext } from './worker-env.ts';

export interface ExportRecord {
  id: string;
  /** The environment exported; null: every environment of the tenant. */
  env: EnvName | null;
  status: 'pending' | 'done' | 'failed';
  createdAt: string;
  sizeBytes?: number;
  files?: number;
}

const exportPath = (tenantId: string, exportId: string) => `${tenantPath(tenantId)}/exports/${exportId}`;
const EXPORT_ID = /^x\d{14}-[0-9a-f]{4}$/;

/** The folder of a tenant's export archives. */
export const exportsDirOf = (deps: Pick<Deps, 'config'>, tenantId: string) => resolve(deps.config.runtime.dataDir, 'exports', tenantId);
const archiveOf = (deps: Pick<Deps, 'config'>, tenantId: string, exportId: string) =>
  join(exportsDirOf(deps, tenantId), `${exportId}.tar.gz`);

export function createExportsService(deps: Deps) {
  const ctx = deps;
  async function load(p: Principal, id: string, action: 'tenants.read' | 'tenants.operate'): Promise<TenantDoc> {
    const tenant = isTenantId(id) ? await getTenantDoc(deps.db, id) : undefined;
    if (!tenant || tenant.state === 'deleted') throw notFound(`Tenant ${id}`);
    authorizeHidden(p, action, tenant, `Tenant ${id}`);
    return tenant;
  }
  async function record(tenantId: string, exportId: string): Promise<ExportRecord> {
    const snap = EXPORT_ID.test(exportId) ? await deps.db.doc(exportPath(tenantId, exportId)).get() : undefined;
    if (!snap?.exists) throw notFound(`Export ${exportId}`);
    return snap.data() as ExportRecord;
  }

  return {
    /** Starts an export of `env` (or of every environment); 501 where the resources driver offers none. */
    async create(p: Principal, id: string, input: { env?: unknown } = {}): Promise<{ tenant: Tenant; export: ExportRecord }> {
      const tenant = await load(p, id, 'tenants.operate');
      const driver = deps.resources();
      if (!driver.exportData)
        throw new AppError('not_supported', `The ${driver.name} resources driver offers no data export.`, {
          driver: driver.name,
          capability: 'export',
        });
      if (input.env !== undefined && !tenant.environments.includes(input.env as EnvName))
        throw new AppError('validation_failed', `env must be one of ${tenant.environments.join(', ')}.`, { field: 'env' });
      const now = deps.now();
      const created: ExportRecord = {
        id: `x${now.toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(2).toString('hex')}`,
        env: (input.env as EnvName | undefined) ?? null,
        status: 'pending',
        createdAt: now.toISOString(),
      };
      const updated = await startOperation(ctx, p, id, 'tenants.operate', 'export', {
        env: input.env as EnvName | undefined,
        backupId: created.id,
        message: `Exporting the data of ${created.env ?? tenant.environments.join(', ')}.`,
        extra: (tx: Transaction) => tx.create(deps.db.doc(exportPath(id, created.id)), JSON.parse(JSON.stringify(created))),
      });
      // Another export while one runs is a 409 (its id differs), like any second operation.
      return { tenant: updated, export: created };
    },
    async list(p: Principal, id: string): Promise<ExportRecord[]> {
      await load(p, id, 'tenants.read');
      const snap = await deps.db
        .collection(`${tenantPath(id)}/exports`)
        .orderBy('createdAt', 'desc')
        .get();
      return snap.docs.map((d) => d.data() as ExportRecord);
    },
    /** The finished archive to send, with a file name; 404 for an unknown export, 409 while it is not ready. */
    async open(p: Principal, id: string, exportId: string): Promise<{ file: string; name: string; sizeBytes: number }> {
      const tenant = await load(p, id, 'tenants.read');
      const found = await record(id, exportId);
      if (found.status !== 'done') throw new AppError('conflict', `Export ${exportId} is ${found.status}; download it once it is done.`);
      const file = archiveOf(deps, id, exportId);
      if (!existsSync(file)) throw new AppError('gone', `The archive of export ${exportId} is no longer kept; export again.`);
      return { file, name: `${tenant.name}-${found.env ?? 'all'}-${exportId}.tar.gz`, sizeBytes: statSync(file).size };
    },
  };
}

/**
 * The worker's export: each environment's data into a staging folder, packed
 * into the archive, the record marked done. A redelivery redoes it whole (the
 * archive is written under a temporary name and renamed), so it converges.
 */
export async function runExport(ctx: StepContext, exportId: string, env: EnvName | undefined): Promise<void> {
  const { deps, tenant } = ctx;
  const driver = deps.resources();
  const ref = deps.db.doc(exportPath(tenant.id, exportId));
  const archive = archiveOf(deps, tenant.id, exportId);
  const envs = env ? [env] : tenant.environments;
  try {
    if (!existsSync(archive)) {
      const staging = `${archive}.d`;
      rmSync(staging, { recursive: true, force: true });
      let files = 0;
      for (const e of envs) {
        await ctx.checkCurrent();
        const result = await driver.exportData!({ tenantId: tenant.id, env: e }, join(staging, e));
        files += result.files;
        await event(ctx, 'environment_exported', `${e}: database dump and ${result.files - 1} bucket objects exported.`, e);
      }
      mkdirSync(exportsDirOf(deps, tenant.id), { recursive: true, mode: 0o700 });
      const { create } = await import('tar');
      await create({ gzip: true, cwd: staging, file: `${archive}.partial`, portable: true }, envs);
      renameSync(`${archive}.partial`, archive);
      rmSync(staging, { recursive: true, force: true });
      await ref.set({ files }, { merge: true });
    }
    await ref.set({ status: 'done', sizeBytes: statSync(archive).size }, { merge: true });
  } catch (error) {
    await ref.set({ status: 'failed' }, { merge: true });
    throw error;
  }
}

/** Purge: every export archive of the tenant. */
export function removeExports(deps: Pick<Deps, 'config'>, tenantId: string): void {
  rmSync(exportsDirOf(deps, tenantId), { recursive: true, force: true });
}
