/**
 * Fly.io driver (R-RUNTIME-FLY): per environment one Fly app
 * `<appPrefix>-<tenantId>-<env>` with a volume, a shared IPv4 and an IPv6, an
 * optional certificate for a custom host, app secrets, then one Machine running
 * the image. Suspend stops the machine, resume starts it; the app, its IPs and
 * its URL stay. Apps and volumes take no labels in the Machines API, so the
 * labels go on the machine's `config.metadata` and the ids are in the names.
 * The app is also the runtime identity (its secrets, its machines' OIDC tokens),
 * so the name must never be shared by two environments: see {@link flyAppName}.
 */
import { createHash } from 'node:crypto';
import { createFlyApi, FLY_GRAPHQL, FlyApiError, type FlyApi } from './api.ts';
import { DriverError, type EnvironmentRef, type EnvironmentSpec, type EnvironmentStatus, type RuntimeDriver } from '../types.ts';
import type { FlyDriverOptions } from './options.ts';

const VOLUME_NAME = 'data';

/**
 * The Fly app of an environment, `<prefix>-<tenantId>-<env>`. Tenant and project
 * ids are lowercase labels and envs one word, so that name is unique. Any other
 * input (upper case, other characters, too long) would be folded onto a name
 * another environment may own; it gets a hash of the exact ids appended instead.
 */
export function flyAppName(prefix: string, ref: EnvironmentRef): string {
  const plain = `${prefix}-${ref.tenantId}-${ref.env}`;
  if (/^[a-z0-9]+(-[a-z0-9]+)*$/.test(plain) && /^[a-z0-9]+$/.test(ref.env) && plain.length <= 63) return plain;
  const hash = createHash('sha256').update(`${ref.tenantId}\n${ref.env}`).digest('hex').slice(0, 8);
  const base = plain
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 54)
    .replace(/-+$/, '');
  return `${base}-${hash}`;
}

/** Creates the Fly driver. Throws a `not_configured` DriverError naming a missing option. */
export function createFlyDriver(options: FlyDriverOptions): RuntimeDriver {
  for (const [key, example] of [
    ['apiToken', '"FlyV1 fm2_…"'],
    ['orgSlug', '"personal"'],
    ['region', '"ams"'],
  ] as const) {
    if (!options?.[key]) throw new DriverError('fly', 'not_configured', `fly driver: option "${key}" is missing (e.g. ${example}).`);
  }
  const prefix = options.appPrefix ?? 'tp';
  const port = options.internalPort ?? 8080;
  const waitSeconds = options.waitTimeoutSeconds ?? 60;
  let api: FlyApi | undefined;
  const fly = () =>
    (api ??= createFlyApi({
      apiToken: options.apiToken,
      baseUrl: options.baseUrl ?? 'https://api.machines.dev',
      graphqlUrl: options.graphqlUrl ?? 'https://api.fly.io/graphql',
      fetch: options.fetch ?? globalThis.fetch,
    }));

  const appOf = (ref: EnvironmentRef) => flyAppName(prefix, ref);
  const urlOf = (ref: EnvironmentRef) =>
    `https://${options.customDomain ? `${appOf(ref)}.${options.customDomain}` : `${appOf(ref)}.fly.dev`}`;
  const machinesPath = (ref: EnvironmentRef) => `/v1/apps/${appOf(ref)}/machines`;

  async function ensureApp(ref: EnvironmentRef): Promise<void> {
    if (await fly().restOptional('GET', `/v1/apps/${appOf(ref)}`)) return;
    try {
      await fly().rest('POST', '/v1/apps', { app_name: appOf(ref), org_slug: options.orgSlug });
    } catch (error) {
      // Another delivery of the same step created it first: fine if it exists now.
      if (!(await fly().restOptional('GET', `/v1/apps/${appOf(ref)}`))) throw error;
    }
  }

  async function ensureVolume(ref: EnvironmentRef): Promise<string> {
    const volumes = (await fly().rest<any[]>('GET', `/v1/apps/${appOf(ref)}/volumes`)) ?? [];
    const existing = volumes.find((v) => v.name === VOLUME_NAME && v.state !== 'destroyed');
    if (existing) return existing.id;
    const created = await fly().rest('POST', `/v1/apps/${appOf(ref)}/volumes`, {
      name: VOLUME_NAME,
      region: options.region,
      size_gb: options.volumeSizeGb ?? 1,
    });
    return created.id;
  }

  async function ensureNetwork(ref: EnvironmentRef): Promise<void> {
    const { app } = await fly().graphql(FLY_GRAPHQL.app, { name: appOf(ref) });
    const types = new Set<string>(app.ipAddresses.nodes.map((ip: { type: string }) => ip.type));
    for (const type of ['shared_v4', 'v6']) {
      if (!types.has(type)) await fly().graphql(FLY_GRAPHQL.allocateIp, { input: { appId: appOf(ref), type } });
    }
    if (options.customDomain) {
      const hostname = new URL(urlOf(ref)).hostname;
      if (!app.certificates.nodes.some((c: { hostname: string }) => c.hostname === hostname))
        await fly().graphql(FLY_GRAPHQL.addCertificate, { appId: appOf(ref), hostname });
    }
  }

  async function setSecrets(spec: EnvironmentSpec): Promise<void> {
    const secrets = Object.entries(spec.secrets).map(([key, value]) => ({ key, value }));
    if (secrets.length) await fly().graphql(FLY_GRAPHQL.setSecrets, { input: { appId: appOf(spec), secrets } });
  }

  async function findMachine(ref: EnvironmentRef): Promise<any | undefined> {
    const machines = await fly().restOptional<any[]>('GET', machinesPath(ref));
    return machines?.find((m) => m.state !== 'destroyed');
  }

  async function requireMachine(ref: EnvironmentRef, what: string): Promise<any> {
    const machine = await findMachine(ref);
    if (!machine) throw new DriverError('fly', 'not_found', `fly: no machine in app ${appOf(ref)} to ${what}; deploy it first.`);
    return machine;
  }

  /** Blocks on the Machines API `wait` endpoint until the machine reaches `state`. */
  async function waitFor(ref: EnvironmentRef, id: string, state: 'started' | 'stopped', timeoutMs = waitSeconds * 1000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seconds = Math.max(1, Math.min(waitSeconds, Math.ceil((deadline - Date.now()) / 1000)));
      try {
        await fly().rest('GET', `${machinesPath(ref)}/${id}/wait?state=${state}&timeout=${seconds}`);
        return;
      } catch (error) {
        if (!(error instanceof FlyApiError && error.status === 408) || Date.now() >= deadline) {
          if (error instanceof FlyApiError && error.status === 408)
            throw new DriverError('fly', 'timeout', `fly: machine ${id} of ${appOf(ref)} did not reach ${state} in ${timeoutMs} ms.`);
          throw error;
        }
      }
    }
  }

  function machineConfig(spec: EnvironmentSpec, volumeId: string) {
    return {
      image: spec.image,
      env: { ...spec.vars, PORT: String(port) },
      guest: { cpu_kind: 'shared', cpus: 1, memory_mb: spec.memoryMb },
      metadata: { ...spec.labels, 'tenantplane-tenant-id': spec.tenantId, 'tenantplane-env': spec.env },
      mounts: [{ volume: volumeId, path: '/data' }],
      restart: { policy: 'on-failure' },
      services: [
        {
          protocol: 'tcp',
          internal_port: port,
          autostop: 'off',
          ports: [
            { port: 80, handlers: ['http'], force_https: true },
            { port: 443, handlers: ['tls', 'http'] },
          ],
        },
      ],
    };
  }

  function describe(ref: EnvironmentRef, machine: any): EnvironmentStatus {
    const url = urlOf(ref);
    if (!machine) return { state: 'provisioning', ready: false, url, message: 'app ready; no machine deployed yet' };
    const image: string | undefined = machine.config?.image;
    switch (machine.state) {
      case 'started':
        return { state: 'running', ready: true, url, image };
      case 'stopped':
      case 'suspended':
      case 'stopping':
      case 'suspending':
        return { state: 'stopped', ready: false, url, image };
      case 'failed':
        return { state: 'failed', ready: false, url, image, message: `machine ${machine.id} failed` };
      default:
        return { state: 'provisioning', ready: false, url, image, message: `machine ${machine.state}` };
    }
  }

  return {
    name: 'fly',
    flags: { logs: false, metrics: false, restart: true, volumes: true },

    async ensureInfrastructure(spec) {
      await ensureApp(spec);
      await ensureVolume(spec);
      await ensureNetwork(spec);
      await setSecrets(spec);
      return { url: urlOf(spec) };
    },

    async deploy(spec) {
      await ensureApp(spec);
      const volumeId = await ensureVolume(spec);
      await setSecrets(spec);
      const config = machineConfig(spec, volumeId);
      const existing = await findMachine(spec);
      const machine = existing
        ? await fly().rest('POST', `${machinesPath(spec)}/${existing.id}`, { config, region: options.region })
        : await fly().rest('POST', machinesPath(spec), { name: 'app', region: options.region, config });
      await waitFor(spec, machine.id, 'started');
    },

    async waitReady(ref, { timeoutMs = 120_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await this.status(ref);
        if (status.ready) return status;
        if (status.state === 'failed') throw new DriverError('fly', 'failed', `fly: ${appOf(ref)} failed: ${status.message}`);
        const machine = status.state === 'absent' ? undefined : await findMachine(ref);
        if (!machine || status.state === 'stopped' || Date.now() >= deadline) {
          throw new DriverError(
            'fly',
            'timeout',
            `fly: ${appOf(ref)} is not ready (state ${status.state}${status.message ? `: ${status.message}` : ''}).`,
          );
        }
        await waitFor(ref, machine.id, 'started', Math.max(1000, deadline - Date.now())).catch(() => undefined);
      }
    },

    async status(ref) {
      if (!(await fly().restOptional('GET', `/v1/apps/${appOf(ref)}`))) return { state: 'absent', ready: false };
      return describe(ref, await findMachine(ref));
    },

    async suspend(ref) {
      const machine = await requireMachine(ref, 'suspend');
      if (machine.state !== 'stopped') await fly().rest('POST', `${machinesPath(ref)}/${machine.id}/stop`);
      await waitFor(ref, machine.id, 'stopped');
    },

    async resume(ref) {
      const machine = await requireMachine(ref, 'resume');
      // Starting is only valid from a stopped state; a started machine is already resumed.
      if (['stopped', 'suspended', 'created'].includes(machine.state)) await fly().rest('POST', `${machinesPath(ref)}/${machine.id}/start`);
      await waitFor(ref, machine.id, 'started');
    },

    async restart(ref) {
      const machine = await requireMachine(ref, 'restart');
      await fly().rest('POST', `${machinesPath(ref)}/${machine.id}/restart`);
      await waitFor(ref, machine.id, 'started');
    },

    async destroy(ref) {
      const app = appOf(ref);
      for (const machine of (await fly().restOptional<any[]>('GET', machinesPath(ref))) ?? []) {
        await fly().restOptional('DELETE', `${machinesPath(ref)}/${machine.id}?force=true`);
      }
      for (const volume of (await fly().restOptional<any[]>('GET', `/v1/apps/${app}/volumes`)) ?? []) {
        await fly().restOptional('DELETE', `/v1/apps/${app}/volumes/${volume.id}`);
      }
      // Deleting the app releases its IPs, certificates and secrets with it.
      await fly().restOptional('DELETE', `/v1/apps/${app}`);
    },
  };
}
