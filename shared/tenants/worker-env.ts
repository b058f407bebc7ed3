/**
 * Per-environment steps of the provision worker. Each step is idempotent at the
 * driver (deterministic names, look up before create) and is recorded on the
 * environment document, so a redelivered task skips what is done.
 */
import type { Deps } from '../deps.ts';
import { createSecretStore } from '../secrets/store.ts';
import { envPath, recordEvent, type TenantDoc } from '../store/tenants.ts';
import type { EnvironmentRef, EnvironmentSpec } from '../runtime/types.ts';
import type { EnvName, EnvironmentRecord, EnvironmentStatusName } from './types.ts';
import { provisionResources } from './resources-step.ts';

export interface StepContext {
  deps: Deps;
  tenant: TenantDoc;
  generation: number;
  /** Throws Superseded when a newer operation took over the tenant. */
  checkCurrent(): Promise<void>;
}

export const envRef = (tenant: TenantDoc, env: string): EnvironmentRef => ({ ownerId: tenant.ownerId, tenantId: tenant.id, env });

export async function envSpec(ctx: StepContext, env: EnvName, image = ctx.tenant.image): Promise<EnvironmentSpec> {
  const { deps, tenant } = ctx;
  return {
    ...envRef(tenant, env),
    image,
    memoryMb: tenant.memoryMb,
    vars: { TENANT_NAME: tenant.name, TENANT_PLAN: tenant.plan },
    secrets: await createSecretStore(deps.db, deps.config.secrets.key).values(tenant.id, env),
    labels: { 'tenantplane-tenant-id': tenant.id, 'tenantplane-env': env },
  };
}

async function readEnv(ctx: StepContext, env: EnvName): Promise<EnvironmentRecord | undefined> {
  const snap = await ctx.deps.db.doc(envPath(ctx.tenant.id, env)).get();
  return snap.exists ? (snap.data() as EnvironmentRecord & { stepsGeneration?: number }) : undefined;
}

export async function setEnv(
  ctx: StepContext,
  env: EnvName,
  fields: Partial<EnvironmentRecord> & { status?: EnvironmentStatusName },
): Promise<void> {
  await ctx.deps.db
    .doc(envPath(ctx.tenant.id, env))
    .set(JSON.parse(JSON.stringify({ tenantId: ctx.tenant.id, env, ...fields, updatedAt: ctx.deps.now().toISOString() })), { merge: true });
}

/** Runs `fn` unless this generation already recorded `name` as done for the environment. */
export async function step(
  ctx: StepContext,
  env: EnvName,
  name: string,
  fn: () => Promise<Partial<EnvironmentRecord> | void>,
): Promise<void> {
  await ctx.checkCurrent();
  const record = (await readEnv(ctx, env)) as (EnvironmentRecord & { stepsGeneration?: number }) | undefined;
  const done = record?.stepsGeneration === ctx.generation ? (record.steps ?? []) : [];
  if (done.includes(name)) return;
  const fields = (await fn()) ?? {};
  await setEnv(ctx, env, { ...fields, steps: [...done, name], stepsGeneration: ctx.generation } as Partial<EnvironmentRecord>);
}

export const event = (ctx: StepContext, type: string, message: string, env?: EnvName, data?: Record<string, unknown>) =>
  recordEvent(ctx.deps.db, ctx.tenant.id, { type, message, env, data }, ctx.deps.now);

/** Waits until the environment answers its health check and records `environment_ready` with its URL. */
export async function announceReady(ctx: StepContext, env: EnvName, knownUrl?: string): Promise<string | undefined> {
  const driver = ctx.deps.runtime(ctx.tenant.driver);
  const status = await driver.waitReady(envRef(ctx.tenant, env), { timeoutMs: ctx.deps.config.provision.readyTimeoutMs });
  const url = status.url ?? knownUrl;
  await event(ctx, 'environment_ready', `${env} is ready${url ? ` at ${url}` : ''}.`, env, { url });
  return url;
}

/** Phase 1 (infrastructure) and phase 2 (deploy, health) for one environment. */
export async function provisionEnv(ctx: StepContext, env: EnvName, image = ctx.tenant.image): Promise<string | undefined> {
  const driver = ctx.deps.runtime(ctx.tenant.driver);
  let url: string | undefined;
  // The data first: the workload starts with its DATABASE_URL and BUCKET_NAME.
  await provisionResources(ctx, env);
  await step(ctx, env, 'infrastructure', async () => {
    await setEnv(ctx, env, { status: 'provisioning' });
    url = (await driver.ensureInfrastructure(await envSpec(ctx, env, image))).url;
    await event(ctx, 'infrastructure_ready', `${env}: infrastructure ready${url ? ` at ${url}` : ''}.`, env, { url });
    return { url };
  });
  await step(ctx, env, 'deploy', async () => {
    await event(ctx, 'deploy_started', `${env}: starting ${image}.`, env, { image });
    await driver.deploy(await envSpec(ctx, env, image));
  });
  await step(ctx, env, 'ready', async () => {
    url = await announceReady(ctx, env, url);
    return { status: 'ready', url, image, error: null as never };
  });
  return url ?? (await readEnv(ctx, env))?.url;
}
