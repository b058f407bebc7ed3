/**
 * Options of the Kubernetes driver, apart from its logic so the API client
 * (client.ts) can read them without importing the driver that imports it.
 */
/** Options of {@link createKubernetesDriver}. Give `cluster` or `kubeconfigPath`. */
export interface KubernetesDriverOptions {
  /** Path of a kubeconfig file (its current context is used), e.g. `~/.kube/config`. */
  kubeconfigPath?: string;
  /** An explicit cluster instead of a kubeconfig: API server URL and a bearer token. */
  cluster?: { server: string; token: string; skipTLSVerify?: boolean; caData?: string };
  /** Domain under which hosts are made: `proj-<id>.user-<owner>.<baseDomain>`. Required. */
  baseDomain: string;
  /** IngressClass of the ingress controller, e.g. `nginx`; the cluster default when omitted. */
  ingressClassName?: string;
  /** TLS secret (e.g. a wildcard certificate for `*.baseDomain`) put on each Ingress; URLs are `https` when set, `http` otherwise. */
  tlsSecretName?: string;
  /**
   * Give each environment a NetworkPolicy: ingress only from the ingress
   * controller's namespace, egress only to DNS and public addresses (never to
   * other tenants' pods). Default true; needs a CNI that enforces policies.
   */
  networkPolicy?: boolean;
  /** Namespace of the ingress controller that the NetworkPolicy lets in (default `ingress-nginx`). */
  ingressNamespace?: string;
  /** Mount the tenant ServiceAccount's API token into its pods (default false: workloads never talk to the cluster API). */
  automountServiceAccountToken?: boolean;
  /** StorageClass for a 1 GiB volume mounted at `/data`; no volume when omitted. */
  storageClass?: string;
  /** Port the workload listens on (default 8080; also passed as `PORT`). */
  containerPort?: number;
  /** ResourceQuota `hard` of each owner namespace (default pods 20, requests.cpu 4, requests.memory/limits.memory 8Gi). */
  quota?: Record<string, string>;
  /** Delay between status polls (default 1000 ms). */
  pollIntervalMs?: number;
}
