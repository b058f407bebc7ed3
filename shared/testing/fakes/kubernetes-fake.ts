/**
 * A fake Kubernetes API server (real HTTP, bearer-token auth) for the resources
 * the Kubernetes driver manages. Follows:
 * - https://kubernetes.io/docs/reference/using-api/api-concepts/ (paths
 *   `/api/v1/...`, `/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>`, List kinds,
 *   `labelSelector`, `resourceVersion` optimistic concurrency: 409 Conflict on a stale
 *   PUT, 409 AlreadyExists on POST, 404 NotFound, `Status` error bodies)
 * - https://kubernetes.io/docs/reference/kubernetes-api/ (Namespace, ResourceQuota, Secret with
 *   `stringData` folded into `data`, Service with an immutable allocated `clusterIP`, Deployment
 *   with `generation`/`observedGeneration` and an immutable `spec.selector`, Ingress,
 *   NetworkPolicy, PersistentVolumeClaim, Pod and `GET pods/{name}/log?timestamps&tailLines&sinceTime`,
 *   ServiceAccount with `automountServiceAccountToken`)
 * - https://kubernetes.io/docs/concepts/security/service-accounts/ and
 *   https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/ (every namespace
 *   gets a `default` ServiceAccount; a pod names one in `spec.serviceAccountName`, `default` when omitted)
 * - https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
 *   (`application/merge-patch+json` per RFC 7386; strategic merge is treated as merge, which is
 *   equivalent for the map fields the driver patches; JSON patch answers 415)
 * - https://kubernetes.io/docs/concepts/overview/working-with-objects/names/ (DNS-1123 names, label syntax)
 * - Namespace deletion: `Terminating` phase, contents removed, then the namespace; creating in a
 *   terminating namespace is 403 Forbidden.
 * Controllers (deployments, admission, kubelet logs) live in kubernetes-controllers.ts.
 */
import { createTimerSet, startFakeServer, type FakeResponse, type RecordedRequest } from './http-server.ts';
import { ownerOf, reconcileDeployment, type PodLogs } from './kubernetes-controllers.ts';

type Json = Record<string, any>;

const KINDS: Record<string, { kind: string; apiVersion: string; prefix: string }> = {
  namespaces: { kind: 'Namespace', apiVersion: 'v1', prefix: '/api/v1' },
  secrets: { kind: 'Secret', apiVersion: 'v1', prefix: '/api/v1' },
  services: { kind: 'Service', apiVersion: 'v1', prefix: '/api/v1' },
  resourcequotas: { kind: 'ResourceQuota', apiVersion: 'v1', prefix: '/api/v1' },
  serviceaccounts: { kind: 'ServiceAccount', apiVersion: 'v1', prefix: '/api/v1' },
  persistentvolumeclaims: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', prefix: '/api/v1' },
  pods: { kind: 'Pod', apiVersion: 'v1', prefix: '/api/v1' },
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1', prefix: '/apis/apps/v1' },
  ingresses: { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', prefix: '/apis/networking.k8s.io/v1' },
  networkpolicies: { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', prefix: '/apis/networking.k8s.io/v1' },
};
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

function status(code: number, reason: string, message: string, details: Json = {}): FakeResponse {
  return { status: code, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code } };
}

/** Options of the fake. */
export interface KubernetesFakeOptions {
  /** Bearer token the API accepts (default `fake-token`). */
  token?: string;
  /** Delay before controllers act: pods start, namespaces finish terminating (default 150 ms). */
  delayMs?: number;
}

/** Starts the fake API server. Point a KubeConfig cluster `server` at `url` with the token. */
export async function startKubernetesFake(options: KubernetesFakeOptions = {}) {
  const token = options.token ?? 'fake-token';
  const delay = options.delayMs ?? 150;
  const timers = createTimerSet();
  const store = new Map<string, Map<string, Map<string, Json>>>();
  const logs: PodLogs = new Map();
  let resourceVersion = 1000;
  const nextResourceVersion = () => String(++resourceVersion);

  function objects(plural: string, namespace: string): Map<string, Json> {
    if (!store.has(plural)) store.set(plural, new Map());
    const byNs = store.get(plural)!;
    if (!byNs.has(namespace)) byNs.set(namespace, new Map());
    return byNs.get(namespace)!;
  }
  const namespaces = objects('namespaces', '');
  const cluster = { namespaces, objects, nextResourceVersion, after: timers.after };

  function validate(plural: string, body: Json, existing?: Json): string | undefined {
    const name = body.metadata?.name;
    const nameRule = plural === 'namespaces' || plural === 'services' ? DNS_LABEL : DNS_SUBDOMAIN;
    if (typeof name !== 'string' || !nameRule.test(name)) return `metadata.name: Invalid value: "${name}": must be a lowercase RFC 1123 ${nameRule === DNS_LABEL ? 'label' : 'subdomain'}`;
    for (const [key, value] of Object.entries((body.metadata.labels ?? {}) as Record<string, string>)) {
      if (!LABEL_VALUE.test(String(value)) || key.split('/').pop()!.length > 63) return `metadata.labels: Invalid value: "${value}" for key "${key}"`;
    }
    if (plural === 'deployments') {
      const selector = body.spec?.selector?.matchLabels ?? {};
      const labels = body.spec?.template?.metadata?.labels ?? {};
      if (!Object.keys(selector).length) return 'spec.selector: Required value';
      if (Object.entries(selector).some(([k, v]) => labels[k] !== v)) return 'spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`';
      if (existing && JSON.stringify(existing.spec.selector) !== JSON.stringify(body.spec.selector)) return 'spec.selector: Invalid value: field is immutable';
    }
    if (plural === 'services' && existing && body.spec?.clusterIP && body.spec.clusterIP !== existing.spec.clusterIP) return 'spec.clusterIP: Invalid value: field is immutable';
    if (plural === 'ingresses') {
      for (const rule of (body.spec?.rules ?? []) as Json[]) if (rule.host && !DNS_SUBDOMAIN.test(rule.host)) return `spec.rules[0].host: Invalid value: "${rule.host}"`;
    }
    return undefined;
  }

  /** Server-side defaulting and bookkeeping on every write. */
  function admit(plural: string, namespace: string, body: Json, existing?: Json): Json {
    const now = new Date().toISOString();
    const obj: Json = { ...body, kind: KINDS[plural].kind, apiVersion: KINDS[plural].apiVersion };
    obj.metadata = { ...body.metadata, namespace: namespace || undefined, uid: existing?.metadata.uid ?? crypto.randomUUID(), creationTimestamp: existing?.metadata.creationTimestamp ?? now, resourceVersion: nextResourceVersion() };
    if (plural === 'secrets') {
      obj.data = { ...body.data };
      for (const [k, v] of Object.entries((body.stringData ?? {}) as Record<string, string>)) obj.data[k] = Buffer.from(v).toString('base64');
      delete obj.stringData;
      obj.type ??= 'Opaque';
    }
    if (plural === 'services') {
      obj.spec = { type: 'ClusterIP', ...body.spec, clusterIP: existing?.spec.clusterIP ?? `10.96.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 2}` };
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
      for (const pod of [...objects('pods', namespace).values()]) if (ownerOf(pod) === name) objects('pods', namespace).delete(pod.metadata.name);
    }
    if (plural === 'namespaces') {
      const ns = namespaces.get(name)!;
      namespaces.set(name, { ...ns, metadata: { ...ns.metadata, deletionTimestamp: new Date().toISOString(), resourceVersion: nextResourceVersion() }, status: { phase: 'Terminating' } });
      timers.after(delay, () => {
        for (const byNs of store.values()) byNs.delete(name);
        namespaces.delete(name);
      });
    }
  }

  function matchesSelector(obj: Json, selector: string | null): boolean {
    if (!selector) return true;
    return selector.split(',').every((term) => {
      const [k, v] = term.split('=');
      return v === undefined ? k in (obj.metadata.labels ?? {}) : obj.metadata.labels?.[k] === v;
    });
  }

  function handle(request: RecordedRequest): FakeResponse {
    if (request.headers.authorization !== `Bearer ${token}`) return status(401, 'Unauthorized', 'Unauthorized');
    const m = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/(log))?$/.exec(request.path);
    const nsOnly = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(request.path);
    const [prefix, namespace, plural, name, sub] = nsOnly ? ['/api/v1', '', 'namespaces', nsOnly[1], undefined] : m ? m.slice(1) : [];
    const kind = KINDS[plural ?? ''];
    if (!kind || kind.prefix !== prefix) return status(404, 'NotFound', `the server could not find the requested resource (${request.method} ${request.path})`);
    const items = objects(plural, namespace ?? '');
    const existing = name ? items.get(name) : undefined;
    const notFound = () => status(404, 'NotFound', `${plural}${kind.apiVersion.includes('/') ? '.' + kind.apiVersion.split('/')[0] : ''} "${name}" not found`, { name, kind: plural });
    if (sub === 'log') {
      if (plural !== 'pods' || request.method !== 'GET' || !existing) return notFound();
      const sinceSeconds = request.query.get('sinceSeconds');
      const since = request.query.get('sinceTime') ?? (sinceSeconds ? new Date(Date.now() - Number(sinceSeconds) * 1000).toISOString() : null);
      const tail = Number(request.query.get('tailLines') ?? 0);
      let lines = (logs.get(`${namespace}/${name}`) ?? []).filter((l) => !since || l.time >= since);
      if (tail > 0) lines = lines.slice(-tail);
      const withTime = request.query.get('timestamps') === 'true';
      return { status: 200, body: lines.map((l) => `${withTime ? `${l.time} ` : ''}${l.text}\n`).join('') };
    }
    if (namespace && plural !== 'namespaces' && request.method !== 'GET' && request.method !== 'DELETE') {
      const ns = namespaces.get(namespace);
      if (!ns) return status(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
      if (ns.status.phase === 'Terminating' && request.method === 'POST') {
        return status(403, 'Forbidden', `${plural} "${(request.body as Json)?.metadata?.name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`);
      }
    }
    const body = (request.body ?? {}) as Json;
    switch (request.method) {
      case 'GET': {
        if (name) return existing ? { status: 200, body: existing } : notFound();
        const list = [...items.values()].filter((o) => matchesSelector(o, request.query.get('labelSelector')));
        return { status: 200, body: { kind: `${kind.kind}List`, apiVersion: kind.apiVersion, metadata: { resourceVersion: String(resourceVersion) }, items: list } };
      }
      case 'POST': {
        if (name) return status(405, 'MethodNotAllowed', 'POST to an item is not allowed');
        const invalid = validate(plural, body);
        if (invalid) return status(422, 'Invalid', `${kind.kind} "${body.metadata?.name}" is invalid: ${invalid}`);
        if (items.has(body.metadata.name)) return status(409, 'AlreadyExists', `${plural} "${body.metadata.name}" already exists`, { name: body.metadata.name, kind: plural });
        const created = admit(plural, namespace ?? '', body);
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
          const type = String(request.headers['content-type'] ?? '');
          if (!/merge-patch\+json|strategic-merge-patch\+json/.test(type)) return status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (got ${type})`);
          next = mergePatch(existing, body);
        } else if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== existing.metadata.resourceVersion) {
          return status(409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: plural });
        }
        if (next.metadata?.name !== name) return status(400, 'BadRequest', `the name of the object (${next.metadata?.name}) does not match the name on the URL (${name})`);
        const invalid = validate(plural, next, existing);
        if (invalid) return status(422, 'Invalid', `${kind.kind} "${name}" is invalid: ${invalid}`);
        const updated = admit(plural, namespace ?? '', next, existing);
        // Like the real API server, an update that changes nothing keeps the resourceVersion.
        if (sameObject(updated, existing)) return { status: 200, body: existing };
        items.set(name!, updated);
        return { status: 200, body: updated };
      }
      case 'DELETE': {
        if (!existing) return notFound();
        remove(plural, namespace ?? '', name!);
        return { status: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: plural, uid: existing.metadata.uid } } };
      }
    }
    return status(405, 'MethodNotAllowed', `${request.method} is not supported`);
  }

  const server = await startFakeServer(handle);
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
          const pod = [...objects('pods', ns).values()].find((p) => p.status.phase === 'Running' && Object.entries(service.spec.selector ?? {}).every(([k, v]) => p.metadata.labels?.[k] === v));
          if (!pod) return false;
          logs.get(`${ns}/${pod.metadata.name}`)?.push({ time: new Date().toISOString(), text: `GET / 200 host=${host}` });
          return true;
        }
      }
      return false;
    },
    async close() {
      timers.clear();
      await server.close();
    },
  };
}

/** The running Kubernetes fake. */
export type KubernetesFake = Awaited<ReturnType<typeof startKubernetesFake>>;

/** RFC 7386 JSON merge patch. */
function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Json = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}


function sameObject(a: Json, b: Json): boolean {
  const strip = (o: Json) => JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined }, status: undefined });
  return strip(a) === strip(b);
}
