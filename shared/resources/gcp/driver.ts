/**
 * The Google Cloud resources driver: one database and one user per
 * environment on a shared Cloud SQL for PostgreSQL instance, made through the
 * Cloud SQL Admin API and then narrowed with SQL (users the API makes belong
 * to `cloudsqlsuperuser`, whose CREATEROLE would let them join other tenants'
 * roles: that membership is revoked); and a Cloud Storage bucket per
 * environment with uniform access, public access prevention, the tenant's own
 * service account as object admin and the blueprint's lifecycle rule.
 * Backups are instance exports into the platform's backups bucket (backups.ts).
 */
import { tenantServiceAccountEmail } from '../../gcp/names.ts';
import { createGoogleRest } from '../../gcp/rest.ts';
import { createExportArchives } from '../archives.ts';
import { deleteBucket, ensureBucket } from '../gcs.ts';
import { bucketName, databaseName, stagingDatabaseName } from '../names.ts';
import { createSeededDatabase, newPassword, quoteIdent as quote, urlFor, withClient } from '../sql.ts';
import { ResourceError, type DatabaseAccess, type ResourceDriver, type ResourceRef } from '../types.ts';
import { createGcpBackups } from './backups.ts';
import { createCloudSql, parseInstance } from './cloud-sql.ts';
import type { GcpResourcesOptions } from './options.ts';

export function createGcpResources(options: GcpResourcesOptions): ResourceDriver {
  for (const key of ['instance', 'adminUrl', 'projectId', 'location', 'bucketPrefix'] as const) {
    if (!options?.[key]) throw new ResourceError('gcp', 'not_configured', `gcp resources need options.${key}`);
  }
  const sql = createCloudSql(createGoogleRest(options.clientOptions), parseInstance(options.instance), options.pollMs ?? 1000);
  const storage = createGoogleRest(options.storageClientOptions ?? options.clientOptions);
  const backups = createGcpBackups({
    sql,
    storage,
    adminUrl: options.adminUrl,
    projectId: options.projectId,
    location: options.location,
    bucket: options.backupBucket ?? `${options.bucketPrefix}-backups`,
    bucketPrefix: options.bucketPrefix,
  });
  const admin = <T>(fn: Parameters<typeof withClient<T>>[1]) => withClient(options.adminUrl, fn);
  const access = (ref: ResourceRef, password: string): DatabaseAccess => {
    const name = databaseName(ref);
    return { database: name, role: name, url: urlFor(options.adminUrl, name, password, name, options.tenantHost) };
  };
  /** Sets the password through the API, then takes back what Cloud SQL gives every user it makes. */
  async function setUser(ref: ResourceRef, password: string): Promise<void> {
    const name = databaseName(ref);
    await sql.setUser(name, password);
    await admin(async (client) => {
      const member = await client.query(
        "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = 'cloudsqlsuperuser' AND u.rolname = $1",
        [name],
      );
      if (member.rowCount) await client.query(`REVOKE cloudsqlsuperuser FROM ${quote(name)}`);
      await client.query(`ALTER ROLE ${quote(name)} NOCREATEDB NOCREATEROLE CONNECTION LIMIT 50`);
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()', [name]);
    });
  }
  async function dropDatabase(ref: ResourceRef): Promise<void> {
    for (const db of [databaseName(ref), stagingDatabaseName(ref)]) {
      await admin((c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db]));
      await sql.deleteDatabase(db);
    }
  }
  return {
    name: 'gcp',
    flags: { database: true, bucket: true, backups: true },
    ...backups,
    archives: createExportArchives(storage, {
      project: options.projectId,
      bucketPrefix: options.bucketPrefix,
      location: options.location,
      retentionDays: options.exportRetentionDays ?? 7,
    }),
    async ensureDatabase(ref, { seed }) {
      const name = databaseName(ref);
      const password = newPassword();
      await setUser(ref, password);
      if (!(await sql.databaseExists(name))) {
        await admin((client) =>
          createSeededDatabase(client, ref, { serverUrl: options.adminUrl, password, seed }, async (staging, owner, setup) => {
            await sql.deleteDatabase(staging);
            await sql.createDatabase(staging);
            // The platform's user may hand the database over only to a role it belongs to.
            await client.query(`GRANT ${quote(owner)} TO CURRENT_USER`);
            await client.query(`ALTER DATABASE ${quote(staging)} OWNER TO ${quote(owner)}`);
            await client.query(setup);
          }),
        );
      }
      return access(ref, password);
    },
    async rotateDatabasePassword(ref) {
      if (!(await sql.userExists(databaseName(ref))))
        throw new ResourceError('gcp', 'failed', `the user of ${ref.tenantId}/${ref.env} does not exist; provision the environment first`);
      const password = newPassword();
      await setUser(ref, password);
      return access(ref, password);
    },
    dropDatabase,
    async removeDatabase(ref) {
      await dropDatabase(ref);
      await sql.deleteUser(databaseName(ref));
    },
    async ensureBucket(ref, { deleteAfterDays, serviceAccount }) {
      const name = bucketName(options.bucketPrefix, ref);
      const account = serviceAccount ?? tenantServiceAccountEmail(options.projectId, ref.tenantId);
      await ensureBucket(storage, {
        project: options.projectId,
        name,
        location: options.location,
        labels: { 'tenantplane-tenant-id': ref.tenantId, 'tenantplane-env': ref.env },
        deleteAfterDays,
        member: `serviceAccount:${account}`,
      });
      return { name, vars: { BUCKET_NAME: name } };
    },
    removeBucket: (ref) => deleteBucket(storage, bucketName(options.bucketPrefix, ref)),
  };
}
