/**
 * The parts of a cluster the Kubernetes fake simulates behind its API: the
 * Deployment controller (pods appear, become available after a delay, status
 * catches up with `observedGeneration`), Pod Security admission for namespaces
 * labelled `pod-security.kubernetes.io/enforce: restricted`, ResourceQuota's
 * requirement that pods declare the limits it constrains, and a kubelet that
 * keeps a timestamped log per pod. Follows:
 * - https://kubernetes.io/docs/concepts/workloads/controllers/deployment/ (status fields,
 *   `ReplicaFailure` condition with reason `FailedCreate`)
 * - https://kubernetes.io/docs/concepts/security/pod-security-standards/ (restricted profile:
 *   allowPrivilegeEscalation=false, capabilities drop ALL, runAsNonRoot, seccompProfile RuntimeDefault|Localhost)
 * - https://kubernetes.io/docs/concepts/policy/resource-quotas/ (pods must set what the quota tracks)
 * - https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/ (ServiceAccount
 *   admission: `serviceAccountName` defaults to `default`, a pod naming a missing account is refused
 *   with `error looking up service account <ns>/<name>`, and unless the pod's or else the account's
 *   `automountServiceAccountToken` is false, a projected `kube-api-access-<suffix>` volume holding the
 *   API token is added and mounted at /var/run/secrets/kubernetes.io/serviceaccount)
 */
import { randomHex } from './http-server.ts';

type Json = Record<string, any>;

/** Why the restricted Pod Security profile refuses this pod template, if it does. */
export function restrictedViolations(podSpec: Json): string[] {
  const problems: string[] = [];
  const pod = podSpec.securityContext ?? {};
  for (const c of (podSpec.containers ?? []) as Json[]) {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false)
      problems.push(`allowPrivilegeEscalation != false (container "${c.name}" must set securityContext.allowPrivilegeEscalation=false)`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL'))
      problems.push(`unrestricted capabilities (container "${c.name}" must set securityContext.capabilities.drop=["ALL"])`);
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true)
      problems.push(`runAsNonRoot != true (pod or container "${c.name}" must set securityContext.runAsNonRoot=true)`);
    const seccomp = (sc.seccompProfile ?? pod.seccompProfile)?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
      problems.push(
        `seccompProfile (pod or container "${c.name}" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
      );
  }
  return problems;
}

/** Quota resources a container fails to declare (`limits.memory` → `resources.limits.memory`). */
export function missingQuotaResources(podSpec: Json, quotas: Json[]): string[] {
  const missing = new Set<string>();
  for (const quota of quotas) {
    for (const key of Object.keys(quota.spec?.hard ?? {})) {
      const m = /^(limits|requests)\.(cpu|memory)$/.exec(key);
      if (!m) continue;
      for (const c of (podSpec.containers ?? []) as Json[]) if (!c.resources?.[m[1]]?.[m[2]]) missing.add(key);
    }
  }
  return [...missing];
}

/** The subset of the fake's store the controllers work on. */
export interface ClusterState {
  namespaces: Map<string, Json>;
  objects(kind: 'deployments' | 'pods' | 'resourcequotas' | 'serviceaccounts', namespace: string): Map<string, Json>;
  nextResourceVersion(): string;
  after(ms: number, fn: () => void): void;
}

/** Pod logs kept by the simulated kubelet, keyed by `namespace/pod`. */
export type PodLogs = Map<string, { time: string; text: string }[]>;

/**
 * Reconciles one Deployment after `delayMs`: replaces its pods when the
 * template changed, scales to `spec.replicas`, then reports status. Pods that
 * admission refuses produce a `ReplicaFailure` condition instead.
 */
export function reconcileDeployment(state: ClusterState, logs: PodLogs, namespace: string, name: string, delayMs: number): void {
  state.after(delayMs, () => {
    const deployment = state.objects('deployments', namespace).get(name);
    if (!deployment) return;
    const pods = state.objects('pods', namespace);
    const template = deployment.spec.template;
    const hash = templateHash(template);
    const mine = [...pods.values()].filter((p) => ownerOf(p) === name);
    for (const pod of mine) if (pod.metadata.labels['pod-template-hash'] !== hash) pods.delete(pod.metadata.name);
    const current = mine.filter((p) => pods.has(p.metadata.name));
    const wanted = deployment.spec.replicas ?? 1;
    const ns = state.namespaces.get(namespace);
    const refusal = [
      ...(ns?.metadata.labels?.['pod-security.kubernetes.io/enforce'] === 'restricted'
        ? restrictedViolations(template.spec).map((p) => `violates PodSecurity "restricted:latest": ${p}`)
        : []),
      ...missingQuotaResources(template.spec, [...state.objects('resourcequotas', namespace).values()]).map(
        (r) => `failed quota: must specify ${r}`,
      ),
    ];
    const accountName: string = template.spec.serviceAccountName ?? 'default';
    const account = state.objects('serviceaccounts', namespace).get(accountName);
    if (!account) refusal.push(`error looking up service account ${namespace}/${accountName}: serviceaccount "${accountName}" not found`);
    const conditions: Json[] = [];
    if (wanted > current.length && refusal.length) {
      conditions.push({
        type: 'ReplicaFailure',
        status: 'True',
        reason: 'FailedCreate',
        message: `pods "${name}-${hash}-" is forbidden: ${refusal.join('; ')}`,
        lastUpdateTime: new Date().toISOString(),
      });
    } else {
      for (let i = current.length; i < wanted; i++) {
        const podName = `${name}-${hash}-${randomHex(5)}`;
        pods.set(podName, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: podName,
            namespace,
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-${hash}`, controller: true }],
            uid: crypto.randomUUID(),
            resourceVersion: state.nextResourceVersion(),
            creationTimestamp: new Date().toISOString(),
            labels: { ...template.metadata?.labels, 'pod-template-hash': hash },
          },
          spec: admitServiceAccount(template.spec, account ?? {}),
          status: { phase: 'Running', startTime: new Date().toISOString() },
        });
        logs.set(`${namespace}/${podName}`, [
          {
            time: new Date().toISOString(),
            text: `container ${template.spec.containers[0].name} started (image ${template.spec.containers[0].image})`,
          },
        ]);
      }
      for (const extra of current.slice(wanted)) pods.delete(extra.metadata.name);
      conditions.push({ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastUpdateTime: new Date().toISOString() });
    }
    const ready = refusal.length && wanted > current.length ? current.length : wanted;
    deployment.status = {
      observedGeneration: deployment.metadata.generation,
      replicas: ready,
      updatedReplicas: ready,
      readyReplicas: ready || undefined,
      availableReplicas: ready || undefined,
      unavailableReplicas: wanted - ready || undefined,
      conditions,
    };
    deployment.metadata.resourceVersion = state.nextResourceVersion();
    // Stored again so watchers see the status change as a MODIFIED event.
    state.objects('deployments', namespace).set(name, deployment);
  });
}

/** What ServiceAccount admission does to a pod spec: name the account, and mount its token unless told not to. */
export function admitServiceAccount(podSpec: Json, account: Json): Json {
  const spec: Json = { ...podSpec, serviceAccountName: podSpec.serviceAccountName ?? 'default' };
  spec.serviceAccount = spec.serviceAccountName; // the deprecated alias the API server still fills in
  if ((podSpec.automountServiceAccountToken ?? account.automountServiceAccountToken) === false) return spec;
  const volume = `kube-api-access-${randomHex(5)}`;
  spec.volumes = [
    ...(podSpec.volumes ?? []),
    { name: volume, projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } },
  ];
  spec.containers = (podSpec.containers ?? []).map((c: Json) => ({
    ...c,
    volumeMounts: [...(c.volumeMounts ?? []), { name: volume, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
  }));
  return spec;
}

/** Stable short hash of a pod template, like the `pod-template-hash` label. */
export function templateHash(template: unknown): string {
  let h = 2166136261;
  for (const ch of JSON.stringify(template)) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h.toString(36).slice(0, 10);
}

/** The Deployment a pod belongs to, from its ReplicaSet owner `<deployment>-<hash>`. */
export function ownerOf(pod: Json): string | undefined {
  const owner = pod.metadata.ownerReferences?.[0]?.name as string | undefined;
  return owner?.slice(0, owner.lastIndexOf('-'));
}

/** A pod's log as `GET pods/{name}/log` answers it: `sinceTime`/`sinceSeconds`, `tailLines`, `timestamps`. */
export function readPodLog(lines: { time: string; text: string }[], query: URLSearchParams): string {
  const sinceSeconds = query.get('sinceSeconds');
  const since = query.get('sinceTime') ?? (sinceSeconds ? new Date(Date.now() - Number(sinceSeconds) * 1000).toISOString() : null);
  const tail = Number(query.get('tailLines') ?? 0);
  let selected = lines.filter((l) => !since || l.time >= since);
  if (tail > 0) selected = selected.slice(-tail);
  const withTime = query.get('timestamps') === 'true';
  return selected.map((l) => `${withTime ? `${l.time} ` : ''}${l.text}\n`).join('');
}

/** A Deployment's `scale` subresource: an autoscaling/v1 Scale with the desired and current replicas and the selector. */
export function scaleOf(deployment: Json): Json {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = deployment.metadata;
  const selector = Object.entries((deployment.spec.selector?.matchLabels ?? {}) as Record<string, string>)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: deployment.spec.replicas },
    status: { replicas: deployment.status?.replicas ?? 0, selector },
  };
}
