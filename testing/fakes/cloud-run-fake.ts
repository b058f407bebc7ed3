/**
 * A fake of the Cloud Run Admin API v2 (services) plus Secret Manager v1, Cloud
 * Logging `entries.list` and Cloud Monitoring `timeSeries.list` (see
 * cloud-run-fake-observe.ts and the files it names), IAM and IAM Credentials
 * (iam-fake.ts) and Artifact Registry (artifact-registry-fake.ts): one Google
 * Cloud with one set of identities, as a real HTTP server that the official Node clients reach in REST mode
 * (`fallback: true`, `protocol: 'http'`). Follows:
 * - google/cloud/run/v2/service.proto: CreateService `POST /v2/{parent}/services?serviceId=`
 *   (409 ALREADY_EXISTS), GetService, UpdateService `PATCH /v2/{service.name}` (etag
 *   checked, ABORTED on mismatch; `allowMissing`), DeleteService (`etag`); all three
 *   mutations return a google.longrunning.Operation that completes asynchronously,
 *   polled with `GET /v2/{name=projects/*\/locations/*\/operations/*}`.
 * - service.proto / condition.proto / vendor_settings.proto for the Service resource:
 *   `uri`, `urls`, `generation`, `observedGeneration`, `reconciling`, `terminalCondition`,
 *   `conditions`, `latestReadyRevision`, `latestCreatedRevision`, `etag`, `ingress`,
 *   service-level `scaling` {scalingMode, manualInstanceCount, minInstanceCount}.
 * - https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services
 *   (service id: ≤ 49 chars, lowercase letters, digits, hyphens, starts with a letter,
 *   does not end with a hyphen) and the deterministic URL `https://SERVICE-PROJECT_NUMBER.REGION.run.app`.
 * - https://cloud.google.com/run/docs/configuring/services/manual-scaling (manual count 0 = no instances).
 * - https://cloud.google.com/apis/design/errors for error bodies.
 * - service.proto / revision.proto / traffic_target.proto for revisions and traffic:
 *   `template.revision` names the new revision (it must start with the service id and a
 *   hyphen; a name already taken is ALREADY_EXISTS); `traffic[]` of
 *   {type: TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST | TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
 *   revision, percent} must add up to 100 and name existing revisions (or the one the
 *   request creates); `trafficStatuses` reports it once reconciled; RevisionsClient
 *   GetRevision `GET /v2/{name=projects/*\/locations/*\/services/*\/revisions/*}` answers
 *   the revision with its `Ready` condition and containers.
 * - https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration: a revision
 *   created while traffic is pinned to another gets none; a revision that fails leaves
 *   the traffic where it was, and the service keeps serving it.
 * A new revision is created only when `template` changes; it becomes ready after
 * `readyDelayMs`, or fails when its image is in `missingImages` or a referenced
 * secret has no enabled version (as Cloud Run refuses to start such a revision).
 * Identities, as Cloud Run checks them: a service whose `template.serviceAccount`
 * does not exist in IAM is refused (INVALID_ARGUMENT); a revision whose account
 * lacks roles/secretmanager.secretAccessor on a referenced secret fails with
 * SECRETS_ACCESS_CHECK_FAILED; an image of a repository the Artifact Registry
 * fake holds must exist there. Omitted, the account is the project's default
 * compute account, which exists but is granted nothing here.
 */
import { createCloudRunObservability, type CloudRunObserveOptions } from './cloud-run-fake-observe.ts';
import { cpuAlwaysAllocated, serviceRuleViolation } from './cloud-run-fake-rules.ts';
import { createArtifactRegistryState } from './artifact-registry-fake.ts';
import { checkBearer, clone, createCallers, enumName, enumOut, googleError, wantsNumericEnums, type EnumTable } from './google-rest.ts';
import { createIamState } from './iam-fake.ts';
import { createTimerSet, randomHex, startFakeServer, type RecordedRequest, type FakeResponse } from './http-server.ts';
import { createSecretManagerState } from './secret-manager-fake.ts';

const INGRESS: EnumTable = [
  'INGRESS_TRAFFIC_UNSPECIFIED',
  'INGRESS_TRAFFIC_ALL',
  'INGRESS_TRAFFIC_INTERNAL_ONLY',
  'INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER',
  'INGRESS_TRAFFIC_NONE',
];
const SCALING_MODE: EnumTable = ['SCALING_MODE_UNSPECIFIED', 'AUTOMATIC', 'MANUAL'];
const CONDITION_STATE: EnumTable = [
  'STATE_UNSPECIFIED',
  'CONDITION_PENDING',
  'CONDITION_RECONCILING',
  'CONDITION_FAILED',
  'CONDITION_SUCCEEDED',
];
const TRAFFIC_TYPE: EnumTable = [
  'TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED',
  'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST',
  'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION',
];
const PROJECT_NUMBER = '123456789012';

type Json = Record<string, any>;

/** Options of the fake; `logging`, `monitoring` and `utilization` shape its Cloud Logging and Monitoring APIs. */
export interface CloudRunFakeOptions extends CloudRunObserveOptions {
  /** How long a revision takes to become ready and an operation to finish (default 150 ms). */
  readyDelayMs?: number;
  /** Images the fake treats as absent from the registry: their revisions fail. */
  missingImages?: string[];
  /** The platform's identity, the one behind the `fake-access-token` of fakeGoogleClientOptions (default `tp-platform@tp-test.iam.gserviceaccount.com`). */
  platformServiceAccount?: string;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
}

/** The default identity of the platform in the fake. */
export const FAKE_PLATFORM_SERVICE_ACCOUNT = 'tp-platform@tp-test.iam.gserviceaccount.com';

/** Starts the fake. Point `apiEndpoint: '127.0.0.1', port, protocol: 'http', fallback: true` at it. */
export async function startCloudRunFake(options: CloudRunFakeOptions = {}) {
  const delay = options.readyDelayMs ?? 150;
  const timers = createTimerSet();
  const platformMember = `serviceAccount:${options.platformServiceAccount ?? FAKE_PLATFORM_SERVICE_ACCOUNT}`;
  const callers = createCallers({ 'fake-access-token': platformMember });
  const secretManager = createSecretManagerState(callers);
  const iam = createIamState(callers);
  const artifactRegistry = createArtifactRegistryState(callers);
  const runtimeAccount = (service: Json) => service.template?.serviceAccount || `${PROJECT_NUMBER}-compute@developer.gserviceaccount.com`;
  const services = new Map<string, Json>();
  const operations = new Map<string, Json>();
  const revisionCounts = new Map<string, number>();
  /** Revisions by full name: `{name, service, template, conditions, reconciling, failure}`. */
  const revisions = new Map<string, Json>();

  function condition(type: string, state: string, message = '') {
    return { type, state, message, lastTransitionTime: new Date().toISOString() };
  }

  function normalize(input: Json): Json {
    const service = clone(input);
    service.ingress = enumName(INGRESS, service.ingress) ?? 'INGRESS_TRAFFIC_ALL';
    if (service.scaling) service.scaling.scalingMode = enumName(SCALING_MODE, service.scaling.scalingMode);
    if (Array.isArray(service.traffic)) {
      for (const t of service.traffic as Json[]) t.type = enumName(TRAFFIC_TYPE, t.type) ?? 'TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED';
      if (service.traffic.length === 0) delete service.traffic;
    }
    return service;
  }

  /** The short id of the revision a template names (`template.revision`), if any. */
  const namedRevision = (service: Json): string | undefined => service.template?.revision || undefined;
  const shortName = (full: string | undefined) => (full ? full.split('/').pop()! : undefined);

  /** Why the traffic of `service` (to be named `name`, whose template creates `creating`) is invalid, if it is. */
  function trafficViolation(name: string, service: Json, creating: string | undefined): string | undefined {
    const traffic = service.traffic as Json[] | undefined;
    if (!traffic) return undefined;
    const total = traffic.reduce((sum, t) => sum + (Number(t.percent) || 0), 0);
    if (total !== 100) return `spec.traffic: Traffic percentages must add up to 100, got ${total}.`;
    for (const t of traffic) {
      if (t.type === 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION') {
        if (!t.revision) return 'spec.traffic: a target of type TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION needs a revision.';
        if (t.revision !== creating && !revisions.has(`${name}/revisions/${t.revision}`))
          return `spec.traffic: Revision ${t.revision} does not exist.`;
      } else if (t.type !== 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST') return `spec.traffic: unknown type ${t.type}.`;
    }
    return undefined;
  }

  /** The revision that gets all the traffic: one pinned at 100 %, else the latest ready one. */
  function trafficRevision(service: Json): string | undefined {
    const pinned = (service.traffic as Json[] | undefined)?.find(
      (t) => t.type === 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION' && Number(t.percent) === 100,
    );
    return pinned ? `${service.name}/revisions/${pinned.revision}` : service.latestReadyRevision;
  }

  function trafficStatusesOf(service: Json): Json[] {
    const traffic = (service.traffic as Json[] | undefined) ?? [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }];
    return traffic.map((t) => ({
      type: t.type,
      revision: t.type === 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION' ? t.revision : shortName(service.latestReadyRevision),
      percent: t.percent,
    }));
  }

  function encode(service: Json, numeric: boolean): Json {
    const out = clone(service);
    out.ingress = enumOut(INGRESS, out.ingress, numeric);
    if (out.scaling?.scalingMode) out.scaling.scalingMode = enumOut(SCALING_MODE, out.scaling.scalingMode, numeric);
    for (const c of [out.terminalCondition, ...(out.conditions ?? [])]) if (c) c.state = enumOut(CONDITION_STATE, c.state, numeric);
    for (const t of [...(out.traffic ?? []), ...(out.trafficStatuses ?? [])]) t.type = enumOut(TRAFFIC_TYPE, t.type, numeric);
    return out;
  }

  function validate(service: Json): string | undefined {
    const containers = service.template?.containers;
    if (!Array.isArray(containers) || containers.length === 0 || !containers[0].image) return 'template.containers[0].image is required';
    const violation = serviceRuleViolation(service);
    if (violation) return violation;
    const memory = containers[0].resources?.limits?.memory;
    if (memory !== undefined && !/^\d+(Mi|Gi)$/.test(memory)) return `Invalid memory limit "${memory}"`;
    if (service.scaling?.manualInstanceCount !== undefined && service.scaling?.scalingMode !== 'MANUAL') {
      return 'scaling.manualInstanceCount can only be set when scaling.scalingMode is MANUAL';
    }
    const account = runtimeAccount(service);
    if (service.template?.serviceAccount && !iam.exists(account))
      return `spec.template.spec.service_account_name: Service account ${account} does not exist.`;
    return undefined;
  }

  /** Why a revision of this template cannot start, if it cannot. */
  function revisionFailure(service: Json, project: string): string | undefined {
    for (const container of service.template.containers as Json[]) {
      if (options.missingImages?.includes(container.image) || !artifactRegistry.canPull(container.image))
        return `Image '${container.image}' not found.`;
      for (const env of (container.env ?? []) as Json[]) {
        const secret = env.valueSource?.secretKeyRef?.secret as string | undefined;
        if (!secret) continue;
        const full = secret.startsWith('projects/') ? secret : `projects/${project}/secrets/${secret}`;
        if (!secretManager.hasEnabledVersion(full)) return `Secret ${full}/versions/latest was not found or has no enabled version.`;
        const account = runtimeAccount(service);
        if (!secretManager.canAccess(`serviceAccount:${account}`, full)) {
          return `SECRETS_ACCESS_CHECK_FAILED: Permission denied on secret: ${full}/versions/latest for Revision service account ${account}. The service account used must be granted the 'Secret Manager Secret Accessor' role (roles/secretmanager.secretAccessor) at the secret, project or higher level.`;
        }
      }
    }
    return undefined;
  }

  function startOperation(parent: string, service: Json): Json {
    const name = `${parent}/operations/${crypto.randomUUID()}`;
    const op = { name, metadata: { '@type': 'type.googleapis.com/google.cloud.run.v2.Service', ...service }, done: false };
    operations.set(name, op);
    return op;
  }

  /** Moves a service to its new generation: a new revision when the template changed, readiness after a delay. */
  function reconcile(name: string, op: Json, templateChanged: boolean) {
    const service = services.get(name)!;
    const project = name.split('/')[1];
    service.reconciling = true;
    service.terminalCondition = condition('Ready', 'CONDITION_RECONCILING', 'Deploying revision.');
    service.conditions = [service.terminalCondition];
    if (templateChanged) {
      const count = (revisionCounts.get(name) ?? 0) + 1;
      revisionCounts.set(name, count);
      const id = namedRevision(service) ?? `${service.name.split('/').pop()}-${String(count).padStart(5, '0')}-${randomHex(3)}`;
      service.latestCreatedRevision = `${name}/revisions/${id}`;
      revisions.set(service.latestCreatedRevision, {
        name: service.latestCreatedRevision,
        uid: crypto.randomUUID(),
        generation: '1',
        service: name,
        createTime: new Date().toISOString(),
        containers: clone(service.template.containers),
        serviceAccount: runtimeAccount(service),
        annotations: clone(service.template.annotations ?? {}),
        reconciling: true,
        conditions: [condition('Ready', 'CONDITION_RECONCILING', 'Deploying revision.')],
      });
    }
    const generation = service.generation;
    const created = templateChanged ? service.latestCreatedRevision : undefined;
    timers.after(delay, () => {
      const current = services.get(name);
      if (created) {
        const revision = revisions.get(created)!;
        const failure = revisionFailure(
          { template: { containers: revision.containers, serviceAccount: revision.serviceAccount } },
          project,
        );
        revision.reconciling = false;
        revision.failure = failure;
        revision.conditions = failure
          ? [condition('Ready', 'CONDITION_FAILED', failure), condition('ContainerHealthy', 'CONDITION_FAILED', failure)]
          : [condition('Ready', 'CONDITION_SUCCEEDED'), condition('ContainerHealthy', 'CONDITION_SUCCEEDED')];
      }
      if (!current || current.generation !== generation) return finish(op, current, undefined);
      const failure = templateChanged ? revisionFailure(current, project) : current.revisionFailure;
      current.reconciling = false;
      current.observedGeneration = generation;
      current.revisionFailure = failure;
      current.trafficStatuses = trafficStatusesOf(current);
      if (failure) {
        current.terminalCondition = condition(
          'Ready',
          'CONDITION_FAILED',
          `Revision '${current.latestCreatedRevision.split('/').pop()}' is not ready and cannot serve traffic. ${failure}`,
        );
        current.conditions = [current.terminalCondition, condition('ConfigurationsReady', 'CONDITION_FAILED', failure)];
        return finish(op, current, { code: 9, message: current.terminalCondition.message });
      }
      if (templateChanged) current.latestReadyRevision = current.latestCreatedRevision;
      current.trafficStatuses = trafficStatusesOf(current);
      current.terminalCondition = condition('Ready', 'CONDITION_SUCCEEDED');
      current.conditions = [
        current.terminalCondition,
        condition('ConfigurationsReady', 'CONDITION_SUCCEEDED'),
        condition('RoutesReady', 'CONDITION_SUCCEEDED'),
      ];
      finish(op, current, undefined);
    });
  }

  function finish(op: Json, service: Json | undefined, error: Json | undefined) {
    op.done = true;
    if (error) op.error = error;
    else op.response = { '@type': 'type.googleapis.com/google.cloud.run.v2.Service', ...(service ? publicView(service) : op.metadata) };
  }

  function publicView(service: Json): Json {
    const { revisionFailure: _ignored, ...rest } = service;
    return rest;
  }

  function handleRun(request: RecordedRequest): FakeResponse | undefined {
    const { method, path } = request;
    const numeric = wantsNumericEnums(request);
    let m: RegExpExecArray | null;
    if ((m = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+)\/services$/.exec(path))) {
      const parent = m[1];
      if (method === 'GET') {
        const list = [...services.values()].filter((s) => s.name.startsWith(`${parent}/`)).map((s) => encode(publicView(s), numeric));
        return { status: 200, body: list.length ? { services: list } : {} };
      }
      if (method !== 'POST') return undefined;
      const id = request.query.get('serviceId') ?? '';
      if (!/^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$/.test(id)) {
        return googleError(
          'INVALID_ARGUMENT',
          `service_id "${id}" must be at most 49 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen.`,
        );
      }
      const name = `${parent}/services/${id}`;
      if (services.has(name)) return googleError('ALREADY_EXISTS', `Resource '${id}' already exists.`);
      const service = normalize((request.body ?? {}) as Json);
      const invalid =
        validate(service) ?? revisionViolation(name, id, service, undefined) ?? trafficViolation(name, service, namedRevision(service));
      if (invalid)
        return invalid.startsWith('ALREADY_EXISTS') ? googleError('ALREADY_EXISTS', invalid) : googleError('INVALID_ARGUMENT', invalid);
      const region = parent.split('/')[3];
      const now = new Date().toISOString();
      Object.assign(service, {
        name,
        uid: crypto.randomUUID(),
        generation: 1,
        createTime: now,
        updateTime: now,
        etag: `"${randomHex(16)}"`,
        uri: `https://${id}-${PROJECT_NUMBER}.${region}.run.app`,
        urls: [`https://${id}-${PROJECT_NUMBER}.${region}.run.app`],
      });
      services.set(name, service);
      const op = startOperation(parent, publicView(service));
      reconcile(name, op, true);
      return { status: 200, body: encode(op, numeric) };
    }
    if ((m = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+)\/services\/([^/:]+)$/.exec(path))) {
      const [parent, id] = [m[1], m[2]];
      const name = `${parent}/services/${id}`;
      const existing = services.get(name);
      if (method === 'GET') {
        if (!existing)
          return googleError(
            'NOT_FOUND',
            `Resource '${id}' of kind 'SERVICE' in region '${parent.split('/')[3]}' in project '${parent.split('/')[1]}' does not exist.`,
          );
        return { status: 200, body: encode(publicView(existing), numeric) };
      }
      if (method === 'PATCH') {
        const body = normalize((request.body ?? {}) as Json);
        if (!existing) {
          if (request.query.get('allowMissing') !== 'true') return googleError('NOT_FOUND', `Resource '${id}' does not exist.`);
          return handleRun({ ...request, method: 'POST', path: `/v2/${parent}/services`, query: new URLSearchParams({ serviceId: id }) });
        }
        if (body.etag && body.etag !== existing.etag)
          return googleError('ABORTED', `Etag mismatch: the service was modified concurrently (have ${existing.etag}, got ${body.etag}).`);
        const templateChanged = canonical(body.template) !== canonical(existing.template);
        const invalid =
          validate(body) ??
          (templateChanged ? revisionViolation(name, id, body, existing) : undefined) ??
          trafficViolation(name, body, templateChanged ? namedRevision(body) : undefined);
        if (invalid)
          return invalid.startsWith('ALREADY_EXISTS') ? googleError('ALREADY_EXISTS', invalid) : googleError('INVALID_ARGUMENT', invalid);
        const keep = [
          'name',
          'uid',
          'createTime',
          'uri',
          'urls',
          'latestReadyRevision',
          'latestCreatedRevision',
          'observedGeneration',
          'revisionFailure',
          'trafficStatuses',
        ];
        const next: Json = {
          ...Object.fromEntries(keep.filter((k) => k in existing).map((k) => [k, existing[k]])),
          ...pick(body, [
            'labels',
            'annotations',
            'template',
            'ingress',
            'scaling',
            'traffic',
            'invokerIamDisabled',
            'description',
            'launchStage',
          ]),
        };
        Object.assign(next, { generation: existing.generation + 1, updateTime: new Date().toISOString(), etag: `"${randomHex(16)}"` });
        services.set(name, next);
        const op = startOperation(parent, publicView(next));
        reconcile(name, op, templateChanged);
        return { status: 200, body: encode(op, numeric) };
      }
      if (method === 'DELETE') {
        if (!existing) return googleError('NOT_FOUND', `Resource '${id}' does not exist.`);
        const etag = request.query.get('etag');
        if (etag && etag !== existing.etag) return googleError('ABORTED', 'Etag mismatch.');
        existing.deleteTime = new Date().toISOString();
        existing.reconciling = true;
        const op = startOperation(parent, publicView(existing));
        timers.after(delay, () => {
          services.delete(name);
          finish(op, existing, undefined);
        });
        return { status: 200, body: encode(op, numeric) };
      }
    }
    if ((m = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/services\/[^/]+\/revisions\/[^/:]+)$/.exec(path)) && method === 'GET') {
      const revision = revisions.get(m[1]);
      if (!revision || !services.has(revision.service)) return googleError('NOT_FOUND', `Revision ${m[1]} does not exist.`);
      const { failure: _f, service: _s, ...rest } = revision;
      const out: Json = clone({ ...rest, service: shortName(revision.service) });
      for (const c of out.conditions ?? []) c.state = enumOut(CONDITION_STATE, c.state, numeric);
      return { status: 200, body: out };
    }
    if ((m = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/operations\/[^/:]+)$/.exec(path)) && method === 'GET') {
      const op = operations.get(m[1]);
      if (!op) return googleError('NOT_FOUND', `Operation ${m[1]} not found.`);
      const out = clone(op);
      if (out.response) out.response = encode(out.response, numeric);
      out.metadata = encode(out.metadata, numeric);
      return { status: 200, body: out };
    }
    return undefined;
  }

  /** Why a template's `revision` name is refused, if it is (ALREADY_EXISTS prefixed). */
  function revisionViolation(name: string, id: string, service: Json, _existing: Json | undefined): string | undefined {
    const revision = namedRevision(service);
    if (!revision) return undefined;
    if (!revision.startsWith(`${id}-`) || !/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(revision))
      return `spec.template.revision: Revision name "${revision}" must start with the service name "${id}-" and be at most 63 lowercase letters, digits and hyphens.`;
    if (revisions.has(`${name}/revisions/${revision}`)) return `ALREADY_EXISTS: Revision named '${revision}' already exists.`;
    return undefined;
  }

  function serving(service: Json): boolean {
    if (service.deleteTime) return false;
    const target = trafficRevision(service);
    const revision = target ? revisions.get(target) : undefined;
    if (!target || (revision ? revision.reconciling || revision.failure : service.revisionFailure)) return false;
    if (service.ingress !== 'INGRESS_TRAFFIC_ALL') return false;
    return !(service.scaling?.scalingMode === 'MANUAL' && (service.scaling.manualInstanceCount ?? 0) === 0);
  }
  const observe = createCloudRunObservability(services, serving, options, trafficRevision);

  const server = await startFakeServer(
    (request) => {
      const denied = checkBearer(request);
      if (denied) return denied;
      const platformOnly = (answer: () => FakeResponse | undefined) =>
        callers.isPlatform(callers.memberOf(request))
          ? answer()
          : googleError('PERMISSION_DENIED', `The caller does not have permission for ${request.method} ${request.path}.`);
      return (
        iam.handle(request) ??
        artifactRegistry.handle(request) ??
        secretManager.handle(request) ??
        (request.path.startsWith('/v2/') ? platformOnly(() => handleRun(request)) : undefined) ??
        observe.handle(request) ??
        googleError('NOT_FOUND', `No route for ${request.method} ${request.path}`)
      );
    },
    { port: options.port },
  );

  return {
    ...server,
    services,
    /** Revisions by full name, with their `Ready` condition. */
    revisions,
    secrets: secretManager.secrets,
    /** IAM: service accounts with their own policies; `exists(email)`. */
    iam,
    /** Artifact Registry: repositories, and `push(token, image)` standing in for `docker push`. */
    artifactRegistry,
    /** Who each bearer token is; `memberOfToken(token)`. */
    callers,
    platformMember,
    /** True when the named service's CPU is allocated (and billed) all the time: resources sent without `cpuIdle: true` (cloud-run-fake-rules.ts). */
    cpuAlwaysAllocated(name: string): boolean {
      const service = services.get(name);
      return Boolean(service && cpuAlwaysAllocated(service));
    },
    /** True when `member` may read the secret's versions (secret-level IAM). */
    canAccessSecret: secretManager.canAccess,
    /** True when a request to `url` would be served: ready revision, public ingress, not scaled to zero by manual scaling. */
    isServing(url: string): boolean {
      const service = [...services.values()].find((s) => s.uri === url.replace(/\/$/, ''));
      return Boolean(service && serving(service));
    },
    /** Sends a simulated request: logged to Cloud Logging and counted in Monitoring when served. */
    request: observe.request,
    writeLog: observe.writeLog,
    logEntries: observe.logEntries,
    async close() {
      timers.clear();
      await server.close();
    },
  };
}

/** The running Cloud Run fake. */
export type CloudRunFake = Awaited<ReturnType<typeof startCloudRunFake>>;

function pick(source: Json, keys: string[]): Json {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}

/**
 * JSON with sorted keys, so field order in a request does not look like a
 * change; fields at their proto3 default (null, '', 0, false, [], {}) count as
 * unset, as the API sees them, so a template read back by a client (which fills
 * defaults in) and sent again is the same template.
 */
function canonical(value: unknown): string {
  const isDefault = (v: unknown) =>
    v === undefined ||
    v === null ||
    v === '' ||
    v === 0 ||
    v === false ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && !Array.isArray(v) && canonical(v) === '{}');
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => !isDefault((value as Json)[k]))
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Json)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
