/**
 * A fake Kubernetes API server (real HTTP) for the resources the Kubernetes
 * driver manages, which kubectl also accepts. A request with a bearer token must
 * carry the fake's token (else 401); one without is served, as a cluster with
 * anonymous access bound to cluster-admin would (kubectl never sends a token over
 * plain http). Discovery, Tables and selectors are in kubernetes-api.ts, request
 * bodies and PATCH in kubernetes-patch.ts, watch in kubernetes-watch.ts, validation
 * in kubernetes-validation.ts. Follows:
 * - https://kubernetes.io/docs/reference/using-api/api-concepts/ (paths
 *   `/api/v1/...`, `/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>`, List kinds,
 *   `labelSelector`, `resourceVersion` optimistic concurrency: 409 Conflict on a stale
 *   PUT, 409 AlreadyExists on POST, 404 NotFound, `Status` error bodies)
 * - https://kubernetes.io/docs/reference/kubernetes-api/ (a Deployment's `scale` subresource as an
 *   autoscaling/v1 Scale, for `kubectl scale`; Namespace, ResourceQuota, Secret with
 *   `stringData` folded into `data`, Service with an immutable allocated `clusterIP`, Deployment
 *   with `generation`/`observedGeneration` and an immutable `spec.selector`, Ingress,
 *   NetworkPolicy, PersistentVolumeClaim, Pod and `GET pods/{name}/log?timestamps&tailLines&sinceTime`,
 *   ServiceAccount with `automountServiceAccountToken`)
 * - https://kubernetes.io/docs/concepts/security/service-accounts/ and
 *   https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/ (every namespace
 *   gets a `default` ServiceAccount; a pod names one in `spec.serviceAccountName`, `default` when omitted)
 * - Media types (https://kubernetes.io/docs/reference/using-api/api-concepts/#alternate-representations-of-resources):
 *   bodies in `application/json` or `application/yaml`; any other Content-Type, protobuf
 *   included, is 415 UnsupportedMediaType naming the accepted types (kubectl 1.32 does not fall
 *   back: `kubectl create <kind>` sends protobuf and fails with that 415, while `apply`, `get`,
 *   `scale`, `delete` send JSON). Responses are JSON only: an Accept without JSON is 406.
 *   Server-side apply (`application/apply-patch+yaml`) is not served (415).
 * - Lists of namespaced kinds without a namespace (`GET /api/v1/pods`, `kubectl get -A`) span
 *   every namespace; `labelSelector`, `fieldSelector` (metadata.name/namespace and per-kind fields), `watch`, and
 *   `dryRun=All` (validated, not stored).
 * - https://kubernetes.io/docs/concepts/overview/working-with-objects/names/ (DNS-1123 names, label syntax)
 * - Namespace deletion: `Terminating` phase, contents removed, then the namespace; creating in a
 *   terminating namespace is 403 Forbidden.
 * Controllers (deployments, admission, kubelet logs) live in kubernetes-controllers.ts.
 */
import { createTimerSet, startFakeServer, type FakeResponse, type RecordedRequest } from './http-server.ts';
import {
  acceptsJson,
  discovery,
  parseFieldSelector,
  parseLabelSelector,
  RESOURCES,
  toTable,
  VERSION_INFO,
  wantsTable,
} from './kubernetes-api.ts';
import { ownerOf, readPodLog, reconcileDeployment, scaleOf, type PodLogs } from './kubernetes-controllers.ts';
import { patchObject, readBody } from './kubernetes-patch.ts';
import { status, validate } from './kubernetes-validation.ts';
import { createWatchLog, WatchedMap, watchResponse } from './kubernetes-watch.ts';

type Json = Record<string, any>;

const KINDS = RESOURCES;
/** Options of the fake. */
export interface KubernetesFakeOptions {
  /** Bearer token the API accepts (default `fake-token`). */
  token?: string;
  /** Delay before controllers act: pods start, namespaces finish terminating (default 150 ms). */
  delayMs?: number;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
}

/** Starts the fake API server. Point a KubeConfig cluster `server` at `url` with the token. */
export async function startKubernetesFake(options: KubernetesFakeOptions = {}) {
  const token = options.token ?? 'fake-token';
  const delay = options.delayMs ?? 150;
  const timers = createTimerSet();
  const store = new Map<string, Map<string, Map<string, Json>>>();
  const logs: PodLogs = new Map();
  const changes = createWatchLog();
  let closed = false;
  let resourceVersion = 1000;
  const nextResourceVersion = () => String(++resourceVersion);

  function objects(plural: string, namespace: string): Map<string, Json> {
    if (!store.has(plural)) store.set(plural, new Map());
    const byNs = store.get(plural)!;
    if (!byNs.has(namespace)) byNs.set(namespace, new WatchedMap(plural, namespace, changes, nextResourceVersion));
    return byNs.get(namespace)!;
  }
  /** Every object of a kind: one namespace's, or all namespaces' when `namespace` is empty. */
  function allObjects(plural: string, namespace: string): Json[] {
    if (namespace || !KINDS[plural].namespaced) return [...objects(plural, namespace).values()];
    return [...(store.get(plural)?.values() ?? [])].flatMap((byNs) => [...byNs.values()]);
  }
  const namespaces = objects('namespaces', '');
  const cluster = { namespaces, objects, nextResourceVersion, after: timers.after };

  /** Server-side defaulting and bookkeeping on every write. */
  function admit(plural: string, namespace: string, body: Json, existing?: Json): Json {
    const now = new Date().toISOString();
    const obj: Json = { ...body, kind: KINDS[plural].kind, apiVersion: KINDS[plural].apiVersion };
    obj.metadata = {
      ...body.metadata,
      namespace: namespace || undefined,
      uid: existing?.metadata.uid ?? crypto.randomUUID(),
      creationTimestamp: existing?.metadata.creationTimestamp ?? now,
      resourceVersion: nextResourceVersion(),
    };
    if (plural === 'secrets') {
      obj.data = { ...body.data };
      for (const [k, v] of Object.entries((body.stringData ?? {}) as Record<string, string>))
        obj.data[k] = Buffer.from(v).toString('base64');
      delete obj.stringData;
      obj.type ??= 'Opaque';
    }
    if (plural === 'services') {
      obj.spec = {
        type: 'ClusterIP',
        ...body.spec,
        clusterIP: existing?.spec.clusterIP ?? `10.96.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 2}`,
      };
      obj.spec.clusterIPs = [obj.spec.clusterIP];
    }
    if (plural === 'namespaces') obj.status = existing?.status ?? { phase: 'Active' };
    if (plural === 'deployments') {
      obj.spec = { replicas: 1, ...body.spec };
      const changed = !existing || JSON.stringify(existing.spec) !== JSON.stringify(obj.spec);
      obj.metadata.generation = (existing?.metadata.generation ?? 0) + (changed ? 1 : 0);
      obj.status = existing?.status ?? {};
      if (changed) reconcileDeployment(cluster, logs, namespace, obj.metadata.name, delay);
    }
    return obj;
  }

  function remove(plural: string, namespace: string, name: string) {
    if (plural !== 'namespaces') objects(plural, namespace).delete(name);
    if (plural === 'deployments') {
      for (const pod of [...objects('pods', namespace).values()])
        if (ownerOf(pod) === name) objects('pods', namespace).delete(pod.metadata.name);
    }
    if (plural === 'namespaces') {
      const ns = namespaces.get(name)!;
      namespaces.set(name, {
        ...ns,
        metadata: { ...ns.metadata, deletionTimestamp: new Date().toISOString(), resourceVersion: nextResourceVersion() },
        status: { phase: 'Terminating' },
      });
      timers.after(delay, () => {
        for (const byNs of store.values()) {
          for (const key of [...(byNs.get(name)?.keys() ?? [])]) byNs.get(name)!.delete(key);
          byNs.delete(name);
        }
        namespaces.delete(name);
      });
    }
  }

  function handle(request: RecordedRequest): FakeResponse {
    const auth = request.headers.authorization;
    if (auth !== undefined && auth !== `Bearer ${token}`) return status(401, 'Unauthorized', 'Unauthorized');
    if (!acceptsJson(request.headers.accept))
      return status(
        406,
        'NotAcceptable',
        `only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io`,
      );
    if (request.method === 'GET' && request.path === '/version') return { status: 200, body: VERSION_INFO };
    const about = request.method === 'GET' ? discovery(request.path, `127.0.0.1:${server.port}`) : undefined;
    if (about) return { status: 200, body: about };
    const m = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/(log|scale))?$/.exec(request.path);
    const nsOnly = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(request.path);
    const [prefix, namespace, plural, name, sub] = nsOnly ? ['/api/v1', '', 'namespaces', nsOnly[1], undefined] : m ? m.slice(1) : [];
    const kind = KINDS[plural ?? ''];
    const misplaced = kind && (kind.namespaced ? !namespace && (name || request.method !== 'GET') : Boolean(namespace));
    if (!kind || kind.prefix !== prefix || misplaced)
      return status(404, 'NotFound', `the server could not find the requested resource (${request.method} ${request.path})`);
    const items = objects(plural, namespace ?? '');
    const existing = name ? items.get(name) : undefined;
    const dryRun = request.query.get('dryRun') === 'All';
    const notFound = () =>
      status(404, 'NotFound', `${plural}${kind.apiVersion.includes('/') ? '.' + kind.apiVersion.split('/')[0] : ''} "${name}" not found`, {
        name,
        kind: plural,
      });
    const table = wantsTable(request.headers.accept);
    if (sub === 'log') {
      if (plural !== 'pods' || request.method !== 'GET' || !existing) return notFound();
      return { status: 200, body: readPodLog(logs.get(`${namespace}/${name}`) ?? [], request.query) };
    }
    if (sub === 'scale') {
      if (plural !== 'deployments' || !existing) return notFound();
      if (request.method === 'GET') return { status: 200, body: scaleOf(existing) };
      if (request.method !== 'PUT' && request.method !== 'PATCH')
        return status(405, 'MethodNotAllowed', `${request.method} is not supported on the scale subresource`);
      const read = readBody(request);
      const next = 'error' in read || request.method === 'PUT' ? read : patchObject(request, scaleOf(existing), read.body);
      if ('error' in next) return next.error;
      const replicas = next.body.spec?.replicas;
      if (!Number.isInteger(replicas) || replicas < 0)
        return status(
          422,
          'Invalid',
          `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`,
        );
      const updated = admit(plural, namespace, { ...existing, spec: { ...existing.spec, replicas } }, existing);
      if (!dryRun && !sameObject(updated, existing)) items.set(name!, updated);
      return { status: 200, body: scaleOf(dryRun ? updated : items.get(name!)!) };
    }
    const read =
      request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH'
        ? readBody(request)
        : { body: (request.body ?? {}) as Json };
    if ('error' in read) return read.error;
    const body = read.body;
    if (namespace && plural !== 'namespaces' && request.method !== 'GET' && request.method !== 'DELETE') {
      const ns = namespaces.get(namespace);
      if (!ns) return status(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
      if (ns.status.phase === 'Terminating' && request.method === 'POST') {
        return status(
          403,
          'Forbidden',
          `${plural} "${body?.metadata?.name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        );
      }
    }
    switch (request.method) {
      case 'GET': {
        if (name)
          return existing
            ? { status: 200, body: table ? toTable(plural, [existing], existing.metadata.resourceVersion) : existing }
            : notFound();
        let byLabels: (labels: Record<string, string>) => boolean;
        let byFields: (o: Json) => boolean;
        try {
          byLabels = parseLabelSelector(request.query.get('labelSelector'));
          byFields = parseFieldSelector(request.query.get('fieldSelector'), plural);
        } catch (error) {
          return status(400, 'BadRequest', (error as Error).message);
        }
        const matches = (o: Json) => byLabels(o.metadata?.labels ?? {}) && byFields(o);
        const isWatch = request.query.get('watch');
        if (isWatch === 'true' || isWatch === '1') {
          const current = () => allObjects(plural, namespace ?? '').filter(matches);
          return watchResponse(changes, request, {
            plural,
            namespace: namespace ?? '',
            matches,
            current,
            resourceVersion: () => resourceVersion,
            isClosed: () => closed,
          });
        }
        const list = allObjects(plural, namespace ?? '').filter(matches);
        const rv = String(resourceVersion);
        return {
          status: 200,
          body: table
            ? toTable(plural, list, rv)
            : { kind: `${kind.kind}List`, apiVersion: kind.apiVersion, metadata: { resourceVersion: rv }, items: list },
        };
      }
      case 'POST': {
        if (name) return status(405, 'MethodNotAllowed', 'POST to an item is not allowed');
        if (body.kind !== undefined && body.kind !== kind.kind)
          return status(400, 'BadRequest', `the kind of the object (${body.kind}) does not match the resource (${kind.kind})`);
        const invalid = validate(plural, body);
        if (invalid) return status(422, 'Invalid', `${kind.kind} "${body.metadata?.name}" is invalid: ${invalid}`);
        if (items.has(body.metadata.name))
          return status(409, 'AlreadyExists', `${plural} "${body.metadata.name}" already exists`, {
            name: body.metadata.name,
            kind: plural,
          });
        if (body.metadata.namespace && namespace && body.metadata.namespace !== namespace)
          return status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
        const created = admit(plural, namespace ?? '', body);
        if (dryRun) return { status: 201, body: created };
        items.set(created.metadata.name, created);
        // The ServiceAccount controller gives every new namespace its `default` account.
        if (plural === 'namespaces') {
          const account = admit('serviceaccounts', created.metadata.name, { metadata: { name: 'default' } });
          objects('serviceaccounts', created.metadata.name).set('default', account);
        }
        return { status: 201, body: created };
      }
      case 'PUT':
      case 'PATCH': {
        if (!existing) return notFound();
        let next = body;
        if (request.method === 'PATCH') {
          const patched = patchObject(request, existing, body);
          if ('error' in patched) return patched.error;
          next = patched.body;
        } else if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== existing.metadata.resourceVersion) {
          return status(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            { name, kind: plural },
          );
        }
        if (next.metadata?.name !== name)
          return status(400, 'BadRequest', `the name of the object (${next.metadata?.name}) does not match the name on the URL (${name})`);
        const invalid = validate(plural, next, existing);
        if (invalid) return status(422, 'Invalid', `${kind.kind} "${name}" is invalid: ${invalid}`);
        const updated = admit(plural, namespace ?? '', next, existing);
        // Like the real API server, an update that changes nothing keeps the resourceVersion.
        if (sameObject(updated, existing)) return { status: 200, body: existing };
        if (!dryRun) items.set(name!, updated);
        return { status: 200, body: updated };
      }
      case 'DELETE': {
        if (!existing) return notFound();
        if (!dryRun) remove(plural, namespace ?? '', name!);
        return {
          status: 200,
          body: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: { name, kind: plural, uid: existing.metadata.uid },
          },
        };
      }
    }
    return status(405, 'MethodNotAllowed', `${request.method} is not supported`);
  }

  const server = await startFakeServer(handle, { port: options.port });
  return {
    ...server,
    token,
    /** Stored objects of a kind in a namespace (`''` for namespaces themselves). */
    list: (plural: string, namespace = '') => [...objects(plural, namespace).values()],
    /**
     * True when a request to `url` would be answered: an Ingress rule for its host
     * routes to a Service whose selector matches a running pod. A served request
     * is written to that pod's log, as the workload's access log would be.
     */
    isServing(url: string): boolean {
      const host = new URL(url).hostname;
      for (const [ns, ingresses] of store.get('ingresses') ?? []) {
        for (const ingress of ingresses.values()) {
          const rule = (ingress.spec.rules ?? []).find((r: Json) => r.host === host);
          const backend = rule?.http?.paths?.[0]?.backend?.service?.name;
          const service = backend && objects('services', ns).get(backend);
          if (!service) continue;
          const pod = [...objects('pods', ns).values()].find(
            (p) =>
              p.status.phase === 'Running' && Object.entries(service.spec.selector ?? {}).every(([k, v]) => p.metadata.labels?.[k] === v),
          );
          if (!pod) return false;
          logs.get(`${ns}/${pod.metadata.name}`)?.push({ time: new Date().toISOString(), text: `GET / 200 host=${host}` });
          return true;
        }
      }
      return false;
    },
    async close() {
      closed = true;
      timers.clear();
      changes.wakeAll();
      await server.close();
    },
  };
}

/** The running Kubernetes fake. */
export type KubernetesFake = Awaited<ReturnType<typeof startKubernetesFake>>;

function sameObject(a: Json, b: Json): boolean {
  const strip = (o: Json) => JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined }, status: undefined });
  return strip(a) === strip(b);
}
