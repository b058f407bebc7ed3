/**
 * The tenant data part of the config (issue 21): which resources driver makes
 * each environment's database and bucket, where it reaches them, and the
 * blueprints that say what an environment of each plan gets. The variables a
 * driver needs are required only when RESOURCES_DRIVER chooses it.
 */
import { ConfigError, int, json, oneOf, optional, str, type Env } from './readers.ts';

/** What an environment gets: a database (with a seed per environment), a bucket, and how long backups are kept. */
export interface Blueprint {
  /** A PostgreSQL database and its own role; absent when the plan gives none. */
  database?: {
    /** SQL run as the environment's own role when its database is created or reset: `sample` (built-in sample data), `none`, or SQL text. */
    seed: Partial<Record<'demo' | 'test' | 'live', string>>;
  };
  /** An object-storage bucket; `deleteAfterDays` adds a lifecycle rule deleting older objects (0: none). */
  bucket?: { deleteAfterDays: number };
  /** Days a backup is kept. */
  backupRetentionDays: number;
}

export interface ResourcesConfig {
  /** `local` (PostgreSQL + the storage emulator), `gcp` (Cloud SQL + GCS) or `none` (environments get no data resources). */
  driver: 'local' | 'gcp' | 'none';
  /** `default` and any plan id that overrides it; read through {@link blueprintFor}. */
  blueprints: Record<string, Blueprint>;
  /** Local: a superuser URL of the PostgreSQL server tenants' databases live on (DATABASE_ADMIN_URL). */
  databaseAdminUrl?: string;
  /** LOCAL_DATABASE_POOL: empty databases the local driver keeps ready for launches (0 turns the pool off). */
  databasePool: number;
  /** Local: the storage emulator's base URL (STORAGE_EMULATOR_URL) and the platform's token there (STORAGE_ADMIN_TOKEN). */
  storageUrl?: string;
  storageAdminToken?: string;
  /** Production: the Cloud SQL instance `project:region:instance`, and the host tenants connect to (its private IP or proxy). */
  cloudSql?: { instance: string; host: string; adminUrl: string };
  /** Bucket names are `<prefix>-<tenant id>-<env>`; default the project id (bucket names are global). */
  bucketPrefix: string;
  /** Days a deleted tenant's databases and buckets are kept so it can be restored (TENANT_DATA_GRACE_DAYS, default 7; 0 drops them at once). */
  graceDays: number;
  /** Days an owner's export archive is kept in the `<prefix>-exports` bucket before its lifecycle rule deletes it (EXPORT_RETENTION_DAYS, default 7). */
  exportRetentionDays: number;
}

export const DEFAULT_BLUEPRINT: Blueprint = Object.freeze({
  database: { seed: { demo: 'sample' } },
  bucket: { deleteAfterDays: 0 },
  backupRetentionDays: 7,
});

type Seeds = NonNullable<Blueprint['database']>['seed'];

const EXAMPLE = '{"default":{"database":{"seed":{"demo":"sample"}},"bucket":{"deleteAfterDays":0}},"pro":{"backupRetentionDays":30}}';
const ENVS = ['demo', 'test', 'live'];

const fail = (problem: string): never => {
  throw new ConfigError('BLUEPRINTS', `${problem} (example: ${EXAMPLE}).`);
};

/** One blueprint from JSON, each field over `base`; `database: null` or `bucket: null` removes that resource. */
export function parseBlueprint(name: string, raw: unknown, base: Blueprint): Blueprint {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`blueprint "${name}" must be an object`);
  const given = raw as Record<string, unknown>;
  const unknownKey = Object.keys(given).find((k) => !['database', 'bucket', 'backupRetentionDays'].includes(k));
  if (unknownKey) fail(`blueprint "${name}" has unknown field "${unknownKey}"; known: database, bucket, backupRetentionDays`);
  const out: Blueprint = { ...base };
  if (given.database === null) delete out.database;
  else if (given.database !== undefined) {
    const db = given.database as { seed?: unknown };
    if (typeof db !== 'object' || Array.isArray(db)) fail(`blueprint "${name}": database must be an object or null`);
    const seed = db.seed ?? {};
    if (typeof seed !== 'object' || seed === null || Array.isArray(seed))
      fail(`blueprint "${name}": database.seed must map demo/test/live to SQL`);
    for (const [env, sql] of Object.entries(seed as object)) {
      if (!ENVS.includes(env)) fail(`blueprint "${name}": database.seed names "${env}"; use demo, test or live`);
      if (typeof sql !== 'string' || sql.length > 100_000)
        fail(`blueprint "${name}": database.seed.${env} must be SQL text, "sample" or "none"`);
    }
    out.database = { seed: seed as Seeds };
  }
  if (given.bucket === null) delete out.bucket;
  else if (given.bucket !== undefined) {
    const days = (given.bucket as { deleteAfterDays?: unknown }).deleteAfterDays ?? 0;
    if (!Number.isInteger(days) || (days as number) < 0 || (days as number) > 3650)
      fail(`blueprint "${name}": bucket.deleteAfterDays must be a whole number of days from 0 to 3650`);
    out.bucket = { deleteAfterDays: days as number };
  }
  if (given.backupRetentionDays !== undefined) {
    const days = given.backupRetentionDays;
    if (!Number.isInteger(days) || (days as number) < 1 || (days as number) > 3650)
      fail(`blueprint "${name}": backupRetentionDays must be a whole number from 1 to 3650`);
    out.backupRetentionDays = days as number;
  }
  return out;
}

function parseBlueprints(env: Env): Record<string, Blueprint> {
  const given = json(env, 'BLUEPRINTS', EXAMPLE);
  if (given === undefined) return { default: DEFAULT_BLUEPRINT };
  if (typeof given !== 'object' || given === null || Array.isArray(given)) return fail('must be a JSON object of blueprints by plan');
  const entries = given as Record<string, unknown>;
  const base = entries.default === undefined ? DEFAULT_BLUEPRINT : parseBlueprint('default', entries.default, DEFAULT_BLUEPRINT);
  const out: Record<string, Blueprint> = { default: base };
  for (const [plan, raw] of Object.entries(entries)) {
    if (plan === 'default') continue;
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(plan)) fail(`"${plan}" is not a plan id`);
    out[plan] = parseBlueprint(plan, raw, base);
  }
  return out;
}

/** The blueprint of a plan: its own when BLUEPRINTS names it, else the default. */
export function blueprintFor(config: ResourcesConfig, plan: string): Blueprint {
  return Object.hasOwn(config.blueprints, plan) ? config.blueprints[plan] : config.blueprints.default;
}

export function parseResourcesConfig(env: Env, base: { projectId: string }): ResourcesConfig {
  // Without a choice, the driver whose server is named: Cloud SQL, a local PostgreSQL, or none (environments get no data resources).
  const fallback = optional(env, 'CLOUD_SQL_INSTANCE') ? 'gcp' : optional(env, 'DATABASE_ADMIN_URL') ? 'local' : 'none';
  const driver = oneOf(env, 'RESOURCES_DRIVER', ['local', 'gcp', 'none'] as const, fallback);
  const required = (forDriver: string, name: string, example: string) => {
    const value = optional(env, name);
    if (driver === forDriver && !value) throw new ConfigError(name, `is required when RESOURCES_DRIVER=${driver} (example: ${example}).`);
    return value;
  };
  const databaseAdminUrl = required('local', 'DATABASE_ADMIN_URL', 'postgres://postgres:secret@127.0.0.1:5432/postgres');
  if (databaseAdminUrl && !/^postgres(ql)?:\/\//.test(databaseAdminUrl))
    throw new ConfigError('DATABASE_ADMIN_URL', `must be a postgres:// URL (example: postgres://postgres:secret@127.0.0.1:5432/postgres).`);
  const storageUrl = required('local', 'STORAGE_EMULATOR_URL', 'http://127.0.0.1:9199');
  if (storageUrl && !/^https?:\/\/[^/]+$/.test(storageUrl.replace(/\/+$/, '')))
    throw new ConfigError('STORAGE_EMULATOR_URL', `must be an http origin (example: http://127.0.0.1:9199).`);
  const instance = required('gcp', 'CLOUD_SQL_INSTANCE', 'my-project:europe-west1:tenants');
  if (instance && !/^[a-z][a-z0-9-]*(:[a-z0-9-]+){2}$/.test(instance))
    throw new ConfigError(
      'CLOUD_SQL_INSTANCE',
      `must be project:region:instance, got "${instance}" (example: my-project:europe-west1:tenants).`,
    );
  const cloudSqlHost = required('gcp', 'CLOUD_SQL_HOST', '10.20.0.3');
  const cloudSqlAdminUrl = required('gcp', 'CLOUD_SQL_ADMIN_URL', 'postgres://tp-admin:secret@10.20.0.3:5432/postgres');
  return {
    driver,
    blueprints: parseBlueprints(env),
    databaseAdminUrl,
    databasePool: int(env, 'LOCAL_DATABASE_POOL', 6, 0, 100),
    storageUrl: storageUrl?.replace(/\/+$/, ''),
    storageAdminToken: str(env, 'STORAGE_ADMIN_TOKEN', 'owner'),
    cloudSql: instance && cloudSqlHost && cloudSqlAdminUrl ? { instance, host: cloudSqlHost, adminUrl: cloudSqlAdminUrl } : undefined,
    bucketPrefix: str(env, 'BUCKET_PREFIX', base.projectId),
    graceDays: int(env, 'TENANT_DATA_GRACE_DAYS', 7, 0, 365),
    exportRetentionDays: int(env, 'EXPORT_RETENTION_DAYS', 7, 1, 365),
  };
}

/** Loopback ports of the local data servers, which isolated tenant processes must still reach (empty for other drivers). */
export function localDataPorts(config: ResourcesConfig): number[] {
  if (config.driver !== 'local') return [];
  return [config.databaseAdminUrl, config.storageUrl]
    .map((raw) => {
      const url = new URL(raw!);
      const loopback = ['127.0.0.1', 'localhost'].includes(url.hostname);
      return loopback ? Number(url.port || (url.protocol.startsWith('postgres') ? 5432 : 80)) : 0;
    })
    .filter((port) => port > 0);
}
