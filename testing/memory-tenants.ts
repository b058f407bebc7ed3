/**
 * An in-memory TenantService for chat tests (imported only by tests). It keeps
 * the contract's authorization rules (shared/auth/authorize.ts) and state
 * machine, so the chat is tested against the behaviour it relies on, while
 * the real service is tested on its own.
 */
import { authorize } from '../shared/auth/authorize.ts';
import type { Principal } from '../shared/auth/principal.ts';
import { AppError, conflict, illegalTransition, notFound, notSupported, validationFailed } from '../shared/errors.ts';
import type { EnvironmentMetrics, LogLine } from '../shared/runtime/types.ts';
import type { EnvName, Tenant, TenantService } from '../shared/tenants/types.ts';
import { requireDeployableImage } from '../shared/tenants/registry.ts';
import type { Config } from '../shared/config.ts';

export interface MemoryTenants extends TenantService {
  /** Log lines each tenant's environments return. */
  setLogs(tenantId: string, lines: LogLine[]): void;
  /** Every call the chat made, for asserting that nothing ran. */
  readonly calls: { method: string; id?: string; uid: string }[];
  all(): Tenant[];
}

/**
 * Builds an in-memory tenants service for chat tests. It needs the registry
 * config (to refuse images as the real service does) and optionally a clock;
 * it records every call so a test can assert that nothing ran.
 */
export function createMemoryTenants(options: { registry: Config['registry']; now?: () => Date }): MemoryTenants {
  const tenants = new Map<string, Tenant>();
  const logs = new Map<string, LogLine[]>();
  const calls: MemoryTenants['calls'] = [];
  const now = () => (options.now ?? (() => new Date()))().toISOString();
  let seq = 0;

  function load(p: Principal, id: string, method: string, action: Parameters<typeof authorize>[1] = 'tenants.read'): Tenant {
    calls.push({ method, id, uid: p.uid });
    const tenant = tenants.get(id);
    if (!tenant || tenant.state === 'deleted') throw notFound(`Tenant ${id}`);
    authorize(p, action, tenant);
    return tenant;
  }
  function transition(t: Tenant, from: Tenant['state'][], to: Tenant['state'], verb: string): Tenant {
    if (!from.includes(t.state)) throw illegalTransition(t.state, verb);
    Object.assign(t, { state: to, generation: t.generation + 1, updatedAt: now() });
    return { ...t };
  }

  const service: MemoryTenants = {
    calls,
    all: () => [...tenants.values()],
    setLogs: (id, lines) => void logs.set(id, lines),
    async create(p, input) {
      calls.push({ method: 'create', uid: p.uid });
      authorize(p, 'tenants.create');
      if (!/^[a-z][a-z0-9-]{1,28}[a-z0-9]$/.test(input.name)) throw validationFailed('name: use 3–30 lowercase letters, digits or dashes.');
      const ownerId = input.ownerId ?? p.uid;
      if ([...tenants.values()].some((t) => t.ownerId === ownerId && t.name === input.name && t.state !== 'deleted')) {
        throw conflict(`You already have a tenant named "${input.name}".`);
      }
      const id = `t-${(++seq).toString().padStart(10, 'a').replace(/[01]/g, 'b')}`;
      const tenant: Tenant = {
        id,
        name: input.name,
        ownerId,
        plan: input.plan ?? 'pro',
        region: 'us-central1',
        memoryMb: 512,
        state: 'ready',
        environments: input.environments ?? (['demo', 'test', 'live'] as EnvName[]),
        driver: 'local',
        image: options.registry.defaultImage,
        generation: 1,
        urls: { live: `http://127.0.0.1/${id}` },
        createdAt: now(),
        updatedAt: now(),
      };
      tenants.set(id, tenant);
      return { ...tenant };
    },
    async list(p, opts = {}) {
      calls.push({ method: 'list', uid: p.uid });
      const owner = p.role === 'admin' ? opts.ownerId : p.uid;
      const items = [...tenants.values()].filter((t) => t.state !== 'deleted' && (!owner || t.ownerId === owner));
      return { items: items.slice(0, opts.pageSize ?? 50) };
    },
    async get(p, id) {
      return { ...load(p, id, 'get') };
    },
    async resolve(p, idOrName) {
      calls.push({ method: 'resolve', id: idOrName, uid: p.uid });
      const visible = [...tenants.values()].filter((t) => t.state !== 'deleted' && (p.role === 'admin' || t.ownerId === p.uid));
      const byId = visible.find((t) => t.id === idOrName);
      if (byId) return { ...byId };
      const byName = visible.filter((t) => t.name === idOrName);
      if (byName.length > 1) throw new AppError('conflict', `More than one tenant is named "${idOrName}"; use its id.`);
      if (byName.length === 0) throw notFound(`Tenant ${idOrName}`);
      return { ...byName[0] };
    },
    async suspend(p, id) {
      return transition(load(p, id, 'suspend', 'tenants.operate'), ['ready'], 'suspended', 'suspend');
    },
    async resume(p, id) {
      return transition(load(p, id, 'resume', 'tenants.operate'), ['suspended'], 'ready', 'resume');
    },
    async remove(p, id) {
      return transition(load(p, id, 'remove', 'tenants.delete'), ['ready', 'suspended', 'failed', 'provisioning'], 'deleted', 'delete');
    },
    async deploy(p, id, image) {
      const t = load(p, id, 'deploy', 'tenants.deploy');
      // The real rule (no digest resolution here: this store has no registry).
      requireDeployableImage({ registry: options.registry }, id, image);
      t.image = image;
      return transition(t, ['ready'], 'ready', 'deploy');
    },
    async status(p, id) {
      const t = load(p, id, 'status');
      const environments = t.environments.map((env) => ({
        tenantId: id,
        env,
        status: t.state === 'suspended' ? ('suspended' as const) : ('ready' as const),
        image: t.image,
        steps: [],
        updatedAt: t.updatedAt,
      }));
      return { tenant: { ...t }, environments };
    },
    async logs(p, id, query) {
      load(p, id, 'logs');
      return (logs.get(id) ?? []).slice(-(query.limit ?? 100));
    },
    async metrics(p, id) {
      const t = load(p, id, 'metrics');
      const sample: EnvironmentMetrics = { cpu: 0.05, memoryBytes: 64 * 1_048_576, requests: 12, uptimeSeconds: 30, sampledAt: now() };
      return Object.fromEntries(t.environments.map((env) => [env, t.state === 'ready' ? sample : null]));
    },
    async update() {
      throw notSupported('memory', 'update');
    },
    async restart() {
      throw notSupported('memory', 'restart');
    },
    async retryProvision() {
      throw notSupported('memory', 'retryProvision');
    },
    async environments() {
      throw notSupported('memory', 'environments');
    },
    async resetEnvironment() {
      throw notSupported('memory', 'resetEnvironment');
    },
    async registryToken() {
      throw notSupported('memory', 'registryToken');
    },
    async events() {
      return [];
    },
  };
  return service;
}
