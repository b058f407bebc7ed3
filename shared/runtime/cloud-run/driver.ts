/**
 * Cloud Run driver (R-RUNTIME-CLOUDRUN): one Cloud Run service per tenant
 * environment through the Admin API v2 (`@google-cloud/run` ServicesClient),
 * secrets in Secret Manager referenced from the container env, URL from the
 * service's `uri`, logs from Cloud Logging and metrics from Cloud Monitoring
 * (observe.ts). Each tenant's services run as that tenant's own service
 * account (shared/gcp/names.ts), which may read that tenant's secrets alone.
 *
 * Updates by revision (https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration):
 * a deploy or restart names its revision after its template
 * (`template.revision` = `<service>-r<hash>`), patches the service with
 * `traffic` pinned (TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, 100 %) to the
 * revision serving now, waits for the long-running Operation, checks the new
 * revision's `Ready` condition (RevisionsClient.getRevision), and only then
 * moves the traffic to it. A revision that never gets ready takes no request
 * and the deploy fails with Cloud Run's reason. Deploying a template whose
 * revision exists already (a rollback to the previous image) moves the
 * traffic back to that revision without building a new one.
 * Clients are created on first use, so importing this file
 * costs nothing and a missing option is reported when the driver is created.
 */
import { ensureTenantServiceAccount } from '../../gcp/identity.ts';
import { tenantServiceAccountEmail } from '../../gcp/names.ts';
import { createGoogleRest } from '../../gcp/rest.ts';
import { createObserveClients, limitsOf, readServiceLogs, readServiceMetrics } from './observe.ts';
import {
  deleteSecrets,
  describeGoogleError,
  describeService,
  GrpcCode,
  hasCode,
  labelsOf,
  serviceIdOf,
  syncSecrets,
  type SecretManagerLike,
} from './resources.ts';
import { createHash } from 'node:crypto';
import { DriverError, type DriverFlags, type EnvironmentRef, type EnvironmentSpec, type RuntimeDriver } from '../types.ts';
import type { CloudRunDriverOptions } from './options.ts';
import { pollUntilReady } from '../poll-until-ready.ts';

/**
 * Google's public "hello" placeholder. Cloud Run cannot create a service without
 * an image, and the URL only exists once the service does; deploying this
 * placeholder in phase 1 gives the tenant its final URL before its image is ready.
 */
export const CLOUD_RUN_PLACEHOLDER_IMAGE = 'us-docker.pkg.dev/cloudrun/container/placeholder';

const RESTARTED_AT = 'tenantplane-restarted-at';
const BY_REVISION = 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION';
const SECRET_VERSIONS = 'tenantplane-secret-versions';

type Service = Record<string, any>;

/** Creates the Cloud Run driver. Throws a `not_configured` DriverError naming a missing option. */
export function createCloudRunDriver(options: CloudRunDriverOptions): RuntimeDriver {
  for (const key of ['projectId', 'region'] as const) {
    if (!options?.[key]) {
      throw new DriverError(
        'cloud-run',
        'not_configured',
        `cloud-run driver: option "${key}" is missing (e.g. ${key === 'projectId' ? '"acme-prod"' : '"europe-west1"'}).`,
      );
    }
  }
  const { projectId, region } = options;
  const parent = `projects/${projectId}/locations/${region}`;
  const placeholder = options.placeholderImage ?? CLOUD_RUN_PLACEHOLDER_IMAGE;
  const ingressWhenRunning = options.ingressWhenRunning ?? 'INGRESS_TRAFFIC_ALL';
  const pollIntervalMs = options.pollIntervalMs ?? 2000;
  let services: Promise<any> | undefined;
  let revisionsClient: Promise<any> | undefined;
  let secrets: Promise<SecretManagerLike> | undefined;

  function revisionClient(): Promise<any> {
    revisionsClient ??= import('@google-cloud/run').then(
      (mod: any) => new (mod.RevisionsClient ?? mod.default.RevisionsClient)(options.clientOptions ?? {}),
    );
    return revisionsClient;
  }

  async function getRevision(name: string): Promise<Service | undefined> {
    try {
      const [revision] = await (await revisionClient()).getRevision({ name });
      return revision;
    } catch (error) {
      if (hasCode(error, GrpcCode.NOT_FOUND)) return undefined;
      throw wrap(error, `reading revision ${name}`);
    }
  }

  function runClient(): Promise<any> {
    services ??= import('@google-cloud/run').then(
      (mod: any) => new (mod.ServicesClient ?? mod.default.ServicesClient)(options.clientOptions ?? {}),
    );
    return services;
  }
  function secretClient(): Promise<SecretManagerLike> {
    secrets ??= import('@google-cloud/secret-manager').then(
      (mod: any) =>
        new (mod.SecretManagerServiceClient ?? mod.default.SecretManagerServiceClient)(
          options.secretManagerClientOptions ?? options.clientOptions ?? {},
        ),
    );
    return secrets;
  }
  const observe = createObserveClients(
    projectId,
    options.loggingClientOptions ?? options.clientOptions ?? {},
    options.monitoringClientOptions ?? options.clientOptions ?? {},
  );
  const nameOf = (ref: EnvironmentRef) => `${parent}/services/${serviceIdOf(ref)}`;
  const iam = createGoogleRest(options.iamClientOptions ?? options.clientOptions ?? {});
  const accounts = new Map<string, Promise<string>>();

  /** The tenant's runtime identity, ensured once per driver (look up before create, so a second driver or a retry converges). */
  function ensureAccount(ref: EnvironmentRef): Promise<string> {
    let account = accounts.get(ref.tenantId);
    if (!account) {
      account = ensureTenantServiceAccount(iam, { projectId, ...options.platform }, ref.tenantId).catch((error) => {
        accounts.delete(ref.tenantId);
        throw wrap(error, `ensuring service account ${tenantServiceAccountEmail(projectId, ref.tenantId)}`);
      });
      accounts.set(ref.tenantId, account);
    }
    return account;
  }

  async function getService(ref: EnvironmentRef): Promise<Service | undefined> {
    try {
      const [service] = await (await runClient()).getService({ name: nameOf(ref) });
      return service;
    } catch (error) {
      if (hasCode(error, GrpcCode.NOT_FOUND)) return undefined;
      throw wrap(error, `reading service ${nameOf(ref)}`);
    }
  }

  /** Waits for a long-running operation, turning a failed revision into a DriverError with Cloud Run's message. */
  async function settle(operationCall: Promise<any[]>, what: string): Promise<Service> {
    try {
      const [operation] = await operationCall;
      const [result] = await operation.promise();
      return result;
    } catch (error) {
      throw wrap(error, what);
    }
  }

  function template(spec: EnvironmentSpec, env: object[], annotations: Record<string, string>) {
    return {
      labels: labelsOf(spec, spec.labels),
      annotations,
      serviceAccount: tenantServiceAccountEmail(projectId, spec.tenantId),
      scaling: { minInstanceCount: 0 },
      // With resources set, Cloud Run allocates CPU all the time (billed per
      // instance) unless cpuIdle is sent as true (ResourceRequirements.cpuIdle).
      containers: [{ image: spec.image, env, resources: { limits: { memory: `${spec.memoryMb}Mi` }, cpuIdle: true } }],
    };
  }

  function running(): Pick<Service, 'ingress' | 'scaling'> {
    return { ingress: ingressWhenRunning, scaling: { scalingMode: 'AUTOMATIC', minInstanceCount: 0 } };
  }

  async function create(spec: EnvironmentSpec, body: Service): Promise<Service> {
    try {
      return await settle(
        (await runClient()).createService({ parent, serviceId: serviceIdOf(spec), service: body }),
        `creating service ${nameOf(spec)}`,
      );
    } catch (error) {
      // A concurrent or redelivered step created it first: converge on the existing one.
      if (hasCode(error, GrpcCode.ALREADY_EXISTS)) return (await getService(spec))!;
      throw error;
    }
  }

  /** The service, or a `not_found` DriverError saying it must be made first. */
  async function requireService(ref: EnvironmentRef): Promise<Service> {
    const service = await getService(ref);
    if (!service)
      throw new DriverError(
        'cloud-run',
        'not_found',
        `cloud-run: no service for ${ref.tenantId}/${ref.env} (${nameOf(ref)}); run ensureInfrastructure and deploy first.`,
      );
    return service;
  }

  /** Read-modify-write with the etag; one retry when another writer got in between. */
  async function update(ref: EnvironmentRef, change: (service: Service) => Service, what: string): Promise<Service> {
    for (let attempt = 0; ; attempt++) {
      const current = await requireService(ref);
      try {
        return await settle(
          (await runClient()).updateService({ service: { ...withCpuIdle(change(current)), name: current.name, etag: current.etag } }),
          what,
        );
      } catch (error) {
        if (attempt === 0 && hasCode(error, GrpcCode.ABORTED)) continue;
        throw error;
      }
    }
  }

  /**
   * Rolls `next` (a template) out by revision: a new revision named after it
   * while the traffic stays on the one serving now, then, once it is ready,
   * all the traffic moved to it. A revision of the same template that exists
   * already gets the traffic back without a new build (rollback). `current`
   * is the service as just read.
   */
  async function rollTemplate(ref: EnvironmentRef, current: Service, next: Service, fields: Service, what: string): Promise<void> {
    const { revision: _previous, ...content } = next;
    const revision = revisionIdOf(serviceIdOf(ref), content);
    const revisionName = `${nameOf(ref)}/revisions/${revision}`;
    const serving = servingRevisionOf(current);
    if (serving === revision && (await isReady(revisionName))) {
      // Already serving it: only the service-level fields (labels, ingress, scaling) may need to follow.
      await update(ref, (now) => ({ ...now, ...fields }), what);
      return;
    }
    if (!(await getRevision(revisionName))) {
      try {
        await update(
          ref,
          (now) => ({
            ...now,
            ...fields,
            template: { ...content, revision },
            traffic: serving ? [{ type: BY_REVISION, revision: serving, percent: 100 }] : undefined,
          }),
          `${what} (new revision ${revision})`,
        );
      } catch (error) {
        if (!(error instanceof DriverError) || !serving) throw error;
        throw new DriverError('cloud-run', error.code, `${error.message}; the traffic stays on revision ${serving}`, { cause: error });
      }
    }
    const created = await getRevision(revisionName);
    const ready = created && readyCondition(created);
    if (ready?.state !== 'CONDITION_SUCCEEDED') {
      throw new DriverError(
        'cloud-run',
        'failed',
        `cloud-run: revision ${revision} of ${nameOf(ref)} is not ready (${ready?.message || ready?.state || 'no Ready condition'}); the traffic stays on ${serving ?? 'the previous revision'}.`,
      );
    }
    await update(
      ref,
      (now) => ({ ...now, ...fields, traffic: [{ type: BY_REVISION, revision, percent: 100 }] }),
      `moving the traffic of ${nameOf(ref)} to revision ${revision}`,
    );
  }

  async function isReady(revisionName: string): Promise<boolean> {
    const revision = await getRevision(revisionName);
    return readyCondition(revision)?.state === 'CONDITION_SUCCEEDED';
  }

  const flags: DriverFlags = { logs: true, metrics: true, restart: true, volumes: false };

  return {
    name: 'cloud-run',
    flags,

    async ensureInfrastructure(spec) {
      const account = await ensureAccount(spec);
      await syncSecrets(await secretClient(), projectId, spec, account).catch((error) => {
        throw wrap(error, 'storing secrets in Secret Manager');
      });
      const existing = await getService(spec);
      if (existing) return { url: existing.uri || undefined };
      const shell = {
        labels: labelsOf(spec, spec.labels),
        invokerIamDisabled: options.publicAccess ?? true,
        ...running(),
        template: template({ ...spec, image: placeholder, vars: {}, secrets: {} }, [], {}),
      };
      const created = await create(spec, shell);
      return { url: created?.uri || undefined };
    },

    async deploy(spec) {
      const account = await ensureAccount(spec);
      const { env: secretEnv, versionSummary } = await syncSecrets(await secretClient(), projectId, spec, account).catch((error) => {
        throw wrap(error, 'storing secrets in Secret Manager');
      });
      const env = [...Object.entries(spec.vars).map(([name, value]) => ({ name, value })), ...secretEnv];
      const build = (restartedAt?: string) =>
        template(spec, env, { [SECRET_VERSIONS]: versionSummary, ...(restartedAt ? { [RESTARTED_AT]: restartedAt } : {}) });
      const current = await getService(spec);
      if (!current) {
        const first = build();
        await create(spec, {
          labels: labelsOf(spec, spec.labels),
          invokerIamDisabled: options.publicAccess ?? true,
          ...running(),
          template: { ...first, revision: revisionIdOf(serviceIdOf(spec), first) },
        });
        return;
      }
      await rollTemplate(
        spec,
        current,
        build(current.template?.annotations?.[RESTARTED_AT]),
        { labels: labelsOf(spec, spec.labels), invokerIamDisabled: options.publicAccess ?? true, ...running() },
        `deploying ${spec.image} to ${nameOf(spec)}`,
      );
    },

    async waitReady(ref, { timeoutMs = 120_000 } = {}) {
      return pollUntilReady(() => this.status(ref), {
        timeoutMs,
        intervalMs: pollIntervalMs,
        fail: (status, reason) =>
          reason === 'final'
            ? new DriverError('cloud-run', 'failed', `cloud-run: ${nameOf(ref)} failed: ${status.message}`)
            : new DriverError(
                'cloud-run',
                'timeout',
                `cloud-run: ${nameOf(ref)} not ready after ${timeoutMs} ms (state ${status.state}${status.message ? `: ${status.message}` : ''}).`,
              ),
      });
    },

    async status(ref) {
      const service = await getService(ref);
      const described = describeService(service, placeholder);
      // Traffic pinned to a revision other than the template's (a rollback, or a new revision that failed): that one serves.
      const serving = service && servingRevisionOf(service);
      if (!service || !serving || serving === service.template?.revision) return described;
      if (described.state === 'stopped' || described.state === 'absent') return described;
      const revision = await getRevision(`${nameOf(ref)}/revisions/${serving}`);
      if (readyCondition(revision)?.state !== 'CONDITION_SUCCEEDED') return described;
      const image: string | undefined = revision?.containers?.[0]?.image || undefined;
      if (image === placeholder) return described;
      return {
        state: 'running',
        ready: !service.reconciling,
        url: described.url,
        image,
        message: described.state === 'failed' ? `serving revision ${serving}; ${described.message}` : undefined,
      };
    },

    async suspend(ref) {
      // Manual scaling with 0 instances is how the v2 API stops a service while
      // keeping its revisions and URL (revision-level max 0 is rejected); closing
      // ingress to internal traffic makes the URL refuse public requests too.
      await update(
        ref,
        (current) => ({ ...current, ingress: 'INGRESS_TRAFFIC_INTERNAL_ONLY', scaling: { scalingMode: 'MANUAL', manualInstanceCount: 0 } }),
        `suspending ${nameOf(ref)}`,
      );
    },

    async resume(ref) {
      await update(ref, (current) => ({ ...current, ...running() }), `resuming ${nameOf(ref)}`);
    },

    async restart(ref) {
      // A changed template annotation makes a new revision: fresh instances, same URL, traffic moved once it is ready.
      const current = await requireService(ref);
      const { revision: _old, ...template } = current.template ?? {};
      await rollTemplate(
        ref,
        current,
        { ...template, annotations: { ...template.annotations, [RESTARTED_AT]: new Date().toISOString() } },
        {},
        `restarting ${nameOf(ref)}`,
      );
    },

    async destroy(ref) {
      try {
        await settle((await runClient()).deleteService({ name: nameOf(ref) }), `deleting ${nameOf(ref)}`);
      } catch (error) {
        if (!hasCode(error, GrpcCode.NOT_FOUND)) throw error;
      }
      await deleteSecrets(await secretClient(), projectId, ref).catch((error) => {
        throw wrap(error, `deleting secrets of ${ref.tenantId}/${ref.env}`);
      });
    },

    async logs(ref, query) {
      const target = { projectId, region, serviceId: serviceIdOf(ref) };
      return readServiceLogs(await observe.logging(), target, query).catch((error) => {
        throw wrap(error, `reading logs of ${nameOf(ref)} from Cloud Logging`);
      });
    },

    async metrics(ref) {
      const service = await getService(ref);
      if (!service)
        throw new DriverError(
          'cloud-run',
          'not_found',
          `cloud-run: no service for ${ref.tenantId}/${ref.env} (${nameOf(ref)}); deploy it first.`,
        );
      const target = { projectId, region, serviceId: serviceIdOf(ref) };
      return readServiceMetrics(await observe.monitoring(), target, limitsOf(service.template?.containers?.[0])).catch((error) => {
        throw wrap(error, `reading metrics of ${nameOf(ref)} from Cloud Monitoring`);
      });
    },

    async close() {
      const pending = [services, revisionsClient, secrets].filter(Boolean) as Promise<{ close(): Promise<void> }>[];
      services = revisionsClient = secrets = undefined;
      await Promise.all([...pending.map(async (client) => (await client).close()), observe.close()]);
    },
  };
}

/**
 * Every update resends the template it read back, and a read answers
 * `cpuIdle: false` for a field never set: keep CPU allocated only during
 * requests on suspend, resume and restart as on deploy.
 */
function withCpuIdle(service: Service): Service {
  const containers = service.template?.containers as Service[] | undefined;
  if (!containers) return service;
  return {
    ...service,
    template: { ...service.template, containers: containers.map((c) => ({ ...c, resources: { ...c.resources, cpuIdle: true } })) },
  };
}

function wrap(error: unknown, what: string): DriverError {
  if (error instanceof DriverError) return error;
  return new DriverError('cloud-run', 'failed', `cloud-run: ${what} failed: ${describeGoogleError(error)}`, { cause: error });
}

/** The revision that takes all the traffic: one pinned at 100 % (`traffic` or `trafficStatuses`), else the latest ready one. */
export function servingRevisionOf(service: Service): string | undefined {
  const isRevision = (t: Service) => t.type === BY_REVISION || t.type === 2;
  for (const list of [service.traffic, service.trafficStatuses] as Service[][]) {
    const pinned = (list ?? []).find((t) => isRevision(t) && Number(t.percent) === 100 && t.revision);
    if (pinned) return String(pinned.revision).split('/').pop();
  }
  return service.latestReadyRevision ? String(service.latestReadyRevision).split('/').pop() : undefined;
}

/** The revision's `Ready` condition (revision.proto `conditions`). */
function readyCondition(revision: Service | undefined): { state?: string; message?: string } | undefined {
  const conditions = (revision?.conditions ?? []) as Service[];
  const ready = conditions.find((c) => c.type === 'Ready');
  if (!ready) return undefined;
  const state =
    typeof ready.state === 'number'
      ? ['', 'CONDITION_PENDING', 'CONDITION_RECONCILING', 'CONDITION_FAILED', 'CONDITION_SUCCEEDED'][ready.state]
      : ready.state;
  return { state, message: ready.message };
}

/**
 * The revision name of a template: the service id, `-r` and a hash of the
 * template, so the same template always names the same revision (a redelivered
 * deploy finds it, a rollback moves the traffic back to it). At most 61 characters.
 */
export function revisionIdOf(serviceId: string, template: Service): string {
  return `${serviceId}-r${createHash('sha256').update(canonicalJson(template)).digest('hex').slice(0, 10)}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Service)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Service)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
