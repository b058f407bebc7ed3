/**
 * Owner exports (issue 21, offboarding): an environment's data, or the whole
 * tenant's, as one `.tar.gz` — per environment `<env>/database.sql` (a plain
 * SQL dump) and `<env>/bucket/<object>` — made by the provision worker and
 * downloaded through the API under the tenant's own authorization (no signed
 * URL). The worker builds the archive in a temporary folder and uploads it
 * to the platform's exports bucket (the resources driver's `archives`,
 * shared/resources/archives.ts), where the api, another instance with its
 * own disk, streams it from; the bucket's lifecycle deletes it after
 * EXPORT_RETENTION_DAYS. Records at `tenants/{id}/exports/{exportId}` (this
 * module names that collection). Both go when the tenant's data is purged.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Transaction } from '@google-cloud/firestore';
import { authorizeHidden } from '../auth/authorize.ts';
import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { AppError, notFound } from '../errors.ts';
import { getTenantDoc, tenantPath, type TenantDoc } from '../store/tenants.ts';
import { startOperation } from './operations.ts';
import { isTenantId, type EnvName, type Tenant } from './types.ts';
import { event, type StepContext } from './worker-env.ts';
import { stripUndefined } from '../store/plain.ts';

export interface ExportRecord {
  id: string;
  /** The environment exported; null: every environment of the tenant. */
  env: EnvName | null;
  status: 'pending' | 'done' | 'failed';
  createdAt: string;
  sizeBytes?: number;
  files?: number;
  /** When the archive stops being kept (its upload plus EXPORT_RETENTION_DAYS); set once it is done. */
  expiresAt?: string;
}

const exportPath = (tenantId: string, exportId: string) => `${tenantPath(tenantId)}/exports/${exportId}`;
const EXPORT_ID = /^x\d{14}-[0-9a-f]{4}$/;

const gone = (exportId: string) => new AppError('gone', `The archive of export ${exportId} is no longer kept; export again.`);

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
      if (!driver.exportData || !driver.archives)
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
        extra: (tx: Transaction) => tx.create(deps.db.doc(exportPath(id, created.id)), stripUndefined(created)),
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
    /**
     * The finished archive to send, streamed from the exports bucket, with a file name; 404 for an unknown
     * export, 409 while it is not ready, 410 once it is no longer kept (expired or purged).
     */
    async open(p: Principal, id: string, exportId: string): Promise<{ body: ReadableStream<Uint8Array>; name: string; sizeBytes: number }> {
      const tenant = await load(p, id, 'tenants.read');
      const found = await record(id, exportId);
      if (found.status !== 'done') throw new AppError('conflict', `Export ${exportId} is ${found.status}; download it once it is done.`);
      // The bucket's lifecycle may delete a day late; the owner was told expiresAt, so it holds from then on.
      if (found.expiresAt && Date.parse(found.expiresAt) <= deps.now().getTime()) throw gone(exportId);
      const archive = await deps
        .resources()
        .archives?.open(id, exportId)
        .catch((cause) => {
          // The bucket failing (not the archive missing): worth a retry, not a 500.
          throw new AppError('unavailable', `The archive store did not answer; try the download again.`, undefined, { cause }).withHeader(
            'Retry-After',
            '5',
          );
        });
      if (!archive) throw gone(exportId);
      return { body: archive.body, name: `${tenant.name}-${found.env ?? 'all'}-${exportId}.tar.gz`, sizeBytes: archive.sizeBytes };
    },
  };
}

/**
 * The worker's export: each environment's data into a temporary folder,
 * packed into the archive there, uploaded to the exports bucket, the record
 * marked done with when it expires; the temporary folder goes in every case.
 * A redelivery redoes it whole (the upload replaces the object), so it
 * converges; one that finds the record done changes nothing.
 */
export async function runExport(ctx: StepContext, exportId: string, env: EnvName | undefined): Promise<void> {
  const { deps, tenant } = ctx;
  const driver = deps.resources();
  const ref = deps.db.doc(exportPath(tenant.id, exportId));
  if ((await ref.get()).get('status') === 'done') return;
  const envs = env ? [env] : tenant.environments;
  const work = await mkdtemp(join(tmpdir(), 'tp-export-'));
  try {
    if (!driver.exportData || !driver.archives) throw new Error(`the ${driver.name} resources driver offers no data export`);
    const staging = join(work, 'staging');
    let files = 0;
    for (const e of envs) {
      await ctx.checkCurrent();
      const result = await driver.exportData({ tenantId: tenant.id, env: e }, join(staging, e));
      files += result.files;
      event(ctx, 'environment_exported', `${e}: database dump and ${result.files - 1} bucket objects exported.`, e);
    }
    const archive = join(work, `${exportId}.tar.gz`);
    const { create } = await import('tar');
    await create({ gzip: true, cwd: staging, file: archive, portable: true }, envs);
    await ctx.checkCurrent();
    const { sizeBytes } = await driver.archives.put(tenant.id, exportId, archive);
    const expiresAt = new Date(deps.now().getTime() + deps.config.resources.exportRetentionDays * 86_400_000).toISOString();
    await ref.set({ status: 'done', files, sizeBytes, expiresAt }, { merge: true });
  } catch (error) {
    await ref.set({ status: 'failed' }, { merge: true });
    throw error;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Purge: every export archive of the tenant, from the exports bucket. */
export async function removeExports(deps: Pick<Deps, 'resources'>, tenantId: string): Promise<void> {
  await deps.resources().archives?.removeAll(tenantId);
}
