/**
 * The runtime port: one interface, several drivers (local processes, Cloud Run,
 * Kubernetes, Fly Machines). The provision worker calls these methods as
 * idempotent steps; every method may be called again after a crash or a
 * redelivered task and must converge (look up before create, deterministic names).
 */

/** Identifies one environment: a tenant's demo/test/live, or a user's project ("api"). */
export interface EnvironmentRef {
  /** The owning user (Firebase uid). Kubernetes maps it to namespace `user-<ownerId>`. */
  ownerId: string;
  /** Tenant id, or project id for per-user projects. Lowercase [a-z0-9-], ≤ 30 chars. */
  tenantId: string;
  /** Environment name: `demo`, `test`, `live`, or `api` for projects. */
  env: string;
}

/** What to run in an environment. */
export interface EnvironmentSpec extends EnvironmentRef {
  /** Container image (cloud drivers) or workload reference (local driver uses its configured command). */
  image: string;
  /** Memory limit in MiB: 256, 512, 1024 or 2048. */
  memoryMb: number;
  /** Plain environment variables. */
  vars: Record<string, string>;
  /** Secret values; the driver decides how to inject them (env vars locally, Secret Manager refs on Cloud Run). Never log them. */
  secrets: Record<string, string>;
  /** Labels put on every resource; always includes `tenantplane-tenant-id` and `tenantplane-env`. */
  labels: Record<string, string>;
}

export type EnvironmentState = 'absent' | 'provisioning' | 'running' | 'stopped' | 'failed';

export interface EnvironmentStatus {
  state: EnvironmentState;
  /** True when the environment answers its health check / reports ready. */
  ready: boolean;
  /** Public URL of the environment once known (stable across suspend/resume). */
  url?: string;
  /** Image currently deployed, if known. */
  image?: string;
  /** Human readable detail, e.g. the last error. */
  message?: string;
}

export interface LogLine {
  /** ISO-8601 timestamp. */
  time: string;
  stream: 'stdout' | 'stderr' | 'system';
  text: string;
}

export interface LogQuery {
  /** ISO-8601; only lines at or after this time. */
  since?: string;
  /** Maximum number of most recent lines (default 100, max 1000). */
  limit?: number;
}

export interface EnvironmentMetrics {
  /** CPU use as a fraction of one core over the last sample window. */
  cpu: number;
  /** Resident memory in bytes. */
  memoryBytes: number;
  /** Requests served since the environment started (cumulative), if the driver knows. */
  requests?: number;
  /** Of those, the ones answered with a 5xx, if the driver knows (the local driver: the workload's `/metrics` `errors`). */
  errors?: number;
  /** Seconds since the environment (instance) started; 0 when stopped. */
  uptimeSeconds: number;
  /** ISO-8601 time of the sample. */
  sampledAt: string;
}

/** Optional capabilities. The conformance suite skips what a driver lacks; the API answers 501 not_supported. */
export interface DriverFlags {
  logs: boolean;
  metrics: boolean;
  restart: boolean;
  /** Persistent per-environment storage (data folder, volume). */
  volumes: boolean;
  /**
   * Whether each environment's workload runs as its own OS user, so one tenant's
   * process cannot read another's environment or files (local driver: true when
   * the control plane runs as root). Absent for drivers whose isolation is the
   * platform's (containers, service accounts).
   */
  isolatedUsers?: boolean;
  /**
   * Whether a workload is kept from opening connections to other tenants and to
   * the platform's own servers (local driver: a firewall chain on its uids, when
   * users are isolated and iptables can be used). Absent for drivers whose
   * network isolation is the platform's.
   */
  isolatedNetwork?: boolean;
}

export interface RuntimeDriver {
  /** Driver name as used in config: `local`, `cloud-run`, `kubernetes`, `fly`. */
  readonly name: string;
  readonly flags: DriverFlags;
  /** Phase 1: everything but the running workload (namespace/service shell, volume, URL). Idempotent. Returns the URL when known. */
  ensureInfrastructure(spec: EnvironmentSpec): Promise<{ url?: string }>;
  /**
   * Optional, before a first deploy: readies what `deploy(spec)` will start
   * while the environment's data is still being made (`spec.secrets` may lack
   * values that only come then). `deploy` works without it and decides alone
   * what runs; what was readied and not deployed goes by itself.
   */
  prepare?(spec: EnvironmentSpec): Promise<void>;
  /** Phase 2: deploy (or redeploy) the image with vars and secrets and start it. Idempotent. */
  deploy(spec: EnvironmentSpec): Promise<void>;
  /** Wait until the environment is ready or the timeout passes (then throws with the last status). */
  waitReady(ref: EnvironmentRef, options?: { timeoutMs?: number }): Promise<EnvironmentStatus>;
  /** Current status; `absent` when nothing exists. Never throws for a missing environment. */
  status(ref: EnvironmentRef): Promise<EnvironmentStatus>;
  /** Scale to zero, keep data and URL. Idempotent. */
  suspend(ref: EnvironmentRef): Promise<void>;
  /** Bring a suspended environment back on the same URL. Idempotent. */
  resume(ref: EnvironmentRef): Promise<void>;
  /** Restart the workload (e.g. after secrets change). */
  restart(ref: EnvironmentRef): Promise<void>;
  /** Remove every resource of the environment. Safe to repeat; no error when already gone. */
  destroy(ref: EnvironmentRef): Promise<void>;
  logs?(ref: EnvironmentRef, query?: LogQuery): Promise<LogLine[]>;
  metrics?(ref: EnvironmentRef): Promise<EnvironmentMetrics>;
  /** Release clients, timers, child-process handles (not the environments themselves). */
  close?(): Promise<void>;
}

/** Thrown by drivers; it lives beside AppError so the one edge maps it (shared/errors.ts). */
export { DriverError } from '../errors.ts';
