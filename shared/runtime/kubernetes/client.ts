/**
 * The Kubernetes API as the driver uses it: one uniform read/create/replace/
 * patch/delete/list per kind over `@kubernetes/client-node` 1.x (CoreV1Api,
 * AppsV1Api, NetworkingV1Api), loaded on first use so importing the driver
 * stays cheap.
 */
import type { KubernetesDriverOptions } from './options.ts';

/** Kinds the driver manages, by their REST plural. */
export type ObjectKind =
  | 'namespaces'
  | 'resourcequotas'
  | 'serviceaccounts'
  | 'secrets'
  | 'services'
  | 'persistentvolumeclaims'
  | 'pods'
  | 'deployments'
  | 'ingresses'
  | 'networkpolicies';

export interface ObjectApi {
  read(name: string, namespace?: string): Promise<any>;
  create(body: object, namespace?: string): Promise<any>;
  replace(name: string, body: object, namespace?: string): Promise<any>;
  /** JSON merge patch (RFC 7386). */
  patch(name: string, body: object, namespace?: string): Promise<any>;
  delete(name: string, namespace?: string): Promise<unknown>;
  list(namespace: string, labelSelector?: string): Promise<any[]>;
}

export type KubeApis = Record<ObjectKind, ObjectApi> & {
  readPodLog(name: string, namespace: string, options: { tailLines?: number; sinceSeconds?: number }): Promise<string>;
};

/** True when a client error is an HTTP answer with this status (404, 409, ...). */
export function isStatus(error: unknown, code: number): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

const TYPE_NAMES: Record<ObjectKind, [api: 'core' | 'apps' | 'net', type: string]> = {
  namespaces: ['core', 'Namespace'],
  resourcequotas: ['core', 'NamespacedResourceQuota'],
  serviceaccounts: ['core', 'NamespacedServiceAccount'],
  secrets: ['core', 'NamespacedSecret'],
  services: ['core', 'NamespacedService'],
  persistentvolumeclaims: ['core', 'NamespacedPersistentVolumeClaim'],
  pods: ['core', 'NamespacedPod'],
  deployments: ['apps', 'NamespacedDeployment'],
  ingresses: ['net', 'NamespacedIngress'],
  networkpolicies: ['net', 'NamespacedNetworkPolicy'],
};

/**
 * The client serializes a body through its generated models, by their property
 * names, and silently drops any other field. NetworkPolicyIngressRule names the
 * JSON `from` as `_from`, so a manifest's `from` would vanish and its rule admit
 * every source. Rename it before the client sees it.
 */
function toModel(kind: ObjectKind, body: any): object {
  if (kind !== 'networkpolicies' || !Array.isArray(body?.spec?.ingress)) return body;
  const out = structuredClone(body);
  for (const rule of out.spec.ingress) {
    if (rule && 'from' in rule) {
      rule._from = rule.from;
      delete rule.from;
    }
  }
  return out;
}

/** Builds the KubeConfig from the options and the per-kind APIs on top of it. */
export async function createObjectApis(options: KubernetesDriverOptions): Promise<KubeApis> {
  const k8s = await import('@kubernetes/client-node');
  const config = new k8s.KubeConfig();
  if (options.cluster) {
    const { server, token, skipTLSVerify, caData } = options.cluster;
    config.loadFromOptions({
      clusters: [{ name: 'tenantplane', server, skipTLSVerify: skipTLSVerify ?? false, caData }],
      users: [{ name: 'tenantplane', token }],
      contexts: [{ name: 'tenantplane', cluster: 'tenantplane', user: 'tenantplane' }],
      currentContext: 'tenantplane',
    });
  } else {
    config.loadFromFile(options.kubeconfigPath!);
  }
  const clients = {
    core: config.makeApiClient(k8s.CoreV1Api),
    apps: config.makeApiClient(k8s.AppsV1Api),
    net: config.makeApiClient(k8s.NetworkingV1Api),
  };
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

  const apis = {} as KubeApis;
  for (const [kind, [apiName, type]] of Object.entries(TYPE_NAMES) as [ObjectKind, [keyof typeof clients, string]][]) {
    const api = clients[apiName] as any;
    const call = (verb: string, params: Record<string, unknown>, extra?: unknown) => api[`${verb}${type}`](params, extra);
    const scoped = (namespace?: string) => (kind === 'namespaces' ? {} : { namespace });
    apis[kind] = {
      read: (name, namespace) => call('read', { name, ...scoped(namespace) }),
      create: (body, namespace) => call('create', { body: toModel(kind, body), ...scoped(namespace) }),
      replace: (name, body, namespace) => call('replace', { name, body: toModel(kind, body), ...scoped(namespace) }),
      patch: (name, body, namespace) => call('patch', { name, body, ...scoped(namespace) }, mergePatch),
      delete: (name, namespace) => call('delete', { name, ...scoped(namespace) }),
      list: async (namespace, labelSelector) => (await call('list', { ...scoped(namespace), labelSelector })).items,
    };
  }
  apis.readPodLog = (name, namespace, { tailLines, sinceSeconds }) =>
    clients.core.readNamespacedPodLog({ name, namespace, timestamps: true, tailLines, sinceSeconds });
  return apis;
}
