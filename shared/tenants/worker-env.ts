/**
 * Per-environment steps of the provision worker. Each step is idempotent at the
 * driver (deterministic names, look up before create) and is recorded on the
 * environment document, so a redelivered task skips what is done.
 */
import type { Deps } from '../deps.ts';
import { createSecretStore } from '../secrets/store.ts';
import { envPath, recordEvent, recordTenantWrite, type TenantDoc } from '../store/tenants.ts';
import type { EnvironmentRef, EnvironmentSpec } from '../runtime/types.ts';
import type { EnvName, EnvironmentRecord, EnvironmentStatusName } from './types.ts';
import { provisionResources } from './resources-step.ts';
import { stripUndefined } from '../store/plain.ts';

export interface StepContext {
  deps: Deps;
  tenant: TenantDoc;
  generation: number;
  /** Throws Superseded when a newer operation took over the tenant. */
  checkCurrent(): Promise<void>;
  /** The lease this delivery holds, which the operation's last transaction gives back. */
  holder?: string;
}

export const envRef = (tenant: TenantDoc, env: string): EnvironmentRef => ({ ownerId: tenant.ownerId, tenantId: tenant.id, env });

/** The environment's spec; its secrets are read from the store unless the caller already has them. */
export async function envSpec(
  ctx: StepContext,
  env: EnvName,
  image = ctx.tenant.image,
  secrets?: Promise<Record<string, string>>,
): Promise<EnvironmentSpec> {
  const { deps, tenant } = ctx;
  return {
    ...envRef(tenant, env),
    image,
    memoryMb: tenant.memoryMb,
    vars: { TENANT_NAME: tenant.name, TENANT_PLAN: tenant.plan },
    secrets: await (secrets ?? createSecretStore(deps.db, deps.config.secrets.key).values(tenant.id, env)),
    labels: { 'tenantplane-tenant-id': tenant.id, 'tenantplane-env': env },
  };
}

async function readEnv(ctx: StepContext, env: EnvName): Promise<EnvironmentRecord | undefined> {
  const snap = await ctx.deps.db.doc(envPath(ctx.tenant.id, env)).get();
  return snap.exists ? (snap.data() as EnvironmentRecord & { stepsGeneration?: number }) : undefined;
}

type EnvFields = Partial<EnvironmentRecord> & { status?: EnvironmentStatusName };

const envRecord = (ctx: StepContext, env: EnvName, fields: EnvFields) =>
  stripUndefined({ tenantId: ctx.tenant.id, env, ...fields, updatedAt: ctx.deps.now().toISOString() });

export async function setEnv(ctx: StepContext, env: EnvName, fields: EnvFields): Promise<void> {
  await ctx.deps.db.doc(envPath(ctx.tenant.id, env)).set(envRecord(ctx, env, fields), { merge: true });
}

/**
 * What one delivery knows of an environment's recorded steps: read from
 * Firestore once, then kept here as this delivery records more. Only the
 * delivery holding the tenant's lease runs steps of its generation, so no one
 * else changes the list meanwhile; this saves a read per step. Records are
 * written in the order they were made (setEnvSoon), so steps of one
 * environment that run at once (its database and bucket) never overwrite each
 * other's entry.
 */
const stepsByContext = new WeakMap<StepContext, Map<string, Promise<string[]>>>();

function doneSteps(ctx: StepContext, env: EnvName): Promise<string[]> {
  return stepsByContext.get(ctx)?.get(env) ?? knownSteps(ctx, env, readEnv(ctx, env));
}

/** Keeps what the environment's record (already read, or being read) says this generation has done. */
export function knownSteps(
  ctx: StepContext,
  env: EnvName,
  record: EnvironmentRecord | undefined | Promise<EnvironmentRecord | undefined>,
): Promise<string[]> {
  let perEnv = stepsByContext.get(ctx);
  if (!perEnv) stepsByContext.set(ctx, (perEnv = new Map()));
  const done = Promise.resolve(record).then((r: (EnvironmentRecord & { stepsGeneration?: number }) | undefined) =>
    r?.stepsGeneration === ctx.generation ? [...(r.steps ?? [])] : [],
  );
  perEnv.set(env, done);
  return done;
}

/**
 * Writes a delivery started and did not wait for: its events and step records
 * (issue 19: each waited for took a round trip off the launch's critical
 * path). They keep their order (all queue on the tenant, recordTenantWrite),
 * and `settleWrites` waits for them before the operation ends.
 */
const writesByContext = new WeakMap<StepContext, Promise<unknown>[]>();
/** The first background write of a delivery that failed, as soon as it is known. */
const failedWrites = new WeakMap<StepContext, unknown>();

function track(ctx: StepContext, write: Promise<unknown>): void {
  let writes = writesByContext.get(ctx);
  if (!writes) writesByContext.set(ctx, (writes = []));
  // Handled here so a failure is not unhandled before settleWrites reports it.
  write.catch((err: unknown) => {
    if (!failedWrites.has(ctx)) failedWrites.set(ctx, err);
  });
  writes.push(write);
}

/** The error of a background write of `ctx` that already failed, if one did: the operation must not be announced done after it. */
export function failedWrite(ctx: StepContext): Error | undefined {
  return failedWrites.has(ctx) ? (failedWrites.get(ctx) as Error) : undefined;
}

/** Waits for every write `ctx` started in the background; throws the first that failed. */
export async function settleWrites(ctx: StepContext): Promise<void> {
  const writes = writesByContext.get(ctx) ?? [];
  writesByContext.delete(ctx);
  const results = await Promise.allSettled(writes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Runs `fn` unless this generation already recorded `name` as done for the
 * environment. The record is written in the background: a step lost with a
 * crashed delivery runs again, which every step allows (idempotent at the driver).
 */
export async function step(
  ctx: StepContext,
  env: EnvName,
  name: string,
  fn: () => Promise<Partial<EnvironmentRecord> | void>,
): Promise<void> {
  // The generation check and the (first) read of the record are independent: one round trip instead of two.
  const [, done] = await Promise.all([ctx.checkCurrent(), doneSteps(ctx, env)]);
  if (done.includes(name)) return;
  const fields = (await fn()) ?? {};
  done.push(name);
  setEnvSoon(ctx, env, { ...fields, steps: [...done], stepsGeneration: ctx.generation } as Partial<EnvironmentRecord>);
}

/**
 * setEnv in the background, in order with the tenant's other background writes
 * (a later status is never overwritten) and in the same commit as the events
 * written at the same time.
 */
function setEnvSoon(ctx: StepContext, env: EnvName, fields: EnvFields): void {
  void mergeSoon(ctx, envPath(ctx.tenant.id, env), envRecord(ctx, env, fields));
}

/**
 * Merges `fields` into the tenant's document at `path` in the background, in
 * order with and in the same commit as the tenant's other background writes
 * (settleWrites waits for it). Resolves once it is committed.
 */
export function mergeSoon(ctx: StepContext, path: string, fields: Record<string, unknown>): Promise<void> {
  const write = recordTenantWrite(ctx.deps.db, ctx.tenant.id, { merge: { path, fields } });
  track(ctx, write);
  return write;
}

/** Records an event in the background, after the ones before it (settleWrites waits for it). */
export const event = (ctx: StepContext, type: string, message: string, env?: EnvName, data?: Record<string, unknown>): void =>
  track(ctx, recordEvent(ctx.deps.db, ctx.tenant.id, { type, message, env, data }, ctx.deps.now));

/** Waits until the environment answers its health check and records `environment_ready` with its URL. */
export async function announceReady(ctx: StepContext, env: EnvName, knownUrl?: string): Promise<string | undefined> {
  const driver = ctx.deps.runtime(ctx.tenant.driver);
  const status = await driver.waitReady(envRef(ctx.tenant, env), { timeoutMs: ctx.deps.config.provision.readyTimeoutMs });
  const url = status.url ?? knownUrl;
  event(ctx, 'environment_ready', `${env} is ready${url ? ` at ${url}` : ''}.`, env, { url });
  return url;
}

/**
 * Phase 1 (infrastructure) and phase 2 (deploy, health) for one environment.
 * The environment's spec (its secrets, read and decrypted) is built once and
 * serves both the infrastructure and the deploy: nothing changes the secrets
 * within one operation (rotation is an operation of its own).
 */
export async function provisionEnv(ctx: StepContext, env: EnvName, image = ctx.tenant.image): Promise<string | undefined> {
  const driver = ctx.deps.runtime(ctx.tenant.driver);
  const store = createSecretStore(ctx.deps.db, ctx.deps.config.secrets.key);
  let url: string | undefined;
  let spec: Promise<EnvironmentSpec> | undefined;
  // The tenant's own values are read beside the data steps, not after them.
  const tenantValues = store.values(ctx.tenant.id);
  tenantValues.catch(() => undefined);
  // A driver that can ready the workload (the local one starts its process) does so beside the data steps; the
  // deploy decides alone what runs, so a failure here only costs that head start.
  const prepared =
    driver.prepare && ctx.tenant.operation?.name === 'provision'
      ? envSpec(ctx, env, image, Promise.resolve({}))
          .then((bare) => driver.prepare!(bare))
          .catch((err: unknown) => ctx.deps.log.warn('could not start the workload ahead', { tenantId: ctx.tenant.id, env, err }))
      : undefined;
  const data = await provisionResources(ctx, env).finally(() => prepared);
  // A first provision whose data steps all ran here knows every value of the environment (its collection was empty
  // before, or holds the same names from an earlier attempt): no need to read back what was just written. Otherwise
  // the values are read once the ones just made are committed.
  const envValues = () =>
    data.values && ctx.tenant.operation?.name === 'provision' ? data.values : data.stored.then(() => store.envValues(ctx.tenant.id, env));
  // Built only after the data steps stored DATABASE_URL and BUCKET_NAME, which the workload starts with.
  const specOnce = () =>
    (spec ??= envSpec(
      ctx,
      env,
      image,
      Promise.all([tenantValues, envValues()]).then(([own, ofEnv]) => ({ ...own, ...ofEnv })),
    ));
  await step(ctx, env, 'infrastructure', async () => {
    setEnvSoon(ctx, env, { status: 'provisioning' });
    url = (await driver.ensureInfrastructure(await specOnce())).url;
    event(ctx, 'infrastructure_ready', `${env}: infrastructure ready${url ? ` at ${url}` : ''}.`, env, { url });
    return { url };
  });
  await step(ctx, env, 'deploy', async () => {
    event(ctx, 'deploy_started', `${env}: starting ${image}.`, env, { image });
    await driver.deploy(await specOnce());
  });
  await step(ctx, env, 'ready', async () => {
    url = await announceReady(ctx, env, url);
    return { status: 'ready', url, image, error: null as never };
  });
  return url ?? (await readEnv(ctx, env))?.url;
}
