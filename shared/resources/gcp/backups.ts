/**
 * Backups of environment databases on Cloud SQL: an instance export
 * (`instances.export`, fileType SQL, one database) into the platform's
 * backups bucket as `gs://<bucket>/<tenant>/<env>/<id>.sql`; a restore builds
 * the target's database under its staging name (made through the API, handed
 * to the target's own user), imports the file there as that user
 * (`instances.import` with `importUser`, so a dump's content never runs with
 * the platform's rights) and swaps it in, so a repeat after a crash converges
 * and later changes are gone. Listing and forgetting backups are the bucket's
 * objects under that prefix. On Google Cloud the instance's service account
 * needs roles/storage.objectAdmin on the backups bucket (granted once by the
 * operator, like the instance itself).
 * The owner's export reuses the same export: the SQL file goes to
 * `exports/<tenant>/<env>/<random>.sql` in the backups bucket, is downloaded
 * as `database.sql` and deleted; then every object of the environment's
 * bucket is downloaded under `bucket/`.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GoogleRest } from '../../gcp/rest.ts';
import { exportObjects } from '../local/export.ts';
import { ensureBucket } from '../gcs.ts';
import { bucketName, databaseName, stagingDatabaseName } from '../names.ts';
import { quoteIdent as quote, withClient } from '../sql.ts';
import { ResourceError, type ResourceRef } from '../types.ts';
import type { createCloudSql } from './cloud-sql.ts';

const enc = encodeURIComponent;
const status = (error: unknown) => (error as { httpStatus?: number }).httpStatus;

export function createGcpBackups(options: {
  sql: ReturnType<typeof createCloudSql>;
  storage: GoogleRest;
  adminUrl: string;
  projectId: string;
  location: string;
  bucket: string;
  /** Prefix of the environments' own buckets, for the owner's export. */
  bucketPrefix: string;
}) {
  const { sql, storage, bucket } = options;
  const admin = <T>(fn: Parameters<typeof withClient<T>>[1]) => withClient(options.adminUrl, fn);
  let ready: Promise<void> | undefined;
  /** The backups bucket, made once per process if missing (no lifecycle: retention is the backups service's pruning). */
  const ensureBackupBucket = () =>
    (ready ??= ensureBucket(storage, {
      project: options.projectId,
      name: bucket,
      location: options.location,
      labels: { 'tenantplane-purpose': 'backups' },
      deleteAfterDays: 0,
    }).catch((error) => {
      ready = undefined;
      throw error;
    }));
  const objectOf = (ref: ResourceRef, id: string) => {
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(id)) throw new ResourceError('gcp', 'failed', `not a backup id: ${JSON.stringify(id)}`);
    databaseName(ref); // checks the ref
    return `${ref.tenantId}/${ref.env}/${id}.sql`;
  };
  async function sizeOf(object: string): Promise<number | undefined> {
    try {
      const meta = await storage.call<{ size?: string }>('storage', 'GET', `storage/v1/b/${enc(bucket)}/o/${enc(object)}`);
      return Number(meta.size ?? 0);
    } catch (error) {
      if (status(error) === 404) return undefined;
      throw error;
    }
  }
  /** Cloud SQL's failures (a failed operation, an API error) as the driver's own. */
  const failed = (what: string) => (error: unknown) => {
    if (error instanceof ResourceError) throw error;
    throw new ResourceError('gcp', 'failed', `${what}: ${(error as Error).message}`, { cause: error });
  };

  return {
    async backupDatabase(ref: ResourceRef, id: string): Promise<{ sizeBytes: number }> {
      const object = objectOf(ref, id);
      const found = await sizeOf(object);
      if (found !== undefined) return { sizeBytes: found };
      await ensureBackupBucket();
      await sql.exportSql(databaseName(ref), `gs://${bucket}/${object}`).catch(failed(`backup ${id} of ${ref.tenantId}/${ref.env}`));
      const size = await sizeOf(object);
      if (size === undefined) throw new ResourceError('gcp', 'failed', `backup ${id} of ${ref.tenantId}/${ref.env} left no file`);
      return { sizeBytes: size };
    },
    async restoreDatabase(source: ResourceRef, id: string, target: ResourceRef): Promise<void> {
      const object = objectOf(source, id);
      if ((await sizeOf(object)) === undefined)
        throw new ResourceError('gcp', 'failed', `backup ${id} of ${source.tenantId}/${source.env} is missing`);
      const [name, staging] = [databaseName(target), stagingDatabaseName(target)];
      if (!(await sql.userExists(name)))
        throw new ResourceError('gcp', 'failed', `the user of ${target.tenantId}/${target.env} does not exist; provision it first`);
      const endSessions = (db: string) =>
        admin((c) =>
          c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db]),
        );
      const what = `restore of backup ${id} into ${target.tenantId}/${target.env}`;
      await endSessions(staging);
      await sql.deleteDatabase(staging).catch(failed(what));
      await sql.createDatabase(staging).catch(failed(what));
      await admin(async (client) => {
        // The platform's user may hand the database over only to a role it belongs to.
        await client.query(`GRANT ${quote(name)} TO CURRENT_USER`);
        await client.query(`ALTER DATABASE ${quote(staging)} OWNER TO ${quote(name)}`);
        await client.query(`REVOKE ALL ON DATABASE ${quote(staging)} FROM PUBLIC`);
        await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${quote(staging)} TO ${quote(name)}`);
      });
      await sql.importSql(staging, `gs://${bucket}/${object}`, name).catch(failed(what));
      await endSessions(name);
      await endSessions(staging);
      await sql.deleteDatabase(name).catch(failed(what));
      await admin((client) => client.query(`ALTER DATABASE ${quote(staging)} RENAME TO ${quote(name)}`));
    },
    async exportData(ref: ResourceRef, dir: string): Promise<{ files: number; bytes: number }> {
      const object = `exports/${ref.tenantId}/${ref.env}/${randomUUID()}.sql`;
      databaseName(ref); // checks the ref
      await ensureBackupBucket();
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      let bytes = 0;
      try {
        await sql.exportSql(databaseName(ref), `gs://${bucket}/${object}`).catch(failed(`export of ${ref.tenantId}/${ref.env}`));
        const dump = await storage.download('storage', `storage/v1/b/${enc(bucket)}/o/${enc(object)}?alt=media`);
        writeFileSync(join(dir, 'database.sql'), dump, { mode: 0o600 });
        bytes += dump.length;
      } finally {
        await storage.call('storage', 'DELETE', `storage/v1/b/${enc(bucket)}/o/${enc(object)}`).catch(() => undefined);
      }
      const own = bucketName(options.bucketPrefix, ref);
      const objects = await exportObjects(
        dir,
        async (pageToken) => {
          const q = new URLSearchParams(pageToken ? { pageToken } : {});
          try {
            return await storage.call('storage', 'GET', `storage/v1/b/${enc(own)}/o?${q}`);
          } catch (error) {
            if (status(error) === 404) return undefined; // an environment whose blueprint has no bucket
            throw error;
          }
        },
        (name) => storage.download('storage', `storage/v1/b/${enc(own)}/o/${enc(name)}?alt=media`),
      );
      return { files: 1 + objects.files, bytes: bytes + objects.bytes };
    },
    async deleteBackup(ref: ResourceRef, id: string): Promise<void> {
      await storage.call('storage', 'DELETE', `storage/v1/b/${enc(bucket)}/o/${enc(objectOf(ref, id))}`).catch((error) => {
        if (status(error) !== 404) throw error;
      });
    },
  };
}
