/**
 * The one place a resources driver is chosen from configuration (issue 21).
 * The provision worker receives a `ResourceDriver` and never branches on its name.
 */
import { join } from 'node:path';
import type { ResourcesConfig } from '../config/resources.ts';
import { createGcpResources, type GcpResourcesOptions } from './gcp/index.ts';
import { createLocalResources, type LocalResourcesOptions } from './local/index.ts';
import { createNoResources } from './none.ts';
import { seedSql } from './sql.ts';
import { ResourceError, type ResourceDriver } from './types.ts';

export type { GcpResourcesOptions } from './gcp/index.ts';
export type { LocalResourcesOptions } from './local/index.ts';
export * from './types.ts';
export type { ExportArchives, OpenArchive } from './archives.ts';

/** Names accepted by {@link createResources}. */
export const RESOURCE_DRIVER_NAMES = ['local', 'gcp', 'none'] as const;

export interface ResourcesDriverConfig {
  driver: string;
  local?: Partial<LocalResourcesOptions>;
  gcp?: Partial<GcpResourcesOptions>;
}

/** The driver named by `config.driver`, with its options; each driver names its own missing options. */
export function createResources(config: ResourcesDriverConfig): ResourceDriver {
  switch (config.driver) {
    case 'local':
      return createLocalResources(config.local as LocalResourcesOptions);
    case 'gcp':
      return createGcpResources(config.gcp as GcpResourcesOptions);
    case 'none':
      return createNoResources();
    default:
      throw new ResourceError(
        String(config.driver),
        'not_configured',
        `unknown resources driver ${JSON.stringify(config.driver)}; valid drivers are ${RESOURCE_DRIVER_NAMES.map((n) => `"${n}"`).join(', ')}`,
      );
  }
}

/** The seed SQL of every blueprint's environments, each once. */
function blueprintSeeds(config: ResourcesConfig): string[] {
  const seeds = Object.values(config.blueprints).flatMap((b) => Object.values(b.database?.seed ?? {}).map(seedSql));
  return [...new Set(seeds.filter((s): s is string => s !== undefined))];
}

/** The driver options a platform config gives. */
export function resourcesOptions(
  config: ResourcesConfig,
  base: { projectId: string; region: string; dataDir: string },
): ResourcesDriverConfig {
  return {
    driver: config.driver,
    local: {
      adminUrl: config.databaseAdminUrl,
      databasePool: config.databasePool,
      seeds: blueprintSeeds(config),
      storageUrl: config.storageUrl,
      storageAdminToken: config.storageAdminToken,
      projectId: base.projectId,
      bucketPrefix: config.bucketPrefix,
      backupDir: join(base.dataDir, 'backups'),
      exportRetentionDays: config.exportRetentionDays,
    },
    gcp: {
      instance: config.cloudSql?.instance,
      adminUrl: config.cloudSql?.adminUrl,
      tenantHost: config.cloudSql?.host,
      projectId: base.projectId,
      location: base.region,
      bucketPrefix: config.bucketPrefix,
      exportRetentionDays: config.exportRetentionDays,
    },
  };
}
