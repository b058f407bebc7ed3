/**
 * The local resources driver: each environment's database and role on a real
 * PostgreSQL server, and its bucket on the storage emulator, reached with a
 * token of its own that the bucket's IAM policy names as object admin. The
 * environment gets `DATABASE_URL`, `BUCKET_NAME`, `STORAGE_EMULATOR_HOST` (read
 * by `@google-cloud/storage`) and `STORAGE_ACCESS_TOKEN`.
 */
import { createHmac } from 'node:crypto';
import { createGoogleRest, type GoogleRest } from '../../gcp/rest.ts';
import { createExportArchives } from '../archives.ts';
import { deleteBucket, ensureBucket } from '../gcs.ts';
import { bucketName, databaseName } from '../names.ts';
import {
  createClientPool,
  dropTenantDatabase,
  dropTenantRole,
  ensureTenantDatabase,
  lockDownServer,
  rotatePassword,
  type withClient,
} from '../sql.ts';
import { ResourceError, type ResourceDriver, type ResourceRef } from '../types.ts';
import { createLocalBackups } from './backups.ts';
import { createLocalExport } from './export.ts';
import { createDatabasePool } from '../pool.ts';
import type { LocalResourcesOptions } from './options.ts';

/**
 * Connections to the server the driver keeps for its own statements; idle ones
 * close after a few seconds. In a burst of 100 creations, 8 made every
 * database wait for a connection: the median was ready 9 s after its bucket,
 * and about 1 s with 32 (2-core machine). The burst as a whole then gained
 * less, since both cores were busy anyway (interleaved runs: 16.7–20.5 s with
 * 32, 19.3–28.2 s with 8, on a machine whose load varied).
 */
const ADMIN_CONNECTIONS = 32;

export function createLocalResources(options: LocalResourcesOptions): ResourceDriver {
  for (const key of ['adminUrl', 'storageUrl', 'storageAdminToken', 'projectId', 'bucketPrefix'] as const) {
    if (!options?.[key]) throw new ResourceError('local', 'not_configured', `local resources need options.${key}`);
  }
  const storage = new URL(options.storageUrl);
  const rest: GoogleRest = createGoogleRest({
    apiEndpoint: storage.hostname,
    port: storage.port,
    protocol: storage.protocol.replace(':', ''),
    authClient: { getRequestHeaders: async () => ({ Authorization: `Bearer ${options.storageAdminToken}` }) },
  });
  let prepared: Promise<void> | undefined;
  const connections = createClientPool(options.adminUrl, ADMIN_CONNECTIONS);
  /** Runs `fn` as the platform on the server, after locking down its maintenance databases once per driver. */
  const admin = <T>(fn: Parameters<typeof withClient<T>>[1]) =>
    connections.use(async (client) => {
      prepared ??= lockDownServer(client).catch((error) => {
        prepared = undefined;
        throw error;
      });
      await prepared;
      return fn(client);
    });
  const server = { url: options.adminUrl };
  const member = (ref: ResourceRef) =>
    `serviceAccount:${databaseName(ref).replace(/_/g, '-')}@${options.projectId}.iam.gserviceaccount.com`;
  /**
   * The environment's token at the emulator, derived from the admin token so a
   * repeated step gets the same one without storing it anywhere but the environment's secrets.
   */
  const token = (ref: ResourceRef) =>
    createHmac('sha256', options.storageAdminToken).update(`${ref.tenantId}/${ref.env}`).digest('base64url');

  // Empty databases made ahead, so a launch renames one instead of waiting for CREATE DATABASE (pool.ts).
  const pool = createDatabasePool(options.adminUrl, options.databasePool ?? 0);
  pool.seedWith(options.seeds ?? []);

  const backups = options.backupDir ? createLocalBackups({ adminUrl: options.adminUrl, backupDir: options.backupDir }) : undefined;

  return {
    name: 'local',
    flags: { database: true, bucket: true, backups: backups !== undefined },
    ...backups,
    ...createLocalExport(options),
    archives: createExportArchives(rest, {
      project: options.projectId,
      bucketPrefix: options.bucketPrefix,
      retentionDays: options.exportRetentionDays ?? 7,
    }),
    ensureDatabase: (ref, { seed }) =>
      admin((client) =>
        ensureTenantDatabase(
          client,
          ref,
          { ...server, seed },
          (name, owner, setup) => pool.create(client, name, owner, setup),
          (name, password, sql) => pool.claimSeeded(client, name, password, sql),
        ),
      ),
    rotateDatabasePassword: (ref) => admin((client) => rotatePassword(client, ref, server)),
    dropDatabase: (ref) => admin((client) => dropTenantDatabase(client, ref)),
    removeDatabase: (ref) =>
      admin(async (client) => {
        await dropTenantDatabase(client, ref);
        await dropTenantRole(client, ref);
      }),
    async ensureBucket(ref, { deleteAfterDays }) {
      const name = bucketName(options.bucketPrefix, ref);
      // The environment's token and its bucket do not depend on each other: both at once.
      await Promise.all([
        rest.call('storage', 'POST', '_emulator/v1/principals', { member: member(ref), token: token(ref) }),
        ensureBucket(rest, {
          project: options.projectId,
          name,
          labels: { 'tenantplane-tenant-id': ref.tenantId, 'tenantplane-env': ref.env },
          deleteAfterDays,
          member: member(ref),
        }),
      ]);
      return { name, vars: { BUCKET_NAME: name, STORAGE_EMULATOR_HOST: options.storageUrl, STORAGE_ACCESS_TOKEN: token(ref) } };
    },
    // The server is locked down first, as before any other use.
    warm: () => admin(async () => undefined).then(() => pool.fill()),
    async close() {
      pool.close();
      await connections.end();
    },
    async removeBucket(ref) {
      await deleteBucket(rest, bucketName(options.bucketPrefix, ref));
      await rest.call('storage', 'POST', '_emulator/v1/principals', { member: member(ref), remove: true });
    },
  };
}
