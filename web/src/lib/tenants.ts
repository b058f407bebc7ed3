/** The tenants API as the pages use it: types, and following an operation's events to its end. */
import { api, send } from './api.ts';
import { errorFromResponse } from './errors.ts';
import { followEventStream, readEventStream } from './sse.ts';

export type EnvName = 'demo' | 'test' | 'live';
export const ENV_NAMES: EnvName[] = ['demo', 'test', 'live'];
export const ENV_LABELS: Record<EnvName, string> = { demo: 'Demo', test: 'Test', live: 'Live' };

export interface Tenant {
  id: string;
  name: string;
  ownerId: string;
  ownerEmail?: string;
  plan: string;
  state: 'provisioning' | 'ready' | 'failed' | 'suspended' | 'deleting' | 'deleted';
  environments: EnvName[];
  image: string;
  urls: Partial<Record<EnvName, string>>;
  error?: { code: string; message: string };
  operation?: string;
  createdAt: string;
}

export interface EnvironmentRecord {
  env: EnvName;
  status: string;
  url?: string;
  error?: { code: string; message: string };
}

export interface TenantEvent {
  id: string;
  type: string;
  env?: EnvName;
  message: string;
  at: string;
}

/** Operations the pages start, with the event that ends each one well or badly. */
export const OPERATIONS = {
  provision: { path: 'retry-provision', requested: 'provisioning_requested', done: ['tenant_ready'], failed: ['provisioning_failed'] },
  suspend: { path: 'suspend', requested: 'suspend_requested', done: ['tenant_suspended'], failed: ['suspend_failed'] },
  resume: { path: 'resume', requested: 'resume_requested', done: ['tenant_resumed'], failed: ['resume_failed'] },
  restart: { path: 'restart', requested: 'restart_requested', done: ['tenant_restarted'], failed: ['restart_failed'] },
  deploy: { path: 'deploy', requested: 'deploy_requested', done: ['deployed'], failed: ['deploy_failed'] },
  rotate: { path: 'rotate-credentials', requested: 'rotate_requested', done: ['credentials_rotated'], failed: ['rotate_failed'] },
  delete: { path: '', requested: 'delete_requested', done: ['tenant_deleted'], failed: ['delete_failed'] },
} as const;

export type OperationName = keyof typeof OPERATIONS;

export const tenantPath = (id: string) => `/api/v1/tenants/${encodeURIComponent(id)}`;

export async function listTenants(ownerId?: string): Promise<Tenant[]> {
  const all: Tenant[] = [];
  let pageToken: string | undefined;
  do {
    const query = new URLSearchParams({ pageSize: '100' });
    if (pageToken) query.set('pageToken', pageToken);
    if (ownerId) query.set('ownerId', ownerId);
    const page = await api<{ tenants: Tenant[]; nextPageToken?: string }>(`/api/v1/tenants?${query}`);
    all.push(...page.tenants);
    pageToken = page.nextPageToken;
  } while (pageToken && all.length < 1000);
  return all;
}

export interface FollowResult {
  outcome: 'done' | 'failed';
  event: TenantEvent;
}

const parseEvent = (data: string): TenantEvent | null => {
  try {
    return JSON.parse(data) as TenantEvent;
  } catch {
    return null;
  }
};

/**
 * Shows a tenant's events and resolves when the latest run of `operation`
 * ends. The history is read first (`follow=false`) so that only events after
 * the last `<op>_requested` decide the outcome (an earlier run's end is never
 * mistaken for this one's); then the live stream resumes after the history's
 * last id, and reconnects resume with `Last-Event-ID`.
 */
export async function followOperation(
  tenantId: string,
  operation: OperationName,
  onEvent: (e: TenantEvent) => void,
  signal: AbortSignal,
  onConnection?: (s: 'live' | 'reconnecting') => void,
): Promise<FollowResult> {
  const spec = OPERATIONS[operation];
  const starts: readonly string[] = operation === 'provision' ? ['provisioning_requested', 'provision_requested'] : [spec.requested];
  const judge = (event: TenantEvent): FollowResult | null =>
    (spec.done as readonly string[]).includes(event.type) ? { outcome: 'done', event } : (spec.failed as readonly string[]).includes(event.type) ? { outcome: 'failed', event } : null;

  const history: TenantEvent[] = [];
  const res = await send(`${tenantPath(tenantId)}/events?follow=false`, { via: 'api', signal, headers: { Accept: 'text/event-stream' } });
  if (!res.ok || !res.body) throw await errorFromResponse(res);
  await readEventStream(res.body, (m) => {
    const event = parseEvent(m.data);
    if (event) history.push(event);
  });
  history.forEach(onEvent);
  let runStart = -1;
  history.forEach((e, i) => starts.includes(e.type) && (runStart = i));
  for (const event of history.slice(runStart + 1)) {
    const result = judge(event);
    if (result) return result;
  }

  const local = new AbortController();
  const stop = () => local.abort();
  signal.addEventListener('abort', stop);
  try {
    return await new Promise<FollowResult>((resolve, reject) => {
      let settled = false;
      followEventStream(`${tenantPath(tenantId)}/events`, {
        via: 'api',
        signal: local.signal,
        lastEventId: history.at(-1)?.id,
        onConnection,
        onMessage: (m) => {
          const event = parseEvent(m.data);
          if (!event || settled) return;
          onEvent(event);
          const result = judge(event);
          if (result) {
            settled = true;
            resolve(result);
          }
        },
      }).then(
        () => settled || reject(new DOMException('Stopped following the events.', 'AbortError')),
        (err) => settled || reject(err),
      );
    });
  } finally {
    signal.removeEventListener('abort', stop);
    local.abort();
  }
}
