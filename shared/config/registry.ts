/**
 * The registry part of the config: where tenant images come from.
 * Artifact Registry needs a host of its documented shape, checked at start
 * rather than at a tenant's first deploy.
 */
import { ConfigError, oneOf, str, type Env, type Mode } from './readers.ts';

/**
 * Tenant images. `artifact-registry` (production default): a repository and a
 * service account per tenant, minted registry tokens, tags resolved to
 * digests. `local`: no registry; a signed local token and images as given.
 */
export interface RegistryConfig {
  driver: 'local' | 'artifact-registry';
  host: string;
  defaultImage: string;
  tokenMinterServiceAccount: string;
}

/** The registry section; see {@link RegistryConfig}. */
export function parseRegistryConfig(env: Env, base: { mode: Mode; projectId: string; region: string }): RegistryConfig {
  const { mode, projectId, region } = base;
  const driver = oneOf(
    env,
    'REGISTRY_DRIVER',
    ['local', 'artifact-registry'] as const,
    mode === 'production' ? 'artifact-registry' : 'local',
  );
  const host = str(env, 'REGISTRY', `${region}-docker.pkg.dev/${projectId}`);
  if (driver === 'artifact-registry' && !/^[a-z0-9-]+-docker\.pkg\.dev\/[^/]+$/.test(host)) {
    throw new ConfigError(
      'REGISTRY',
      `must be an Artifact Registry docker host when REGISTRY_DRIVER=artifact-registry (example: europe-west1-docker.pkg.dev/${projectId}).`,
    );
  }
  return {
    driver,
    host,
    defaultImage: str(env, 'DEFAULT_IMAGE', 'tenantplane/sample-tenant:latest'),
    tokenMinterServiceAccount: str(env, 'REGISTRY_TOKEN_MINTER', `tp-functions@${projectId}.iam.gserviceaccount.com`),
  };
}
