/**
 * A fake of the Fly.io Machines REST API plus the few GraphQL operations the
 * Machines API does not offer (IP addresses, certificates, app secrets), as one
 * real HTTP server. Follows:
 * - https://fly.io/docs/machines/api/ (bearer token auth; apps: `POST /v1/apps`
 *   {app_name, org_slug} → 201, `GET|DELETE /v1/apps/{app}`; volumes: `GET|POST
 *   /v1/apps/{app}/volumes` {name, region, size_gb}, `DELETE …/volumes/{id}`; machines:
 *   `GET|POST /v1/apps/{app}/machines`, `GET|POST(update) …/machines/{id}`, `POST …/stop`,
 *   `…/start`, `…/restart`, `GET …/wait?state=&timeout=` (408 on timeout),
 *   `DELETE …/machines/{id}?force=true`; errors as `{error: "..."}`)
 * - https://fly.io/docs/machines/machine-states/ (created → starting → started,
 *   stopping → stopped, replacing/updating, destroying → destroyed; transitions take time)
 * - Fly GraphQL API (`POST /graphql`): `allocateIpAddress(input: {appId, type})`,
 *   `addCertificate(appId, hostname)`, `setSecrets(input: {appId, secrets: [{key, value}]})`,
 *   `app(name) { ipAddresses { nodes } certificates { nodes } }`; errors in `errors[]`.
 *   Only these operations are recognised, by their root field name, with `variables`.
 * A volume attaches to one machine at a time; an unstarted app has no URL until it has an IP.
 */
import { createTimerSet, randomHex, startFakeServer, type FakeResponse, type RecordedRequest } from './http-server.ts';

type Json = Record<string, any>;

export interface FlyFakeOptions {
  /** Token the API accepts (default `fake-fly-token`). */
  token?: string;
  /** How long state transitions take (default 150 ms). */
  delayMs?: number;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
}

const err = (status: number, error: string): FakeResponse => ({ status, body: { error } });

/** Starts the fake. Use `baseUrl: fake.url` and `graphqlUrl: fake.url + '/graphql'`. */
export async function startFlyFake(options: FlyFakeOptions = {}) {
  const token = options.token ?? 'fake-fly-token';
  const delay = options.delayMs ?? 150;
  const timers = createTimerSet();
  let closed = false;
  const apps = new Map<
    string,
    { app: Json; machines: Map<string, Json>; volumes: Map<string, Json>; ips: Json[]; certificates: Json[]; secrets: Map<string, string> }
  >();

  function transition(machine: Json, via: string, to: string) {
    machine.state = via;
    machine.updated_at = new Date().toISOString();
    timers.after(delay, () => {
      if (machine.state !== via) return;
      machine.state = to;
      machine.updated_at = new Date().toISOString();
      machine.events.unshift({ type: to === 'started' ? 'start' : to === 'stopped' ? 'stop' : to, status: to, timestamp: Date.now() });
    });
  }

  function validConfig(config: Json | undefined): string | undefined {
    if (!config?.image) return 'config.image is required';
    const memory = config.guest?.memory_mb;
    if (memory !== undefined && (memory < 256 || memory % 256 !== 0)) return `invalid memory size ${memory}MB: must be a multiple of 256`;
    return undefined;
  }

  function attach(entry: NonNullable<ReturnType<typeof apps.get>>, config: Json, machineId: string): string | undefined {
    for (const mount of (config.mounts ?? []) as Json[]) {
      const volume = entry.volumes.get(mount.volume);
      if (!volume) return `volume ${mount.volume} not found`;
      if (volume.attached_machine_id && volume.attached_machine_id !== machineId)
        return `volume ${mount.volume} is already attached to machine ${volume.attached_machine_id}`;
      volume.attached_machine_id = machineId;
    }
    return undefined;
  }

  async function rest(request: RecordedRequest): Promise<FakeResponse> {
    const { method, path, query } = request;
    const body = (request.body ?? {}) as Json;
    if (path === '/v1/apps' && method === 'POST') {
      if (!/^[a-z0-9-]{2,63}$/.test(body.app_name ?? '')) return err(400, `invalid app name "${body.app_name}"`);
      if (!body.org_slug) return err(400, 'org_slug is required');
      if (apps.has(body.app_name)) return err(409, `app "${body.app_name}" already exists`);
      apps.set(body.app_name, {
        app: { name: body.app_name, id: randomHex(14), organization: { slug: body.org_slug }, status: 'pending', machine_count: 0 },
        machines: new Map(),
        volumes: new Map(),
        ips: [],
        certificates: [],
        secrets: new Map(),
      });
      return { status: 201, body: {} };
    }
    const m = /^\/v1\/apps\/([^/]+)(?:\/(machines|volumes)(?:\/([^/]+))?(?:\/(stop|start|restart|wait))?)?$/.exec(path);
    if (!m) return err(404, `no route for ${method} ${path}`);
    const [, appName, collection, id, action] = m;
    const entry = apps.get(appName);
    if (!entry) return err(404, `app not found`);
    if (!collection) {
      if (method === 'GET') return { status: 200, body: { ...entry.app, machine_count: entry.machines.size } };
      if (method === 'DELETE') {
        apps.delete(appName);
        return { status: 202, body: {} };
      }
    }
    if (collection === 'volumes') {
      if (!id && method === 'GET') return { status: 200, body: [...entry.volumes.values()] };
      if (!id && method === 'POST') {
        if (!/^[a-z0-9_]{1,30}$/.test(body.name ?? '')) return err(400, `invalid volume name "${body.name}"`);
        if (!body.region) return err(400, 'region is required');
        const volume = {
          id: `vol_${randomHex(16)}`,
          name: body.name,
          region: body.region,
          size_gb: body.size_gb ?? 1,
          state: 'created',
          attached_machine_id: null,
          created_at: new Date().toISOString(),
        };
        entry.volumes.set(volume.id, volume);
        return { status: 200, body: volume };
      }
      const volume = id ? entry.volumes.get(id) : undefined;
      if (!volume) return err(404, 'volume not found');
      if (method === 'GET') return { status: 200, body: volume };
      if (method === 'DELETE') {
        if (volume.attached_machine_id && entry.machines.has(volume.attached_machine_id))
          return err(412, `volume is attached to machine ${volume.attached_machine_id}; destroy it first`);
        entry.volumes.delete(volume.id);
        return { status: 200, body: { ...volume, state: 'destroyed' } };
      }
    }
    if (collection === 'machines' && !id) {
      if (method === 'GET') return { status: 200, body: [...entry.machines.values()] };
      if (method === 'POST') {
        const invalid = validConfig(body.config);
        if (invalid) return err(400, invalid);
        const machineId = randomHex(14);
        const problem = attach(entry, body.config, machineId);
        if (problem) return err(412, problem);
        const machine = {
          id: machineId,
          name: body.name ?? `machine-${machineId}`,
          region: body.region,
          instance_id: randomHex(26).toUpperCase(),
          config: body.config,
          state: 'created',
          events: [],
          created_at: new Date().toISOString(),
          updated_at: new Date().toISOString(),
          private_ip: 'fdaa::1',
        };
        entry.machines.set(machineId, machine);
        if (!body.skip_launch) transition(machine, 'starting', 'started');
        return { status: 200, body: machine };
      }
    }
    const machine = id ? entry.machines.get(id) : undefined;
    if (!machine) return err(404, 'machine not found');
    switch (`${method} ${action ?? ''}`) {
      case 'GET ':
        return { status: 200, body: machine };
      case 'POST ': {
        const invalid = validConfig(body.config);
        if (invalid) return err(400, invalid);
        const problem = attach(entry, body.config, machine.id);
        if (problem) return err(412, problem);
        machine.config = body.config;
        machine.instance_id = randomHex(26).toUpperCase();
        transition(machine, 'replacing', body.skip_launch ? 'stopped' : 'started');
        return { status: 200, body: machine };
      }
      case 'POST stop':
        if (machine.state === 'stopped') return { status: 200, body: { ok: true } };
        transition(machine, 'stopping', 'stopped');
        return { status: 200, body: { ok: true } };
      case 'POST start':
        if (!['stopped', 'suspended', 'created'].includes(machine.state))
          return err(412, `machine is in state ${machine.state}; only stopped machines can be started`);
        transition(machine, 'starting', 'started');
        return { status: 200, body: { previous_state: 'stopped' } };
      case 'POST restart':
        if (machine.state !== 'started') return err(412, `machine is in state ${machine.state}; it must be started to restart`);
        transition(machine, 'starting', 'started');
        return { status: 200, body: { ok: true } };
      case 'GET wait': {
        const state = query.get('state') ?? 'started';
        const deadline = Date.now() + Number(query.get('timeout') ?? 60) * 1000;
        while (machine.state !== state && entry.machines.get(machine.id) === machine && !closed) {
          if (Date.now() > deadline)
            return err(408, `deadline_exceeded: machine ${machine.id} did not reach state ${state} (is ${machine.state})`);
          await new Promise((r) => setTimeout(r, 25));
        }
        return machine.state === state ? { status: 200, body: { ok: true } } : err(404, 'machine not found');
      }
      case 'DELETE ': {
        if (machine.state === 'started' && query.get('force') !== 'true')
          return err(412, 'machine is running; stop it first or pass force=true');
        entry.machines.delete(machine.id);
        for (const volume of entry.volumes.values()) if (volume.attached_machine_id === machine.id) volume.attached_machine_id = null;
        return { status: 200, body: { ok: true } };
      }
    }
    return err(404, `no route for ${method} ${path}`);
  }

  function graphql(request: RecordedRequest): FakeResponse {
    const { query = '', variables = {} } = (request.body ?? {}) as { query?: string; variables?: Json };
    const gqlError = (message: string, code = 'NOT_FOUND'): FakeResponse => ({
      status: 200,
      body: { data: null, errors: [{ message, extensions: { code } }] },
    });
    const appOf = (name: string | undefined) => (name ? apps.get(name) : undefined);
    if (/\ballocateIpAddress\s*\(/.test(query)) {
      const entry = appOf(variables.input?.appId);
      if (!entry) return gqlError('Could not find App');
      if (!['v4', 'v6', 'shared_v4', 'private_v6'].includes(variables.input.type))
        return gqlError(`invalid type ${variables.input.type}`, 'BAD_REQUEST');
      const ip = {
        id: `ip_${randomHex(8)}`,
        type: variables.input.type,
        address: variables.input.type === 'shared_v4' ? '66.241.124.10' : `2a09:8280:1::${randomHex(4)}`,
        region: 'global',
        createdAt: new Date().toISOString(),
      };
      entry.ips.push(ip);
      return {
        status: 200,
        body: { data: { allocateIpAddress: { ipAddress: ip, app: { sharedIpAddress: ip.type === 'shared_v4' ? ip.address : null } } } },
      };
    }
    if (/\baddCertificate\s*\(/.test(query)) {
      const entry = appOf(variables.appId);
      if (!entry) return gqlError('Could not find App');
      if (entry.certificates.some((c) => c.hostname === variables.hostname))
        return gqlError('Hostname already exists on app', 'UNPROCESSABLE');
      const certificate = {
        id: `cert_${randomHex(8)}`,
        hostname: variables.hostname,
        configured: false,
        clientStatus: 'Awaiting configuration',
        createdAt: new Date().toISOString(),
      };
      entry.certificates.push(certificate);
      return { status: 200, body: { data: { addCertificate: { certificate, app: { name: entry.app.name } } } } };
    }
    if (/\bsetSecrets\s*\(/.test(query)) {
      const entry = appOf(variables.input?.appId);
      if (!entry) return gqlError('Could not find App');
      for (const { key, value } of variables.input.secrets ?? []) entry.secrets.set(key, value);
      return { status: 200, body: { data: { setSecrets: { app: { name: entry.app.name }, release: null } } } };
    }
    if (/\bapp\s*\(\s*name\s*:/.test(query)) {
      const entry = appOf(variables.name);
      if (!entry) return gqlError('Could not find App');
      return {
        status: 200,
        body: {
          data: {
            app: {
              name: entry.app.name,
              ipAddresses: { nodes: entry.ips },
              certificates: { nodes: entry.certificates },
              secrets: [...entry.secrets.keys()].map((name) => ({ name })),
            },
          },
        },
      };
    }
    return gqlError('unsupported operation in the fake', 'BAD_REQUEST');
  }

  const server = await startFakeServer(
    async (request) => {
      if (request.headers.authorization !== `Bearer ${token}`)
        return request.path === '/graphql'
          ? { status: 401, body: { errors: [{ message: 'You must be authenticated to view this.' }] } }
          : err(401, 'unauthorized');
      return request.path === '/graphql' && request.method === 'POST' ? graphql(request) : rest(request);
    },
    { port: options.port },
  );

  return {
    ...server,
    token,
    apps,
    /** True when `url` would reach a started machine: app with an IP (and a certificate for custom hosts). */
    isServing(url: string): boolean {
      const host = new URL(url).hostname;
      for (const entry of apps.values()) {
        const matches = host === `${entry.app.name}.fly.dev` || entry.certificates.some((c) => c.hostname === host);
        if (!matches) continue;
        return (
          entry.ips.length > 0 &&
          [...entry.machines.values()].some((machine) => machine.state === 'started' && (machine.config.services ?? []).length > 0)
        );
      }
      return false;
    },
    async close() {
      closed = true;
      timers.clear();
      await server.close();
    },
  };
}

/** The running Fly fake. */
export type FlyFake = Awaited<ReturnType<typeof startFlyFake>>;
