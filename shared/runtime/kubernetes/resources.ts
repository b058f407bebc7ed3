/**
 * Names and manifests of the Kubernetes driver: what one environment looks
 * like in a cluster. Pure functions, so the manifests can be read and tested
 * without a cluster.
 */
import { createHash } from 'node:crypto';
import type { EnvironmentRef, EnvironmentSpec } from '../types.ts';

type Manifest = Record<string, any>;

/** Options the manifests depend on (a subset of the driver's options). */
export interface ManifestOptions {
  baseDomain: string;
  ingressClassName?: string;
  networkPolicy?: boolean;
  /** Namespace of the ingress controller, the only other namespace the NetworkPolicy lets in. */
  ingressNamespace: string;
  /** Mount the ServiceAccount's API token into pods; tenant workloads do not need it. */
  automountServiceAccountToken: boolean;
  storageClass?: string;
  tlsSecretName?: string;
  containerPort: number;
  quota: Record<string, string>;
}

const hash = (value: string, length = 6) => createHash('sha256').update(value).digest('hex').slice(0, length);

/**
 * A DNS-1123 label from an id. Ids that are already lowercase labels are kept;
 * others (Firebase uids are mixed case) are lowercased with a hash of the
 * original appended, so two ids differing only by case never share a name.
 */
export function dnsLabelOf(id: string, max: number): string {
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(id) && id.length <= max) return id;
  const base = id
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${base.slice(0, max - 7).replace(/-+$/, '')}-${hash(id)}`.replace(/^-/, '');
}

/** Namespace of an owner: `user-<ownerId>`. */
export function namespaceOf(ref: EnvironmentRef): string {
  return `user-${dnsLabelOf(ref.ownerId, 58)}`;
}

/** Name shared by the Deployment, Service, Ingress, Secret and NetworkPolicy: `proj-<tenantId>-<env>`. */
export function workloadNameOf(ref: EnvironmentRef): string {
  return `proj-${dnsLabelOf(`${ref.tenantId}-${ref.env}`, 58)}`;
}

/**
 * The runtime identity of a tenant: ServiceAccount `tenant-<tenantId>` in the
 * owner's namespace. Tenants of one owner share the namespace, so the account is
 * per tenant (not the namespace's `default`): two tenants never run as one identity.
 */
export function serviceAccountNameOf(ref: EnvironmentRef): string {
  return `tenant-${dnsLabelOf(ref.tenantId, 56)}`;
}

/**
 * Public host. A per-user project's `api` environment gets the short form the
 * SPEC names, `proj-<tenantId>.user-<ownerId>.<baseDomain>`; other environments
 * keep their env in the first label so each gets its own host.
 */
export function hostOf(ref: EnvironmentRef, baseDomain: string): string {
  const first = ref.env === 'api' ? `proj-${dnsLabelOf(ref.tenantId, 58)}` : workloadNameOf(ref);
  return `${first}.${namespaceOf(ref)}.${baseDomain}`;
}

/** Label selector identifying an environment's pods. */
export function selectorOf(ref: EnvironmentRef): Record<string, string> {
  return { 'tenantplane-tenant-id': labelValue(ref.tenantId), 'tenantplane-env': labelValue(ref.env) };
}

function labelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** Labels on every object: the spec's (made valid), the two identifying ones, and who manages it. */
export function labelsOf(ref: EnvironmentRef, extra: Record<string, string> = {}): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(extra))
    if (/^([a-z0-9.-]+\/)?[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/.test(key)) labels[key] = labelValue(value);
  return { ...labels, ...selectorOf(ref), 'app.kubernetes.io/name': workloadNameOf(ref), 'app.kubernetes.io/managed-by': 'tenantplane' };
}

/** The owner's namespace, enforcing the `restricted` Pod Security Standard. */
export function namespaceManifest(ref: EnvironmentRef): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespaceOf(ref),
      labels: {
        'app.kubernetes.io/managed-by': 'tenantplane',
        'tenantplane-owner': labelValue(ref.ownerId),
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/audit': 'restricted',
      },
    },
  };
}

export function quotaManifest(ref: EnvironmentRef, options: ManifestOptions): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: { name: 'tenantplane-quota', namespace: namespaceOf(ref), labels: { 'app.kubernetes.io/managed-by': 'tenantplane' } },
    spec: { hard: options.quota },
  };
}

/** The tenant's ServiceAccount (core/v1): no API token mounted unless asked for, no RBAC bindings. */
export function serviceAccountManifest(ref: EnvironmentRef, options: ManifestOptions): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: serviceAccountNameOf(ref),
      namespace: namespaceOf(ref),
      labels: { 'tenantplane-tenant-id': labelValue(ref.tenantId), 'app.kubernetes.io/managed-by': 'tenantplane' },
    },
    automountServiceAccountToken: options.automountServiceAccountToken,
  };
}

/** The namespace's `default` account: no tenant runs as it, and it hands no token to any pod either. */
export function defaultServiceAccountManifest(ref: EnvironmentRef): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'default', namespace: namespaceOf(ref) },
    automountServiceAccountToken: false,
  };
}

export function secretManifest(spec: EnvironmentSpec): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: `${workloadNameOf(spec)}-env`, namespace: namespaceOf(spec), labels: labelsOf(spec, spec.labels) },
    stringData: { ...spec.secrets },
  };
}

export function serviceManifest(spec: EnvironmentSpec, options: ManifestOptions): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: workloadNameOf(spec), namespace: namespaceOf(spec), labels: labelsOf(spec, spec.labels) },
    spec: {
      type: 'ClusterIP',
      selector: selectorOf(spec),
      ports: [{ name: 'http', port: 80, targetPort: options.containerPort, protocol: 'TCP' }],
    },
  };
}

export function ingressManifest(spec: EnvironmentSpec, options: ManifestOptions): Manifest {
  const host = hostOf(spec, options.baseDomain);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: workloadNameOf(spec), namespace: namespaceOf(spec), labels: labelsOf(spec, spec.labels) },
    spec: {
      ...(options.ingressClassName ? { ingressClassName: options.ingressClassName } : {}),
      ...(options.tlsSecretName ? { tls: [{ hosts: [host], secretName: options.tlsSecretName }] } : {}),
      rules: [
        {
          host,
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: workloadNameOf(spec), port: { number: 80 } } } }] },
        },
      ],
    },
  };
}

/**
 * Private, link-local and carrier-grade NAT ranges: where pods, services, nodes
 * and the cloud metadata server live. Egress to them is refused, so a tenant
 * reaches neither another tenant's pods nor the node's credentials.
 */
const CLUSTER_RANGES = {
  v4: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16'],
  v6: ['fc00::/7', 'fe80::/10'],
};

/**
 * The environment's NetworkPolicy (networking.k8s.io/v1), on by default.
 * Ingress: only from the ingress controller's namespace and from pods of the
 * same environment, on the workload port. Egress: DNS (port 53, any address,
 * so node-local caches work too), pods of the same environment, and public
 * addresses — never the private ranges other tenants' pods use.
 */
export function networkPolicyManifest(spec: EnvironmentSpec, options: ManifestOptions): Manifest {
  const samePods = { podSelector: { matchLabels: selectorOf(spec) } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: workloadNameOf(spec), namespace: namespaceOf(spec), labels: labelsOf(spec, spec.labels) },
    spec: {
      podSelector: { matchLabels: selectorOf(spec) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': options.ingressNamespace } } }, samePods],
          ports: [{ protocol: 'TCP', port: options.containerPort }],
        },
      ],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        { to: [samePods] },
        { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: CLUSTER_RANGES.v4 } }, { ipBlock: { cidr: '::/0', except: CLUSTER_RANGES.v6 } }] },
      ],
    },
  };
}

export function volumeClaimManifest(spec: EnvironmentSpec, options: ManifestOptions): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: `${workloadNameOf(spec)}-data`, namespace: namespaceOf(spec), labels: labelsOf(spec, spec.labels) },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: options.storageClass, resources: { requests: { storage: '1Gi' } } },
  };
}

/** The Deployment: one replica (0 when suspended), hardened to pass the `restricted` profile. */
export function deploymentManifest(
  spec: EnvironmentSpec,
  options: ManifestOptions,
  replicas: number,
  annotations: Record<string, string> = {},
): Manifest {
  const name = workloadNameOf(spec);
  const memory = `${spec.memoryMb}Mi`;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: namespaceOf(spec), labels: labelsOf(spec, spec.labels) },
    spec: {
      replicas,
      selector: { matchLabels: selectorOf(spec) },
      strategy: { type: options.storageClass ? 'Recreate' : 'RollingUpdate' },
      template: {
        metadata: { labels: labelsOf(spec, spec.labels), annotations },
        spec: {
          serviceAccountName: serviceAccountNameOf(spec),
          automountServiceAccountToken: options.automountServiceAccountToken,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'app',
              image: spec.image,
              ports: [{ name: 'http', containerPort: options.containerPort }],
              env: [
                { name: 'PORT', value: String(options.containerPort) },
                ...Object.entries(spec.vars).map(([k, value]) => ({ name: k, value })),
              ],
              envFrom: [{ secretRef: { name: `${name}-env` } }],
              resources: { requests: { cpu: '50m', memory }, limits: { memory } },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                runAsNonRoot: true,
                seccompProfile: { type: 'RuntimeDefault' },
              },
              ...(options.storageClass ? { volumeMounts: [{ name: 'data', mountPath: '/data' }] } : {}),
            },
          ],
          ...(options.storageClass ? { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: `${name}-data` } }] } : {}),
        },
      },
    },
  };
}
