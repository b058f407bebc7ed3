/**
 * Kubernetes driver (R-RUNTIME-K8S) on `@kubernetes/client-node` 1.x: a
 * namespace per owner (`user-<ownerId>`, Pod Security `restricted`, a
 * ResourceQuota), per tenant a ServiceAccount `tenant-<tenantId>` (its runtime
 * identity, no API token mounted), and per environment a Deployment
 * `proj-<tenantId>-<env>` (replicas 0/1) running as that account, a Secret
 * mounted as env, a ClusterIP Service, an Ingress, a NetworkPolicy (unless
 * turned off) and optionally a volume claim. Every write is
 * read → create on 404 → replace with the read `resourceVersion` (retried once
 * on a 409 conflict), so a repeated step converges.
 */
import { createObjectApis, isStatus, type KubeApis, type ObjectKind } from './client.ts';
import {
  defaultServiceAccountManifest,
  deploymentManifest,
  hostOf,
  ingressManifest,
  namespaceManifest,
  namespaceOf,
  networkPolicyManifest,
  quotaManifest,
  secretManifest,
  selectorOf,
  serviceAccountManifest,
  serviceAccountNameOf,
  serviceManifest,
  volumeClaimManifest,
  workloadNameOf,
  type ManifestOptions,
} from './resources.ts';
import { DriverError, type EnvironmentRef, type EnvironmentStatus, type LogLine, type RuntimeDriver } from '../types.ts';
import type { KubernetesDriverOptions } from './options.ts';
import { pollUntilReady } from '../poll-until-ready.ts';

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
const SECRET_VERSION = 'tenantplane/secret-resource-version';

/** Creates the Kubernetes driver. Throws a `not_configured` DriverError naming a missing option. */
export function createKubernetesDriver(options: KubernetesDriverOptions): RuntimeDriver {
  if (!options?.baseDomain)
    throw new DriverError('kubernetes', 'not_configured', 'kubernetes driver: option "baseDomain" is missing (e.g. "apps.example.com").');
  if (!options.cluster && !options.kubeconfigPath) {
    throw new DriverError(
      'kubernetes',
      'not_configured',
      'kubernetes driver: option "kubeconfigPath" or "cluster" ({ server, token }) is missing (e.g. kubeconfigPath: "/home/me/.kube/config").',
    );
  }
  const manifestOptions: ManifestOptions = {
    baseDomain: options.baseDomain,
    ingressClassName: options.ingressClassName,
    networkPolicy: options.networkPolicy ?? true,
    ingressNamespace: options.ingressNamespace ?? 'ingress-nginx',
    automountServiceAccountToken: options.automountServiceAccountToken ?? false,
    storageClass: options.storageClass,
    tlsSecretName: options.tlsSecretName,
    containerPort: options.containerPort ?? 8080,
    quota: options.quota ?? { pods: '20', 'requests.cpu': '4', 'requests.memory': '8Gi', 'limits.memory': '8Gi' },
  };
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  let apis: Promise<KubeApis> | undefined;
  const kube = () => (apis ??= createObjectApis(options));
  const urlOf = (ref: EnvironmentRef) => `${options.tlsSecretName ? 'https' : 'http'}://${hostOf(ref, options.baseDomain)}`;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Create or replace one object; returns the stored object. */
  async function apply(kind: ObjectKind, manifest: Record<string, any>, keep?: (current: any, next: any) => void): Promise<any> {
    const api = (await kube())[kind];
    const { name, namespace } = manifest.metadata;
    for (let attempt = 0; ; attempt++) {
      const current = await api.read(name, namespace).catch((error) => (isStatus(error, 404) ? undefined : Promise.reject(error)));
      try {
        if (!current) return await api.create(manifest, namespace);
        const next = structuredClone(manifest);
        next.metadata.resourceVersion = current.metadata.resourceVersion;
        keep?.(current, next);
        return await api.replace(name, next, namespace);
      } catch (error) {
        if (attempt < 2 && (isStatus(error, 409) || isStatus(error, 404))) continue;
        throw wrap(error, `applying ${kind} ${namespace ? `${namespace}/` : ''}${name}`);
      }
    }
  }

  /** The owner namespace, waiting out a previous deletion that is still terminating. */
  async function ensureNamespace(ref: EnvironmentRef): Promise<void> {
    const { namespaces } = await kube();
    const name = namespaceOf(ref);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const current = await namespaces
        .read(name)
        .catch((error) => (isStatus(error, 404) ? undefined : Promise.reject(wrap(error, `reading namespace ${name}`))));
      if (current?.status?.phase === 'Terminating') {
        if (Date.now() > deadline)
          throw new DriverError('kubernetes', 'timeout', `kubernetes: namespace ${name} is still terminating; retry later.`);
        await sleep(Math.min(pollIntervalMs, 500));
        continue;
      }
      await apply('namespaces', namespaceManifest(ref), (cur, next) => (next.spec = cur.spec));
      return;
    }
  }

  /** On replacing a ServiceAccount, keep what the cluster or an admin added: token `secrets`, pull secrets, labels of `default`. */
  function keepClusterFields(current: any, next: any): void {
    if (current.secrets) next.secrets = current.secrets;
    if (current.imagePullSecrets) next.imagePullSecrets = current.imagePullSecrets;
    next.metadata.labels ??= current.metadata?.labels;
    next.metadata.annotations ??= current.metadata?.annotations;
  }

  async function ensureServiceAccount(ref: EnvironmentRef): Promise<void> {
    await apply('serviceaccounts', serviceAccountManifest(ref, manifestOptions), keepClusterFields);
  }

  async function readDeployment(ref: EnvironmentRef): Promise<any | undefined> {
    const { deployments } = await kube();
    return deployments
      .read(workloadNameOf(ref), namespaceOf(ref))
      .catch((error) => (isStatus(error, 404) ? undefined : Promise.reject(wrap(error, `reading deployment ${workloadNameOf(ref)}`))));
  }

  async function patchDeployment(ref: EnvironmentRef, patch: object, what: string): Promise<void> {
    const { deployments } = await kube();
    try {
      await deployments.patch(workloadNameOf(ref), patch, namespaceOf(ref));
    } catch (error) {
      if (isStatus(error, 404))
        throw new DriverError(
          'kubernetes',
          'not_found',
          `kubernetes: no deployment ${namespaceOf(ref)}/${workloadNameOf(ref)} to ${what}; deploy it first.`,
        );
      throw wrap(error, `${what} ${workloadNameOf(ref)}`);
    }
  }

  function describe(ref: EnvironmentRef, deployment: any): EnvironmentStatus {
    const url = urlOf(ref);
    const image: string | undefined = deployment.spec?.template?.spec?.containers?.[0]?.image;
    const replicas: number = deployment.spec?.replicas ?? 1;
    const status = deployment.status ?? {};
    const failure = (status.conditions ?? []).find(
      (c: any) => (c.type === 'ReplicaFailure' && c.status === 'True') || (c.type === 'Progressing' && c.status === 'False'),
    );
    if (failure) return { state: 'failed', ready: false, url, image, message: failure.message ?? failure.reason };
    if (replicas === 0) return { state: 'stopped', ready: false, url, image };
    const current = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
    const ready = current && (status.availableReplicas ?? 0) >= replicas && (status.updatedReplicas ?? 0) >= replicas;
    return { state: ready ? 'running' : 'provisioning', ready, url, image };
  }

  async function deleteIgnoringMissing(kind: ObjectKind, name: string, namespace?: string): Promise<void> {
    await (await kube())[kind].delete(name, namespace).catch((error) => {
      if (!isStatus(error, 404)) throw wrap(error, `deleting ${kind} ${name}`);
    });
  }

  return {
    name: 'kubernetes',
    flags: { logs: true, metrics: false, restart: true, volumes: Boolean(options.storageClass) },

    async ensureInfrastructure(spec) {
      await ensureNamespace(spec);
      const namespace = namespaceOf(spec);
      await apply('resourcequotas', quotaManifest(spec, manifestOptions));
      await apply('serviceaccounts', defaultServiceAccountManifest(spec), keepClusterFields);
      await ensureServiceAccount(spec);
      await apply('secrets', secretManifest(spec));
      await apply('services', serviceManifest(spec, manifestOptions), (cur, next) =>
        Object.assign(next.spec, { clusterIP: cur.spec.clusterIP, clusterIPs: cur.spec.clusterIPs }),
      );
      await apply('ingresses', ingressManifest(spec, manifestOptions));
      if (manifestOptions.networkPolicy) await apply('networkpolicies', networkPolicyManifest(spec, manifestOptions));
      if (options.storageClass) {
        // A claim's spec is immutable once bound: create it once, never replace it.
        const claims = (await kube()).persistentvolumeclaims;
        const claim = volumeClaimManifest(spec, manifestOptions);
        const existing = await claims
          .read(claim.metadata.name, namespace)
          .catch((error) => (isStatus(error, 404) ? undefined : Promise.reject(wrap(error, 'reading volume claim'))));
        if (!existing)
          await claims
            .create(claim, namespace)
            .catch((error) => (isStatus(error, 409) ? undefined : Promise.reject(wrap(error, 'creating volume claim'))));
      }
      return { url: urlOf(spec) };
    },

    async deploy(spec) {
      await ensureNamespace(spec);
      // Also here: an environment created before per-tenant accounts existed is redeployed without ensureInfrastructure.
      await ensureServiceAccount(spec);
      const secret = await apply('secrets', secretManifest(spec));
      // The secret's resourceVersion in the pod template rolls the pods when a value changes.
      const annotations = { [SECRET_VERSION]: String(secret.metadata.resourceVersion) };
      await apply('deployments', deploymentManifest(spec, manifestOptions, 1, annotations), (current, next) => {
        const restartedAt = current.spec?.template?.metadata?.annotations?.[RESTARTED_AT];
        if (restartedAt) next.spec.template.metadata.annotations[RESTARTED_AT] = restartedAt;
      });
    },

    async waitReady(ref, { timeoutMs = 120_000 } = {}) {
      return pollUntilReady(() => this.status(ref), {
        timeoutMs,
        intervalMs: pollIntervalMs,
        fail: (status, reason) =>
          reason === 'final'
            ? new DriverError('kubernetes', 'failed', `kubernetes: ${workloadNameOf(ref)} failed: ${status.message}`)
            : new DriverError(
                'kubernetes',
                'timeout',
                `kubernetes: ${namespaceOf(ref)}/${workloadNameOf(ref)} not ready after ${timeoutMs} ms (state ${status.state}${status.message ? `: ${status.message}` : ''}).`,
              ),
      });
    },

    async status(ref) {
      const deployment = await readDeployment(ref);
      if (deployment) return describe(ref, deployment);
      const ingress = await (await kube()).ingresses
        .read(workloadNameOf(ref), namespaceOf(ref))
        .catch((error) => (isStatus(error, 404) ? undefined : Promise.reject(wrap(error, 'reading ingress'))));
      return ingress
        ? { state: 'provisioning', ready: false, url: urlOf(ref), message: 'infrastructure ready; not deployed yet' }
        : { state: 'absent', ready: false };
    },

    async suspend(ref) {
      await patchDeployment(ref, { spec: { replicas: 0 } }, 'suspend');
      // Scaling is asynchronous; return once the controller reports no pods, so "suspended" means stopped.
      const deadline = Date.now() + 120_000;
      for (;;) {
        const d = await readDeployment(ref);
        if (!d || ((d.status?.observedGeneration ?? 0) >= d.metadata.generation && !d.status?.replicas)) return;
        if (Date.now() > deadline)
          throw new DriverError('kubernetes', 'timeout', `kubernetes: ${workloadNameOf(ref)} still has pods 120 s after scaling to 0.`);
        await sleep(Math.min(pollIntervalMs, 500));
      }
    },

    async resume(ref) {
      await patchDeployment(ref, { spec: { replicas: 1 } }, 'resume');
    },

    async restart(ref) {
      // What `kubectl rollout restart` does: a changed template annotation rolls new pods.
      await patchDeployment(
        ref,
        { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date().toISOString() } } } } },
        'restart',
      );
    },

    async destroy(ref) {
      const name = workloadNameOf(ref);
      const namespace = namespaceOf(ref);
      await deleteIgnoringMissing('deployments', name, namespace);
      for (const kind of ['networkpolicies', 'ingresses', 'services'] as const) await deleteIgnoringMissing(kind, name, namespace);
      await deleteIgnoringMissing('secrets', `${name}-env`, namespace);
      await deleteIgnoringMissing('persistentvolumeclaims', `${name}-data`, namespace);
      // The namespace belongs to the owner: it goes with the owner's last environment; the account with the tenant's last.
      const remaining = (
        await (
          await kube()
        ).deployments
          .list(namespace)
          .catch((error) => (isStatus(error, 404) ? [] : Promise.reject(wrap(error, 'listing deployments'))))
      ).filter((d: any) => d.metadata.name.startsWith('proj-'));
      if (!remaining.length) return deleteIgnoringMissing('namespaces', namespace);
      const account = serviceAccountNameOf(ref);
      if (!remaining.some((d: any) => d.spec?.template?.spec?.serviceAccountName === account))
        await deleteIgnoringMissing('serviceaccounts', account, namespace);
    },

    async logs(ref, query = {}) {
      const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
      const { pods, readPodLog } = await kube();
      const namespace = namespaceOf(ref);
      const selector = Object.entries(selectorOf(ref))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      // The pod log API filters by whole seconds back from now; the exact cut is applied below.
      const sinceSeconds = query.since ? Math.ceil((Date.now() - Date.parse(query.since)) / 1000) + 1 : undefined;
      if (sinceSeconds !== undefined && sinceSeconds <= 0) return [];
      const list = await pods
        .list(namespace, selector)
        .catch((error) => (isStatus(error, 404) ? [] : Promise.reject(wrap(error, 'listing pods'))));
      const lines: LogLine[] = [];
      for (const pod of list) {
        const text = await readPodLog(pod.metadata.name, namespace, { tailLines: limit, sinceSeconds }).catch((error) => {
          if (isStatus(error, 404) || isStatus(error, 400)) return ''; // pod gone or container not started yet
          throw wrap(error, `reading logs of ${pod.metadata.name}`);
        });
        for (const raw of text.split('\n')) {
          const m = /^(\S+) (.*)$/.exec(raw);
          if (m && !Number.isNaN(Date.parse(m[1]))) lines.push({ time: new Date(m[1]).toISOString(), stream: 'stdout', text: m[2] });
        }
      }
      lines.sort((a, b) => a.time.localeCompare(b.time));
      return lines.filter((l) => !query.since || l.time >= query.since).slice(-limit);
    },
  };
}

function wrap(error: unknown, what: string): DriverError {
  if (error instanceof DriverError) return error;
  // ApiException carries the API server's Status body (object or JSON text); its message is the useful part.
  let body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // plain text body: keep it as is
    }
  }
  const detail =
    typeof body === 'object' && body && 'message' in body
      ? String((body as { message: unknown }).message)
      : error instanceof Error
        ? error.message.split('\n').slice(0, 2).join(' ')
        : String(error);
  return new DriverError('kubernetes', 'failed', `kubernetes: ${what} failed: ${detail}`, { cause: error });
}
