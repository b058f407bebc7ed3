/** The tenants API as the pages use it: types, and following an operation's events to its end. */
import { api, send } from './api.ts';
import { errorFromResponse } from './errors.ts';
import { followEventStream, readEventStream } from './sse.ts';
import { OPERATIONS } from '../../../shared/tenants/state-machine.ts';
import type { EnvName, EnvironmentRecord, Tenant as TenantRecord, TenantEvent } from '../../../shared/tenants/types.ts';

export type { EnvName, EnvironmentRecord, TenantEvent };
/** A tenant as the API shows it: the record, and the name of the operation running, if any. */
export type Tenant = TenantRecord & { operation?: string };
export const ENV_NAMES: EnvName[] = ['demo', 'test', 'live'];
export const ENV_LABELS: Record<EnvName, string> = { demo: 'Demo', test: 'Test', live: 'Live' };

/** The API path of each operation the pages start (under the tenant's path); how it starts and ends is the state machine's. */
export const OPERATION_PATHS = {
  provision: 'retry-provision',
  suspend: 'suspend',
  resume: 'resume',
  restart: 'restart',
  deploy: 'deploy',
  rotate: 'rotate-credentials',
  delete: '',
  undelete: 'restore',
} as const;

export type OperationName = keyof typeof OPERATION_PATHS;

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
  operation: keyof typeof OPERATIONS,
  onEvent: (e: TenantEvent) => void,
  signal: AbortSignal,
  onConnection?: (s: 'live' | 'reconnecting') => void,
): Promise<FollowResult> {
  const spec = OPERATIONS[operation];
  const starts: readonly string[] = spec.requested;
  const judge = (event: TenantEvent): FollowResult | null =>
    event.type === spec.done.event ? { outcome: 'done', event } : event.type === spec.failed.event ? { outcome: 'failed', event } : null;

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
