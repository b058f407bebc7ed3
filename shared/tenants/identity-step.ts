/**
 * The provision worker's identity step (R-ISO-1): the tenant's own service
 * account and repository, created before any environment so that Cloud Run
 * services can run as the account and its registry token has something to
 * write to. Recorded like every step, and idempotent at the cloud besides.
 */
import { ensureTenantIdentity, removeTenantIdentity, type PlatformIdentities } from '../gcp/identity.ts';
import type { Deps } from '../deps.ts';
import { event, step, type StepContext } from './worker-env.ts';

const platformOf = (config: Deps['config']): PlatformIdentities => ({
  projectId: config.projectId,
  tokenMinter: config.registry.tokenMinterServiceAccount,
  deployer: config.runtime.cloudRun.deployerServiceAccount,
});

/** Ensures the identity when the registry is Artifact Registry; locally there is no cloud identity to make. */
export async function provisionIdentity(ctx: StepContext): Promise<void> {
  const { config } = ctx.deps;
  if (config.registry.driver !== 'artifact-registry') return;
  // Steps are recorded per environment; the first environment carries the tenant-wide one.
  await step(ctx, ctx.tenant.environments[0], 'identity', async () => {
    const identity = await ensureTenantIdentity(ctx.deps.gcp.rest, platformOf(config), config.registry.host, ctx.tenant.id);
    event(ctx, 'identity_ready', `Service account ${identity.serviceAccount} and its own image repository are ready.`, undefined, {
      ...identity,
    });
  });
}

/** Deletes the tenant's repository and service account on tenant delete. */
export async function removeIdentity(ctx: StepContext): Promise<void> {
  const { config } = ctx.deps;
  if (config.registry.driver !== 'artifact-registry') return;
  await removeTenantIdentity(ctx.deps.gcp.rest, platformOf(config), config.registry.host, ctx.tenant.id);
}
