/**
 * The tenants service contract: every lifecycle operation, written once and
 * called by the REST API, chat, webhooks and the provision worker. Every
 * method takes the caller's Principal and authorizes through shared/auth/authorize.ts.
 */
import type { Principal } from '../auth/principal.ts';
import type { EnvironmentMetrics, LogLine } from '../runtime/types.ts';

export type TenantState = 'provisioning' | 'ready' | 'failed' | 'suspended' | 'deleting' | 'deleted';
export const TENANT_STATES: readonly TenantState[] = ['provisioning', 'ready', 'failed', 'suspended', 'deleting', 'deleted'];
export type EnvName = 'demo' | 'test' | 'live';
export const ENV_NAMES: readonly EnvName[] = ['demo', 'test', 'live'];
export const MEMORY_SIZES = [256, 512, 1024, 2048] as const;

/** Tenant ids are `t-` and 10 base32 characters; anything else cannot name a tenant. */
export const isTenantId = (value: string): boolean => /^t-[a-z2-7]{10}$/.test(value);

export interface Tenant {
  /** `t-` + 10 lowercase base32 chars; also the label value `tenantplane-tenant-id`. */
  id: string;
  /** Display name chosen by the owner, unique per owner, [a-z0-9-] 3–30 chars (chat refers to sites by it). */
  name: string;
  ownerId: string;
  ownerEmail?: string;
  plan: string;
  region: string;
  memoryMb: number;
  state: TenantState;
  environments: EnvName[];
  /** Runtime driver name (config default, overridable per tenant by admins). */
  driver: string;
  image: string;
  /** Incremented by every operation; part of task names so a retried request never enqueues twice. */
  generation: number;
  /** Environment URLs once known. */
  urls: Partial<Record<EnvName, string>>;
  error?: { code: string; message: string };
  /** A deleted tenant's databases and buckets are kept until then; `POST …/restore` before it brings the tenant back. */
  restorableUntil?: string | null;
  /** When a deleted tenant's data was dropped for good (restore is refused from then on). */
  dataPurgedAt?: string;
  createdAt: string;
  updatedAt: string;
}

export type EnvironmentStatusName = 'pending' | 'provisioning' | 'ready' | 'suspended' | 'failed' | 'deleting';

export interface EnvironmentRecord {
  tenantId: string;
  env: EnvName;
  status: EnvironmentStatusName;
  url?: string;
  image: string;
  /** The release it runs, written by rollouts (shared/releases); shown only while `release.image` is still `image`. */
  release?: { name: string | null; image: string } | null;
  /** Steps completed for the current operation (idempotency). */
  steps: string[];
  error?: { code: string; message: string };
  updatedAt: string;
}

export interface TenantEvent {
  /** Monotonic per tenant, zero-padded so string order is numeric order (Last-Event-ID). */
  id: string;
  type: string;
  env?: EnvName;
  message: string;
  at: string;
  data?: Record<string, unknown>;
}

export interface CreateTenantInput {
  name: string;
  environments?: EnvName[];
  region?: string;
  plan?: string;
  memoryMb?: number;
  /** Admins (and webhooks, acting as the system) may create for another user. */
  ownerId?: string;
}

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
  /** How many match the query over all pages (the admin tables show it). */
  total?: number;
}

/** The tenants list's search, filters and sort (the portal's table; validated by the route). */
export interface TenantListQuery {
  pageSize?: number;
  pageToken?: string;
  ownerId?: string;
  /** A whole tenant id, or a prefix of the name. */
  q?: string;
  state?: TenantState;
  plan?: string;
  driver?: string;
  /** `createdAt` / `-createdAt` (default, newest first) / `name` / `-name`. */
  sort?: string;
  /** The deleted tenants that can still be restored, instead of the others. */
  deleted?: boolean;
}

export interface TenantService {
  create(p: Principal, input: CreateTenantInput): Promise<Tenant>;
  list(p: Principal, options?: TenantListQuery): Promise<Page<Tenant>>;
  get(p: Principal, id: string): Promise<Tenant>;
  /** Finds one of the caller's tenants (admins: any) by id or by name. 404 when none; 409 when a name is ambiguous for an admin. */
  resolve(p: Principal, idOrName: string): Promise<Tenant>;
  update(p: Principal, id: string, patch: { name?: string; memoryMb?: number }): Promise<Tenant>;
  remove(p: Principal, id: string): Promise<Tenant>;
  suspend(p: Principal, id: string): Promise<Tenant>;
  resume(p: Principal, id: string): Promise<Tenant>;
  restart(p: Principal, id: string): Promise<Tenant>;
  retryProvision(p: Principal, id: string): Promise<Tenant>;
  status(p: Principal, id: string): Promise<{ tenant: Tenant; environments: EnvironmentRecord[] }>;
  environments(p: Principal, id: string): Promise<EnvironmentRecord[]>;
  resetEnvironment(p: Principal, id: string, env: string): Promise<Tenant>;
  deploy(p: Principal, id: string, image: string): Promise<Tenant>;
  registryToken(p: Principal, id: string): Promise<{ registry: string; username: string; token: string; repository: string; tag: string }>;
  logs(p: Principal, id: string, query: { env?: string; since?: string; limit?: number }): Promise<LogLine[]>;
  metrics(p: Principal, id: string): Promise<Partial<Record<EnvName, EnvironmentMetrics | null>>>;
  events(p: Principal, id: string, afterId?: string): Promise<TenantEvent[]>;
}
