/**
 * Deploy images (R-DEPLOY-1): a tenant may deploy exactly
 * `<REGISTRY>/<REPOSITORY>:tenant-<tenantId>` or the platform's default image.
 */
import { createHmac } from 'node:crypto';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

export const tenantImage = (config: Pick<Config, 'registry'>, tenantId: string) =>
  `${config.registry.host}/${config.registry.repository}:tenant-${tenantId}`;

export function requireDeployableImage(config: Pick<Config, 'registry'>, tenantId: string, image: unknown): void {
  const allowed = [tenantImage(config, tenantId), config.registry.defaultImage];
  if (typeof image !== 'string' || !allowed.includes(image)) {
    throw new AppError('validation_failed', `The image must be exactly ${allowed[0]} (or the default image ${allowed[1]}).`, {
      field: 'image',
      allowed,
    });
  }
}

const TOKEN_TTL_MS = 15 * 60 * 1000;

/**
 * Credentials for `docker login` and push of the tenant's tag. In production
 * it is an OAuth access token of the platform's service account (Artifact
 * Registry's `oauth2accesstoken` user); locally, where no registry exists, a
 * signed token scoped to the tag and expiring in 15 minutes.
 */
export async function registryToken(config: Config, tenantId: string, now: Date) {
  const repository = `${config.registry.host}/${config.registry.repository}`;
  const tag = `tenant-${tenantId}`;
  const expiresAt = new Date(now.getTime() + TOKEN_TTL_MS).toISOString();
  if (config.mode === 'production') {
    const { GoogleAuth } = await import('google-auth-library');
    const token = await new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getAccessToken();
    if (!token) throw new AppError('unavailable', 'Could not get a registry token from the platform credentials; try again.');
    return { registry: config.registry.host.split('/')[0], username: 'oauth2accesstoken', token, repository, tag, expiresAt };
  }
  const claims = Buffer.from(JSON.stringify({ sub: tenantId, scope: `push:${repository}:${tag}`, exp: expiresAt })).toString('base64url');
  const signature = createHmac('sha256', config.secrets.key).update(claims).digest('base64url');
  return { registry: config.registry.host.split('/')[0], username: `tenant-${tenantId}`, token: `${claims}.${signature}`, repository, tag, expiresAt };
}
