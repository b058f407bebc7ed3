/**
 * The runtime part of the config: which driver runs tenant environments and
 * each driver's settings. The variables a driver needs are required only when
 * RUNTIME_DRIVER chooses it, so one deployment does not need every cloud's keys.
 */
import { ConfigError, number, oneOf, optional, portRange, str, uidRange, type Env } from './readers.ts';

export interface RuntimeConfig {
  driver: string;
  dataDir: string;
  portRange: { from: number; to: number };
  publicHost: string;
  /** uids of local workloads when the control plane runs as root: one per environment. */
  uidRange: { from: number; to: number };
  /** Minutes without a request after which a local environment's process stops until its next request; 0: never. */
  idleSleepMinutes: number;
  /** Cloud Run: each tenant runs as its own service account (shared/gcp/names.ts); nothing to configure but the deployer. */
  cloudRun: { deployerServiceAccount: string };
  kubernetes: {
    kubeconfigPath?: string;
    baseDomain?: string;
    ingressClassName?: string;
    /** A NetworkPolicy per environment (default true): only the ingress controller gets in, no egress to other tenants. */
    networkPolicy: boolean;
    /** Namespace of the ingress controller the NetworkPolicy admits (default `ingress-nginx`). */
    ingressNamespace: string;
    /** Mount each tenant ServiceAccount's API token into its pods (default false). */
    automountServiceAccountToken: boolean;
  };
  fly: { apiToken?: string; orgSlug?: string; region?: string };
}

/** The runtime section; the variables the chosen driver needs are required only when it is chosen. */
export function parseRuntimeConfig(env: Env, base: { region: string; projectId: string }): RuntimeConfig {
  const { region, projectId } = base;
  const driver = oneOf(env, 'RUNTIME_DRIVER', ['local', 'cloud-run', 'kubernetes', 'fly'] as const, 'local');
  const requiredFor = (forDriver: string, name: string) => (driver === forDriver ? str(env, name) : optional(env, name));
  // Parsed before the try below, whose message would call a bad value missing.
  const k8sNetworkPolicy = oneOf(env, 'K8S_NETWORK_POLICY', ['true', 'false'] as const, 'true') === 'true';
  const idleSleepMinutes = number(env, 'LOCAL_IDLE_SLEEP_MINUTES', 15, 0, 10_080);
  const k8sAutomountToken = oneOf(env, 'K8S_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN', ['true', 'false'] as const, 'false') === 'true';
  try {
    return {
      driver,
      dataDir: str(env, 'DATA_DIR', '.data'),
      portRange: portRange(env, 'LOCAL_PORT_RANGE', '20000-20999'),
      publicHost: str(env, 'LOCAL_PUBLIC_HOST', '127.0.0.1'),
      uidRange: uidRange(env, 'LOCAL_UID_RANGE', '200000-299999'),
      idleSleepMinutes,
      cloudRun: { deployerServiceAccount: str(env, 'PROVISIONER_SERVICE_ACCOUNT', `tp-provisioner@${projectId}.iam.gserviceaccount.com`) },
      kubernetes: {
        kubeconfigPath: optional(env, 'KUBECONFIG'),
        baseDomain: requiredFor('kubernetes', 'K8S_BASE_DOMAIN'),
        ingressClassName: optional(env, 'K8S_INGRESS_CLASS'),
        networkPolicy: k8sNetworkPolicy,
        ingressNamespace: str(env, 'K8S_INGRESS_NAMESPACE', 'ingress-nginx'),
        automountServiceAccountToken: k8sAutomountToken,
      },
      fly: {
        apiToken: requiredFor('fly', 'FLY_API_TOKEN'),
        orgSlug: requiredFor('fly', 'FLY_ORG'),
        region: str(env, 'FLY_REGION', region.startsWith('europe') ? 'fra' : 'iad'),
      },
    };
  } catch (err) {
    if (err instanceof ConfigError)
      throw new ConfigError(err.variable, `is required when RUNTIME_DRIVER=${driver} (${err.message.split(': ')[1]})`);
    throw err;
  }
}

/**
 * The local driver's idle time per environment, in ms: `idleSleepMinutes`
 * for every environment but `live` on a paid plan (one with a price), which
 * never sleeps; 0 minutes turns sleep off. The plan is the deployed spec's
 * `TENANT_PLAN`, so a plan change applies from the environment's next deploy.
 */
export function localIdleSleepMs(
  minutes: number,
  plans: { id: string; priceMonthly: number }[],
): (ref: { env: string }, vars: Record<string, string>) => number {
  const paid = new Set(plans.filter((p) => p.priceMonthly > 0).map((p) => p.id));
  return (ref, vars) => (minutes <= 0 || (ref.env === 'live' && paid.has(vars.TENANT_PLAN ?? '')) ? 0 : Math.round(minutes * 60_000));
}
