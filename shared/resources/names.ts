/**
 * Names of an environment's resources, deterministic from (tenant, env) so a
 * repeated step finds what an earlier attempt made. Tenant ids are `t-` and
 * base32, environments demo/test/live: the names need no quoting anywhere.
 */
import type { ResourceRef } from './types.ts';

const checked = (ref: ResourceRef) => {
  if (!/^t-[a-z2-7]{10}$/.test(ref.tenantId) || !/^(demo|test|live)$/.test(ref.env))
    throw new Error(`not a tenant environment: ${JSON.stringify(ref)}`);
  return `${ref.tenantId.replace('-', '_')}_${ref.env}`;
};

/** The database of an environment, e.g. `tp_t_abcdefghij_live`; its role has the same name. */
export const databaseName = (ref: ResourceRef) => `tp_${checked(ref)}`;

/** Where a new database is built and seeded before it is renamed into place. */
export const stagingDatabaseName = (ref: ResourceRef) => `${databaseName(ref)}_new`;

/** The bucket of an environment, `<prefix>-t-abcdefghij-live` (bucket names are global, so the prefix is the project's). */
export function bucketName(prefix: string, ref: ResourceRef): string {
  checked(ref);
  return `${prefix}-${ref.tenantId}-${ref.env}`;
}
