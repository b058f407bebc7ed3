/**
 * Deterministic names of a tenant's Google Cloud identity and repository, so
 * every step can find them again without storing them: a redelivered task, the
 * Cloud Run driver and the registry-token endpoint all derive the same names
 * from the tenant id.
 */
import { createHash } from 'node:crypto';

/** Shortens `base` to `max` characters with a hash suffix when it had to be cut, so distinct inputs stay distinct. */
function clip(base: string, max: number): string {
  if (base.length <= max) return base;
  const hash = createHash('sha256').update(base).digest('hex').slice(0, 6);
  return `${base.slice(0, max - 7).replace(/-+$/, '')}-${hash}`;
}

const slug = (tenantId: string) => tenantId.toLowerCase().replace(/[^a-z0-9-]/g, '-');

/**
 * Service account id `tp-<tenantId>`. IAM account ids are 6–30 characters of
 * `[a-z][a-z0-9-]*[a-z0-9]`: a tenant id (`t-` + 16 characters) gives 21; short
 * test ids are padded with `-sa`, long ones shortened with a hash.
 */
export function tenantServiceAccountId(tenantId: string): string {
  let id = clip(`tp-${slug(tenantId)}`, 30).replace(/-+$/, '');
  if (id.length < 6) id = `${id}-sa`;
  return id;
}

/** The tenant's service account email in `projectId`. */
export const tenantServiceAccountEmail = (projectId: string, tenantId: string) =>
  `${tenantServiceAccountId(tenantId)}@${projectId}.iam.gserviceaccount.com`;

/** Artifact Registry repository id `tp-<tenantId>` (lowercase letters, digits and hyphens, starts with a letter, ≤ 63). */
export const tenantRepositoryId = (tenantId: string) => clip(`tp-${slug(tenantId)}`, 63).replace(/-+$/, '');

/** `<location>-docker.pkg.dev/<project>`, the shape of an Artifact Registry docker host, split into its parts. */
export function parseArtifactRegistryHost(host: string): { location: string; projectId: string } | undefined {
  const m = /^([a-z0-9-]+)-docker\.pkg\.dev\/([a-z][a-z0-9.:-]*[a-z0-9])$/.exec(host);
  return m ? { location: m[1], projectId: m[2] } : undefined;
}
