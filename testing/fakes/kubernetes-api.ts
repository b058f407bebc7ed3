/**
 * What the Kubernetes fake tells clients about itself, in the shapes the real
 * API server uses, so kubectl and client libraries can find their way:
 * - Discovery (https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api):
 *   `GET /api` → APIVersions, `GET /apis` → APIGroupList, `GET /api/v1` and
 *   `GET /apis/<group>/<version>` → APIResourceList of APIResource `{name, singularName,
 *   namespaced, kind, verbs, shortNames, categories}` with the real short names (ns, po, svc,
 *   sa, pvc, quota, deploy, ing, netpol) and the subresources `pods/log` and `deployments/scale`. Only the
 *   unaggregated (JSON) discovery is served; kubectl falls back to it.
 * - `GET /version` → version.Info.
 * - Server-side printing (https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables):
 *   `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` → a meta.k8s.io/v1 Table whose rows
 *   carry PartialObjectMetadata, with the columns the real server prints for each kind.
 * - Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and field selectors
 *   (`metadata.name`, `metadata.namespace`, and per kind e.g. pods' `status.phase`), per
 *   https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/ and field-selectors/.
 */
type Json = Record<string, any>;

/** One served resource: its REST name and what discovery says about it. */
export interface ResourceInfo {
  kind: string;
  apiVersion: string;
  prefix: string;
  namespaced: boolean;
  singularName: string;
  shortNames?: string[];
  categories?: string[];
}

const core = (kind: string, singularName: string, shortNames?: string[], namespaced = true, categories?: string[]): ResourceInfo => ({
  kind,
  apiVersion: 'v1',
  prefix: '/api/v1',
  namespaced,
  singularName,
  shortNames,
  categories,
});
const grouped = (group: string, kind: string, singularName: string, shortNames: string[], categories?: string[]): ResourceInfo => ({
  kind,
  apiVersion: `${group}/v1`,
  prefix: `/apis/${group}/v1`,
  namespaced: true,
  singularName,
  shortNames,
  categories,
});

/** The resources the fake serves, keyed by plural. */
export const RESOURCES: Record<string, ResourceInfo> = {
  namespaces: core('Namespace', 'namespace', ['ns'], false),
  secrets: core('Secret', 'secret'),
  services: core('Service', 'service', ['svc'], true, ['all']),
  resourcequotas: core('ResourceQuota', 'resourcequota', ['quota']),
  serviceaccounts: core('ServiceAccount', 'serviceaccount', ['sa']),
  persistentvolumeclaims: core('PersistentVolumeClaim', 'persistentvolumeclaim', ['pvc']),
  pods: core('Pod', 'pod', ['po'], true, ['all']),
  deployments: grouped('apps', 'Deployment', 'deployment', ['deploy'], ['all']),
  ingresses: grouped('networking.k8s.io', 'Ingress', 'ingress', ['ing']),
  networkpolicies: grouped('networking.k8s.io', 'NetworkPolicy', 'networkpolicy', ['netpol']),
};

/** The verbs the fake implements for every resource (no deletecollection, no proxy). */
const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

/** The discovery document at `path`, or undefined when `path` is not a discovery path. */
export function discovery(path: string, serverAddress: string): Json | undefined {
  if (path === '/api')
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  const groups = [
    ...new Set(
      Object.values(RESOURCES)
        .map((r) => r.apiVersion)
        .filter((v) => v.includes('/')),
    ),
  ];
  if (path === '/apis') {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((groupVersion) => {
        const [name, version] = groupVersion.split('/');
        return { name, versions: [{ groupVersion, version }], preferredVersion: { groupVersion, version } };
      }),
    };
  }
  const groupMatch = /^\/apis\/([^/]+)$/.exec(path);
  if (groupMatch) {
    const groupVersion = groups.find((g) => g.startsWith(`${groupMatch[1]}/`));
    if (!groupVersion) return undefined;
    const version = { groupVersion, version: groupVersion.split('/')[1] };
    return { kind: 'APIGroup', apiVersion: 'v1', name: groupMatch[1], versions: [version], preferredVersion: version };
  }
  const groupVersion = path === '/api/v1' ? 'v1' : /^\/apis\/([^/]+\/[^/]+)$/.exec(path)?.[1];
  if (!groupVersion || (groupVersion !== 'v1' && !groups.includes(groupVersion))) return undefined;
  const resources: Json[] = [];
  for (const [name, info] of Object.entries(RESOURCES)) {
    if (info.apiVersion !== groupVersion) continue;
    resources.push({
      name,
      singularName: info.singularName,
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: VERBS,
      ...(info.shortNames ? { shortNames: info.shortNames } : {}),
      ...(info.categories ? { categories: info.categories } : {}),
    });
    if (name === 'pods') resources.push({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
    if (name === 'deployments')
      resources.push({
        name: 'deployments/scale',
        singularName: '',
        namespaced: true,
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
        verbs: ['get', 'patch', 'update'],
      });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
}

/** version.Info of the fake (`kubectl version`). */
export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-tenantplane-fake',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** True when the Accept header asks for a meta.k8s.io/v1 Table first (as `kubectl get` does). */
export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '') && /v=v1(?!beta)/.test(accept ?? '') && /g=meta\.k8s\.io/.test(accept ?? '');
}

/** True when the Accept header admits JSON (the only encoding the fake writes). */
export function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((part) => /^\s*(application\/json|application\/\*|\*\/\*)/.test(part) && !/as=(?!Table)/.test(part));
}

/** Age the way kubectl prints it: 45s, 3m12s, 25m, 5h3m, 2d. */
export function age(since: string | undefined, now = Date.now()): string {
  if (!since) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (h < 3) return `${m}m`;
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

type Column = [name: string, type: string, cell: (o: Json) => unknown];
const nameColumn: Column = ['Name', 'string', (o) => o.metadata.name];
const ageColumn: Column = ['Age', 'string', (o) => age(o.metadata.creationTimestamp)];
const COLUMNS: Record<string, Column[]> = {
  namespaces: [nameColumn, ['Status', 'string', (o) => o.status?.phase ?? 'Active'], ageColumn],
  pods: [
    nameColumn,
    [
      'Ready',
      'string',
      (o) => `${o.status?.phase === 'Running' ? (o.spec?.containers ?? []).length : 0}/${(o.spec?.containers ?? []).length}`,
    ],
    ['Status', 'string', (o) => (o.metadata.deletionTimestamp ? 'Terminating' : (o.status?.phase ?? 'Pending'))],
    ['Restarts', 'string', () => '0'],
    ageColumn,
  ],
  services: [
    nameColumn,
    ['Type', 'string', (o) => o.spec?.type],
    ['Cluster-IP', 'string', (o) => o.spec?.clusterIP ?? '<none>'],
    ['External-IP', 'string', () => '<none>'],
    ['Port(s)', 'string', (o) => (o.spec?.ports ?? []).map((p: Json) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>'],
    ageColumn,
  ],
  deployments: [
    nameColumn,
    ['Ready', 'string', (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`],
    ['Up-to-date', 'integer', (o) => o.status?.updatedReplicas ?? 0],
    ['Available', 'integer', (o) => o.status?.availableReplicas ?? 0],
    ageColumn,
  ],
  secrets: [nameColumn, ['Type', 'string', (o) => o.type], ['Data', 'string', (o) => String(Object.keys(o.data ?? {}).length)], ageColumn],
  serviceaccounts: [nameColumn, ['Secrets', 'string', (o) => String((o.secrets ?? []).length)], ageColumn],
  resourcequotas: [
    nameColumn,
    ageColumn,
    ['Request', 'string', (o) => quotaPart(o, false)],
    ['Limit', 'string', (o) => quotaPart(o, true)],
  ],
  ingresses: [
    nameColumn,
    ['Class', 'string', (o) => o.spec?.ingressClassName ?? '<none>'],
    ['Hosts', 'string', (o) => (o.spec?.rules ?? []).map((r: Json) => r.host ?? '*').join(',') || '*'],
    ['Address', 'string', () => ''],
    ['Ports', 'string', (o) => (o.spec?.tls?.length ? '80, 443' : '80')],
    ageColumn,
  ],
  networkpolicies: [
    nameColumn,
    [
      'Pod-Selector',
      'string',
      (o) =>
        Object.entries(o.spec?.podSelector?.matchLabels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '<none>',
    ],
    ageColumn,
  ],
  persistentvolumeclaims: [
    nameColumn,
    ['Status', 'string', (o) => o.status?.phase ?? 'Pending'],
    ['Volume', 'string', () => ''],
    ['Capacity', 'string', () => ''],
    ['Access Modes', 'string', (o) => (o.spec?.accessModes ?? []).join(',')],
    ['StorageClass', 'string', (o) => o.spec?.storageClassName ?? '<unset>'],
    ageColumn,
  ],
};

function quotaPart(quota: Json, limits: boolean): string {
  return Object.entries(quota.spec?.hard ?? {})
    .filter(([k]) => k.startsWith('limits.') === limits)
    .map(([k, v]) => `${k}: ${quota.status?.used?.[k] ?? 0}/${v}`)
    .join(', ');
}

/** A meta.k8s.io/v1 Table of `objects`, as the real server answers `kubectl get`. */
export function toTable(plural: string, objects: Json[], resourceVersion: string): Json {
  const columns = COLUMNS[plural] ?? [nameColumn, ageColumn];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map(([name, type]) => ({ name, type, format: name === 'Name' ? 'name' : '', description: '', priority: 0 })),
    rows: objects.map((o) => ({
      cells: columns.map(([, , cell]) => cell(o)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

/** Parses a label selector; throws with the real server's wording on bad syntax. */
export function parseLabelSelector(selector: string | null): (labels: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const terms: ((labels: Record<string, string>) => boolean)[] = [];
  for (const raw of selector.match(/(?:[^,(]|\([^)]*\))+/g) ?? []) {
    const term = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
      const [, key, op, list] = m;
      const values = list.split(',').map((v) => v.trim());
      terms.push(op === 'in' ? (l) => key in l && values.includes(l[key]) : (l) => !(key in l) || !values.includes(l[key]));
    } else if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term))) {
      const [, key, op, value] = m;
      terms.push(op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value);
    } else if ((m = /^(!?)([\w./-]+)$/.exec(term))) {
      const [, not, key] = m;
      terms.push(not ? (l) => !(key in l) : (l) => key in l);
    } else {
      throw new Error(`unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }
  return (labels) => terms.every((t) => t(labels));
}

/** Fields each kind can be selected by besides metadata.name and metadata.namespace (from the API server's field label conversions). */
const FIELD_LABELS: Record<string, string[]> = {
  namespaces: ['status.phase'],
  pods: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  secrets: ['type'],
};

/** Parses a field selector; throws for a field the kind does not support, as the server does. */
export function parseFieldSelector(selector: string | null, plural = ''): (o: Json) => boolean {
  if (!selector) return () => true;
  const allowed = ['metadata.name', 'metadata.namespace', ...(FIELD_LABELS[plural] ?? [])];
  const terms = selector.split(',').map((term) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term.trim());
    if (!m) throw new Error(`invalid selector: '${selector}'; can't understand '${term}'`);
    const [, field, op, value] = m;
    if (!allowed.includes(field)) throw new Error(`field label not supported: ${field}`);
    return (o: Json) => (String(field.split('.').reduce((v: any, k) => v?.[k], o) ?? '') === value) === (op !== '!=');
  });
  return (o) => terms.every((t) => t(o));
}
