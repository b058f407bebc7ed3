/**
 * Deploy images and registry credentials (R-DEPLOY-1, R-ISO-1). Each tenant has
 * its own repository `<REGISTRY>/tp-<tenantId>` (shared/gcp/names.ts); a tenant
 * may deploy an image of that repository, `<REGISTRY>/tp-<tenantId>/<name>:<tag>`
 * or `…/<name>@sha256:<digest>`, or exactly the platform's default image.
 */
import { createHmac } from 'node:crypto';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { resolveTag } from '../gcp/artifact-registry.ts';
import { tenantRepository, type GcpClients } from '../gcp/identity.ts';
import { tenantRepositoryId, tenantServiceAccountEmail } from '../gcp/names.ts';

type RegistryConfig = Pick<Config, 'registry'>;

/** Docker path components: lowercase alphanumerics separated by `.`, `_`, `-`, joined by `/`. */
const IMAGE_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The tenant's repository as a docker path, `<REGISTRY>/tp-<tenantId>`. */
export const tenantRepositoryPath = (config: RegistryConfig, tenantId: string) => `${config.registry.host}/${tenantRepositoryId(tenantId)}`;

/** The image `docker push` targets by default: `<REGISTRY>/tp-<tenantId>/app:latest`. */
export const tenantImage = (config: RegistryConfig, tenantId: string, name = 'app', tag = 'latest') =>
  `${tenantRepositoryPath(config, tenantId)}/${name}:${tag}`;

/** Splits an image of the tenant's own repository into its name and tag or digest; undefined for anything else. */
export function parseTenantImage(
  config: RegistryConfig,
  tenantId: string,
  image: string,
): { name: string; tag?: string; digest?: string } | undefined {
  const prefix = `${tenantRepositoryPath(config, tenantId)}/`;
  if (!image.startsWith(prefix)) return undefined;
  const rest = image.slice(prefix.length);
  const at = rest.indexOf('@');
  if (at >= 0) {
    const [name, digest] = [rest.slice(0, at), rest.slice(at + 1)];
    return IMAGE_NAME.test(name) && DIGEST.test(digest) ? { name, digest } : undefined;
  }
  const colon = rest.lastIndexOf(':');
  if (colon < 0) return undefined;
  const [name, tag] = [rest.slice(0, colon), rest.slice(colon + 1)];
  return IMAGE_NAME.test(name) && TAG.test(tag) ? { name, tag } : undefined;
}

export function requireDeployableImage(config: RegistryConfig, tenantId: string, image: unknown): asserts image is string {
  if (typeof image === 'string' && (image === config.registry.defaultImage || parseTenantImage(config, tenantId, image))) return;
  const prefix = tenantRepositoryPath(config, tenantId);
  throw new AppError(
    'validation_failed',
    `The image must be in your own repository, ${prefix}/<name>:<tag> or ${prefix}/<name>@sha256:<digest> (for example ${tenantImage(config, tenantId)}), or exactly the default image ${config.registry.defaultImage}.`,
    { field: 'image', repository: prefix, defaultImage: config.registry.defaultImage },
  );
}

/**
 * The image a deploy runs. With Artifact Registry a tag is resolved to its
 * digest (`…/<name>@sha256:…`), so a later push to the tag cannot change what
 * runs without another deploy. Locally there is no registry to ask: the image
 * stays as given. The default image is the platform's and stays as configured.
 */
export async function resolveDeployImage(config: Config, gcp: () => GcpClients, tenantId: string, image: unknown): Promise<string> {
  requireDeployableImage(config, tenantId, image);
  const parsed = parseTenantImage(config, tenantId, image);
  if (!parsed?.tag || config.registry.driver !== 'artifact-registry') return image;
  const digest = await resolveTag(gcp().rest, tenantRepository(config.registry.host, tenantId).name, parsed.name, parsed.tag);
  if (!digest) {
    throw new AppError('validation_failed', `Your repository has no image ${image}; push it first (docker push ${image}).`, {
      field: 'image',
    });
  }
  return `${tenantRepositoryPath(config, tenantId)}/${parsed.name}@${digest}`;
}

/** Registry tokens live at most 15 minutes. */
export const TOKEN_TTL_SECONDS = 15 * 60;

/**
 * Credentials for `docker login` and push to the tenant's own repository.
 * `repository` is the docker repository (image path without tag) to push,
 * `tag` the default tag. With Artifact Registry the token is an OAuth access
 * token minted through the IAM Credentials API for the tenant's own service
 * account, which can write only its repository; the platform's credentials are
 * never returned. Locally, where no registry exists, it is a signed token
 * scoped to the repository.
 */
export async function registryToken(config: Config, gcp: () => GcpClients, tenantId: string, now: Date) {
  const repository = `${tenantRepositoryPath(config, tenantId)}/app`;
  const tag = 'latest';
  const registry = config.registry.host.split('/')[0];
  const latest = new Date(now.getTime() + TOKEN_TTL_SECONDS * 1000);
  if (config.registry.driver === 'artifact-registry') {
    const email = tenantServiceAccountEmail(config.projectId, tenantId);
    const minted = await gcp()
      .minter.mint(email, TOKEN_TTL_SECONDS)
      .catch((error: unknown) => {
        // The account appears with the provision step; until then (or if its grant is missing) there is nothing to mint for.
        throw new AppError('unavailable', 'The registry identity of this tenant is not ready yet; try again in a minute.', undefined, {
          cause: error,
        });
      });
    const expiresAt = new Date(Math.min(Date.parse(minted.expiresAt) || latest.getTime(), latest.getTime())).toISOString();
    return { registry, username: 'oauth2accesstoken', token: minted.token, repository, tag, expiresAt };
  }
  const expiresAt = latest.toISOString();
  const claims = Buffer.from(
    JSON.stringify({ sub: tenantId, scope: `push:${tenantRepositoryPath(config, tenantId)}`, exp: expiresAt }),
  ).toString('base64url');
  const signature = createHmac('sha256', config.secrets.key).update(claims).digest('base64url');
  return { registry, username: `tenant-${tenantId}`, token: `${claims}.${signature}`, repository, tag, expiresAt };
}
