/**
 * The tenants service layer: every lifecycle operation, used by the REST API,
 * chat, webhooks and the worker. Requests change documents and enqueue work;
 * the provision worker (worker.ts) does the slow part through the runtime driver.
 */
import { randomBytes } from 'node:crypto';
import { authorize, authorizeHidden } from '../auth/authorize.ts';
import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { AppError, conflict, notFound, notSupported } from '../errors.ts';
import {
  appendEvent,
  createEnvironment,
  findTenantsByName,
  getTenantDoc,
  listEnvironments,
  listEvents,
  namePath,
  tenantPath,
  queryTenants,
  toTenant,
  type TenantDoc,
} from '../store/tenants.ts';
import { issueRetrievalToken } from './credentials.ts';
import { restoreTenant } from './grace.ts';
import { enqueueOperation, recordOperationTask, startOperation, taskName, type OperationContext } from './operations.ts';
import { DEFAULT_PLAN } from './plans.ts';
import { CREATED_EVENT } from './state-machine.ts';
import { checkPlanShape, findPlan, openTenantSlots, tenantCountsPath } from './entitlements.ts';
import type { Transaction } from '@google-cloud/firestore';
import type { Plan } from '../billing/config.ts';
import { runItemsTransaction, type ItemOutcome } from '../store/transact.ts';
import { registryToken as makeRegistryToken, resolveDeployImage } from './registry.ts';
import { readMetricsHistory, recordMetricsSamples, type MetricsSample } from './metrics-history.ts';
import { isTenantId, type EnvName, type EnvironmentRecord, type Page, type Tenant, type TenantService } from './types.ts';
import { createTenantSchema, logsQuerySchema, parseInput, updateTenantSchema } from './validate.ts';
import { stripUndefined } from '../store/plain.ts';

export type TenantServiceImpl = TenantService & {
  /** Samples kept at most once a minute per environment, newest first. */
  metricsHistory(p: Principal, id: string, query: { env?: string; limit?: string | number }): Promise<MetricsSample[]>;
  /** Creates a tenant and returns it with its one-time credentials token. */
  createWithToken(p: Principal, input: unknown): Promise<{ tenant: Tenant; credentialsToken: string }>;
  /** Brings a deleted tenant back with its data within the grace period (grace.ts). */
  restore(p: Principal, id: string): Promise<Tenant>;
};

/** A deleted tenant whose data is still kept. */
const isRestorable = (t: TenantDoc, now: Date) => t.state === 'deleted' && !!t.restorableUntil && t.restorableUntil > now.toISOString();

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** A creation writes at most 8 documents (name, 3 environments, event, link, tenant, task): 50 stay well under a commit's 500. */
const CREATIONS_PER_TRANSACTION = 50;
const newTenantId = () => 't-' + Array.from(randomBytes(10), (b) => ID_ALPHABET[b & 31]).join('');

/**
 * Builds the tenants service on the platform's deps (store, queue, clock,
 * logger, config). It is the one place lifecycle rules live, so the REST API,
 * the chat and webhooks all build it instead of writing tenant documents.
 */
export function createTenantService(deps: Deps): TenantServiceImpl {
  const { config } = deps;
  const ctx: OperationContext = deps;

  async function load(p: Principal, id: string, action: Parameters<typeof authorize>[1] = 'tenants.read'): Promise<TenantDoc> {
    if (!isTenantId(id)) throw notFound(`Tenant ${id}`);
    const tenant = await getTenantDoc(deps.db, id);
    if (!tenant) throw notFound(`Tenant ${id}`);
    authorizeHidden(p, action, tenant, `Tenant ${id}`);
    return tenant;
  }
  const live = async (p: Principal, id: string, action?: Parameters<typeof authorize>[1]) => {
    const tenant = await load(p, id, action);
    if (tenant.state === 'deleted') throw new AppError('gone', `Tenant ${id} was deleted.`);
    return tenant;
  };
  const driverFor = (tenant: TenantDoc) => deps.runtime(tenant.driver);

  async function createWithToken(p: Principal, raw: unknown) {
    authorize(p, 'tenants.create');
    const input = parseInput(createTenantSchema, raw);
    if ((input.ownerId && input.ownerId !== p.uid) || input.driver) authorize(p, 'tenants.admin');
    const plan = findPlan(config, input.plan ?? DEFAULT_PLAN);
    checkPlanShape(p, plan, { environments: input.environments as EnvName[] | undefined, memoryMb: input.memoryMb });
    const now = deps.now();
    const id = newTenantId();
    const ownerId = input.ownerId ?? p.uid;
    const tenant: TenantDoc = {
      id,
      name: input.name,
      ownerId,
      ownerEmail: ownerId === p.uid ? p.email : undefined,
      plan: plan.id,
      region: input.region ?? config.region,
      memoryMb: input.memoryMb ?? plan.memoryMb,
      state: 'provisioning',
      environments: (input.environments as EnvName[] | undefined) ?? (plan.environments as EnvName[]),
      driver: input.driver ?? config.runtime.driver,
      image: config.registry.defaultImage,
      generation: 1,
      urls: {},
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      eventSeq: 0,
      operation: { name: 'provision', generation: 1, startedAt: now.toISOString() },
      lease: null,
      tasks: [taskName(id, 'provision', 1)],
    };
    // Grouped on the owner's tenant count: one instance's creations for one owner that arrive together commit in one
    // transaction (a burst of 100 took 100 transactions one after another), each still refused on its own.
    const credentialsToken = await runItemsTransaction(
      deps.db,
      tenantCountsPath(ownerId),
      { p, plan, tenant },
      (tx, creations) => writeCreations(tx, ownerId, creations, deps.now()),
      CREATIONS_PER_TRANSACTION,
    );
    // Never throws: the tenant and its one-time credentials link are saved, and the outbox sweeper enqueues what failed here.
    await enqueueOperation(ctx, id, 'provision', 1);
    deps.log.info('tenant created', { tenantId: id, ownerId, environments: tenant.environments });
    return { tenant: toTenant(tenant), credentialsToken };
  }

  /**
   * The creations of one owner in one transaction: the tenant count and every
   * name read at once, then each creation in turn takes its name and a plan
   * slot (or gets its own 409, 402 or 403) and writes its tenant,
   * environments, first event, credentials link and provision task.
   */
  async function writeCreations(
    tx: Transaction,
    ownerId: string,
    creations: { p: Principal; plan: Plan; tenant: TenantDoc }[],
    now: Date,
  ): Promise<ItemOutcome<string>[]> {
    const nameRefs = creations.map((c) => deps.db.doc(namePath(ownerId, c.tenant.name)));
    const [countsSnap, ...names] = await tx.getAll(deps.db.doc(tenantCountsPath(ownerId)), ...nameRefs);
    const slots = await openTenantSlots(deps.db, tx, ownerId, countsSnap);
    const taken = new Set(names.filter((n) => n.exists).map((n) => n.ref.path));
    const outcomes: ItemOutcome<string>[] = [];
    for (const [i, { p, plan, tenant }] of creations.entries()) {
      try {
        if (taken.has(nameRefs[i].path)) throw conflict(`You already have a tenant named "${tenant.name}".`, { field: 'name' });
        await slots.claim(p, plan);
      } catch (error) {
        outcomes.push({ error });
        continue;
      }
      taken.add(nameRefs[i].path);
      tx.create(nameRefs[i], { tenantId: tenant.id });
      for (const env of tenant.environments) {
        const record: EnvironmentRecord = {
          tenantId: tenant.id,
          env,
          status: 'pending',
          image: tenant.image,
          steps: [],
          updatedAt: now.toISOString(),
        };
        createEnvironment(deps.db, tx, record);
      }
      // From a count of 0 on every attempt: a retried transaction writes the same first event.
      const doc = { ...tenant, eventSeq: 0 };
      doc.eventSeq = appendEvent(
        deps.db,
        tx,
        doc,
        { type: CREATED_EVENT, message: `Creating ${tenant.name} with ${tenant.environments.join(', ')}.` },
        now,
      );
      tenant.eventSeq = doc.eventSeq;
      const token = issueRetrievalToken(deps.db, tx, tenant.id, now);
      tx.create(deps.db.doc(tenantPath(tenant.id)), stripUndefined(doc));
      // The provision task is saved with the tenant: a queue outage after this commit delays it, never loses it.
      recordOperationTask(tx, deps.db, tenant.id, 'provision', 1, now);
      outcomes.push({ value: token });
    }
    slots.write();
    return outcomes;
  }

  const service: TenantServiceImpl = {
    createWithToken,
    async create(p, input) {
      return (await createWithToken(p, input)).tenant;
    },
    async list(p, options = {}): Promise<Page<Tenant>> {
      authorize(p, 'tenants.list');
      const pageSize = Math.min(Math.max(Number(options.pageSize) || 50, 1), 200);
      const owner = p.role === 'admin' ? options.ownerId : p.uid;
      if (options.deleted) {
        // Deleted tenants stay as tombstones (a repeated DELETE is a no-op); `deleted` lists those still restorable.
        const page = await queryTenants(deps.db, { ...options, state: 'deleted', pageSize, ownerId: owner });
        const items = page.items.filter((t) => isRestorable(t, deps.now()));
        return { items: items.map(toTenant), nextPageToken: page.nextPageToken, total: items.length };
      }
      const page = await queryTenants(deps.db, { ...options, pageSize, ownerId: owner });
      return { items: page.items.map(toTenant), nextPageToken: page.nextPageToken, total: page.total };
    },
    async get(p, id) {
      return toTenant(await load(p, id));
    },
    async resolve(p, idOrName) {
      if (isTenantId(idOrName)) return toTenant(await live(p, idOrName));
      const name = idOrName.trim().toLowerCase();
      const found = (await findTenantsByName(deps.db, name, p.role === 'admin' ? undefined : p.uid)).filter((t) => t.state !== 'deleted');
      if (found.length === 0) throw notFound(`A site named "${name}"`);
      if (found.length > 1) throw conflict(`Several tenants are named "${name}"; use the tenant id.`, { ids: found.map((t) => t.id) });
      return toTenant(found[0]);
    },
    async update(p, id, raw) {
      const patch = parseInput(updateTenantSchema, raw);
      const result = await deps.db.runTransaction(async (tx) => {
        const tenant = await getTenantDoc(deps.db, id, tx);
        if (!tenant || tenant.state === 'deleted') throw notFound(`Tenant ${id}`);
        authorizeHidden(p, 'tenants.update', tenant, `Tenant ${id}`);
        const now = deps.now();
        const changes: Partial<TenantDoc> = { updatedAt: now.toISOString() };
        if (patch.name && patch.name !== tenant.name) {
          const nameRef = deps.db.doc(namePath(tenant.ownerId, patch.name));
          if ((await tx.get(nameRef)).exists) throw conflict(`You already have a tenant named "${patch.name}".`, { field: 'name' });
          tx.delete(deps.db.doc(namePath(tenant.ownerId, tenant.name)));
          tx.create(nameRef, { tenantId: id });
          changes.name = patch.name;
        }
        if (patch.memoryMb && patch.memoryMb !== tenant.memoryMb) {
          const plan = config.billing.plans.find((candidate) => candidate.id === tenant.plan);
          if (plan) checkPlanShape(p, plan, { memoryMb: patch.memoryMb });
          changes.memoryMb = patch.memoryMb;
        }
        if (Object.keys(changes).length > 1) {
          changes.eventSeq = appendEvent(
            deps.db,
            tx,
            tenant,
            { type: 'tenant_updated', message: 'Settings changed.', data: { ...patch } },
            now,
          );
          tx.update(deps.db.doc(tenantPath(id)), changes);
        }
        return { ...tenant, ...changes, memoryChanged: changes.memoryMb !== undefined };
      });
      // New memory takes effect through a restart of running environments.
      if (result.memoryChanged && result.state === 'ready' && !result.operation) {
        return startOperation(ctx, p, id, 'tenants.operate', 'restart', { message: `Restarting with ${result.memoryMb} MiB.` });
      }
      const { memoryChanged: _m, ...tenant } = result;
      return toTenant(tenant);
    },
    restore: (p, id) => restoreTenant(deps, p, id),
    remove: (p, id) => startOperation(ctx, p, id, 'tenants.delete', 'delete', { message: 'Deleting the tenant and everything it owns.' }),
    suspend: (p, id) =>
      startOperation(ctx, p, id, 'tenants.operate', 'suspend', { message: 'Suspending: scaling every environment to zero.' }),
    resume: (p, id) => startOperation(ctx, p, id, 'tenants.operate', 'resume', { message: 'Resuming every environment.' }),
    restart: (p, id) => startOperation(ctx, p, id, 'tenants.operate', 'restart', { message: 'Restarting every environment.' }),
    retryProvision: (p, id) => startOperation(ctx, p, id, 'tenants.operate', 'provision', { message: 'Retrying provisioning.' }),
    async status(p, id) {
      const tenant = await load(p, id);
      return { tenant: toTenant(tenant), environments: await listEnvironments(deps.db, id) };
    },
    async environments(p, id) {
      await load(p, id);
      return listEnvironments(deps.db, id);
    },
    async resetEnvironment(p, id, env) {
      if (env === 'live') throw new AppError('forbidden', 'The live environment is protected and cannot be reset.', { env });
      if (env !== 'test' && env !== 'demo') throw new AppError('invalid_request', `Unknown environment "${env}"; use test or demo.`);
      return startOperation(ctx, p, id, 'tenants.operate', 'reset', {
        env,
        message: `Resetting ${env}: its data is wiped and it is provisioned again.`,
        check: (t) => {
          if (!t.environments.includes(env)) throw notFound(`Environment ${env} of tenant ${id}`);
        },
      });
    },
    async deploy(p, id, image) {
      // Ownership first: a stranger learns nothing about the tenant from validation errors.
      await live(p, id, 'tenants.deploy');
      // A tag becomes its digest here, so the operation (and every retry of it) runs exactly what was pushed now.
      const resolved = await resolveDeployImage(config, () => deps.gcp, id, image);
      return startOperation(ctx, p, id, 'tenants.deploy', 'deploy', { image: resolved, message: `Deploying ${resolved}.` });
    },
    async registryToken(p, id) {
      const tenant = await live(p, id, 'tenants.deploy');
      return makeRegistryToken(config, () => deps.gcp, tenant.id, deps.now());
    },
    async logs(p, id, raw) {
      const tenant = await live(p, id);
      const query = parseInput(logsQuerySchema, raw);
      const env = (query.env as EnvName | undefined) ?? (tenant.environments.includes('live') ? 'live' : tenant.environments[0]);
      if (!tenant.environments.includes(env)) throw notFound(`Environment ${env} of tenant ${id}`);
      const driver = driverFor(tenant);
      if (!driver.logs) throw notSupported(driver.name, 'logs');
      return driver.logs({ ownerId: tenant.ownerId, tenantId: id, env }, { since: query.since, limit: query.limit ?? 100 });
    },
    async metrics(p, id) {
      const tenant = await live(p, id);
      const driver = driverFor(tenant);
      if (!driver.metrics) throw notSupported(driver.name, 'metrics');
      const out: Partial<Record<EnvName, Awaited<ReturnType<NonNullable<typeof driver.metrics>>> | null>> = {};
      for (const env of tenant.environments) {
        out[env] = await driver.metrics({ ownerId: tenant.ownerId, tenantId: id, env }).catch(() => null);
      }
      await recordMetricsSamples(deps.db, id, out, deps.now());
      return out;
    },
    async metricsHistory(p, id, query) {
      const tenant = await live(p, id);
      const env = query.env ?? 'live';
      if (!tenant.environments.includes(env as EnvName)) throw notFound(`Environment ${env} of tenant ${id}`);
      const limit = Math.min(Math.max(Number(query.limit) || 60, 1), 1440);
      return readMetricsHistory(deps.db, id, env, limit);
    },
    async events(p, id, afterId) {
      await load(p, id);
      return listEvents(deps.db, id, afterId);
    },
  };
  return service;
}
