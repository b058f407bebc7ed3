/**
 * A tenant's own Google Cloud identity (R-ISO-1): a service account that its
 * Cloud Run services run as and registry tokens are minted for, and a docker
 * repository that only this account may write. Every call looks before it
 * creates, so a redelivered provision task converges on one account, one
 * repository and one binding of each role.
 */
import { deleteRepository, ensureRepository, grantOnRepository, repositoryName } from './artifact-registry.ts';
import { createTokenMinter, type TokenMinter } from './credentials.ts';
import { deleteServiceAccount, ensureServiceAccount, grantOnServiceAccount } from './iam.ts';
import { parseArtifactRegistryHost, tenantRepositoryId, tenantServiceAccountEmail, tenantServiceAccountId } from './names.ts';
import { serviceAccountMember, type Grant } from './policy.ts';
import { createGoogleRest, isStatus, type GoogleRest } from './rest.ts';

/** The Google clients the platform uses for identities; tests build them with a fake's client options. */
export interface GcpClients {
  rest: GoogleRest;
  minter: TokenMinter;
  close(): Promise<void>;
}

/**
 * Builds the Google clients used for tenant identities: a REST caller (IAM,
 * Artifact Registry) and a token minter. `clientOptions` go to both, so tests
 * point them at the local Google fake the same way.
 */
export function createGcpClients(clientOptions: Record<string, unknown> = {}): GcpClients {
  const minter = createTokenMinter(clientOptions);
  return { rest: createGoogleRest(clientOptions), minter, close: () => minter.close() };
}

/** Who besides the tenant acts on a tenant's account. */
export interface PlatformIdentities {
  projectId: string;
  /** The platform identity that mints registry tokens (the api function's): gets token creation on the account. */
  tokenMinter?: string;
  /** The identity that deploys Cloud Run services as the account (the provisioner's): gets `actAs` on it. */
  deployer?: string;
}

/** New service accounts take a moment to be visible to IAM policy calls; retry NOT_FOUND briefly. */
async function retryNotFound<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i >= attempts || !isStatus(error, 'NOT_FOUND')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * i));
    }
  }
}

/** Ensures the tenant's service account and its own policy (token creation for the minter, actAs for the deployer). Returns its email. */
export async function ensureTenantServiceAccount(rest: GoogleRest, platform: PlatformIdentities, tenantId: string): Promise<string> {
  const email = await ensureServiceAccount(
    rest,
    platform.projectId,
    tenantServiceAccountId(tenantId),
    `tenantplane tenant ${tenantId}`.slice(0, 100),
  );
  const grants: Grant[] = [];
  if (platform.tokenMinter)
    grants.push({ role: 'roles/iam.serviceAccountTokenCreator', member: serviceAccountMember(platform.tokenMinter) });
  if (platform.deployer) grants.push({ role: 'roles/iam.serviceAccountUser', member: serviceAccountMember(platform.deployer) });
  if (grants.length) await retryNotFound(() => grantOnServiceAccount(rest, platform.projectId, email, grants));
  return email;
}

/** Where a tenant's images live: the repository resource and the docker path prefix `<host>/<repo>`. */
export function tenantRepository(registryHost: string, tenantId: string): { name: string; path: string } {
  const parsed = parseArtifactRegistryHost(registryHost);
  if (!parsed)
    throw new Error(`REGISTRY "${registryHost}" is not an Artifact Registry docker host (example: europe-west1-docker.pkg.dev/acme-prod).`);
  const id = tenantRepositoryId(tenantId);
  return { name: repositoryName(parsed.projectId, parsed.location, id), path: `${registryHost}/${id}` };
}

export interface TenantIdentity {
  serviceAccount: string;
  /** Repository resource name, `projects/…/locations/…/repositories/tp-<tenantId>`. */
  repository: string;
}

/**
 * The account, the repository, writer on the repository for the account alone
 * and reader for the minter (which resolves tags to digests at deploy).
 */
export async function ensureTenantIdentity(
  rest: GoogleRest,
  platform: PlatformIdentities,
  registryHost: string,
  tenantId: string,
): Promise<TenantIdentity> {
  const serviceAccount = await ensureTenantServiceAccount(rest, platform, tenantId);
  const { name } = tenantRepository(registryHost, tenantId);
  await ensureRepository(rest, name, {
    'tenantplane-tenant-id': tenantId
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '_')
      .slice(0, 63),
  });
  const grants: Grant[] = [{ role: 'roles/artifactregistry.writer', member: serviceAccountMember(serviceAccount) }];
  if (platform.tokenMinter) grants.push({ role: 'roles/artifactregistry.reader', member: serviceAccountMember(platform.tokenMinter) });
  await retryNotFound(() => grantOnRepository(rest, name, grants));
  return { serviceAccount, repository: name };
}

/** Removes the repository (with its images) and the account; both already gone is fine. */
export async function removeTenantIdentity(
  rest: GoogleRest,
  platform: PlatformIdentities,
  registryHost: string,
  tenantId: string,
): Promise<void> {
  await deleteRepository(rest, tenantRepository(registryHost, tenantId).name);
  await deleteServiceAccount(rest, platform.projectId, tenantServiceAccountEmail(platform.projectId, tenantId));
}
