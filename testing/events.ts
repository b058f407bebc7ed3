/**
 * Reading a tenant's event stream in tests with a real SSE client (eventsource 4,
 * which resends Last-Event-ID on reconnect).
 */
import { EventSource } from 'eventsource';
import type { TenantEvent } from '../shared/tenants/types.ts';

/** Collects events until one of `types` arrives (resolves with all seen) or the timeout passes. */
export function waitForEvent(
  baseUrl: string,
  tenantId: string,
  token: string,
  types: string[],
  timeoutMs = 30_000,
  lastEventId?: string,
): Promise<TenantEvent[]> {
  return new Promise((resolve, reject) => {
    const seen: TenantEvent[] = [];
    const source = new EventSource(`${baseUrl}/api/v1/tenants/${tenantId}/events`, {
      fetch: (input, init) =>
        fetch(input, {
          ...init,
          headers: {
            ...(init?.headers as Record<string, string>),
            Authorization: `Bearer ${token}`,
            ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}),
          },
        }),
    });
    const timer = setTimeout(async () => {
      source.close();
      // What the API says of the tenant now, so a timeout tells a stuck operation from a stream that missed an event.
      const now = await fetch(`${baseUrl}/api/v1/tenants/${tenantId}`, { headers: { Authorization: `Bearer ${token}` } })
        .then(async (res) => `${res.status} ${await res.text()}`)
        .catch((error: Error) => error.message);
      reject(
        new Error(`No ${types.join('/')} event within ${timeoutMs} ms; saw: ${seen.map((e) => e.type).join(', ')}; the tenant now: ${now}`),
      );
    }, timeoutMs);
    source.onmessage = () => undefined;
    const onEvent = (message: MessageEvent) => {
      const event = JSON.parse(message.data) as TenantEvent;
      seen.push(event);
      if (types.includes(event.type)) {
        clearTimeout(timer);
        source.close();
        resolve(seen);
      }
    };
    // Every event type is a named SSE event; listen to those a test may meet.
    for (const type of EVENT_TYPES) source.addEventListener(type, onEvent);
    source.onerror = () => undefined;
  });
}

export const EVENT_TYPES = [
  'provisioning_requested',
  'provisioning_started',
  'infrastructure_ready',
  'database_ready',
  'bucket_ready',
  'secrets_stored',
  'deploy_started',
  'environment_ready',
  'tenant_ready',
  'identity_ready',
  'provisioning_failed',
  'suspend_requested',
  'environment_suspended',
  'tenant_suspended',
  'resume_requested',
  'tenant_resumed',
  'restart_requested',
  'tenant_restarted',
  'deploy_requested',
  'deployed',
  'reset_requested',
  'environment_destroyed',
  'environment_reset',
  'rotate_requested',
  'credentials_rotated',
  'backup_requested',
  'backup_stored',
  'backup_created',
  'backup_failed',
  'restore_requested',
  'database_restored',
  'backup_restored',
  'restore_failed',
  'delete_requested',
  'resources_removed',
  'tenant_deleted',
  'tenant_updated',
  'suspend_failed',
  'resume_failed',
  'deploy_failed',
  'restart_failed',
  'reset_failed',
  'rotate_failed',
  'delete_failed',
  'data_kept',
  'undelete_requested',
  'tenant_restored',
  'undelete_failed',
  'deletion_reminder_sent',
  'data_purged',
  'export_requested',
  'environment_exported',
  'export_ready',
  'export_failed',
];

/**
 * The tenant's whole event history as it stands now (`follow=false`), for
 * counting events once an operation settled, or for a cursor to wait after.
 */
export async function readEvents(baseUrl: string, tenantId: string, token: string): Promise<TenantEvent[]> {
  const res = await fetch(`${baseUrl}/api/v1/tenants/${tenantId}/events?follow=false`, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`Reading the events of ${tenantId} answered ${res.status}: ${await res.text()}`);
  return (await res.text())
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => JSON.parse(line.slice(5)) as TenantEvent);
}

/** The id of the tenant's newest event: pass it to waitForEvent to wait only for what happens next. */
export async function latestEventId(baseUrl: string, tenantId: string, token: string): Promise<string | undefined> {
  return (await readEvents(baseUrl, tenantId, token)).at(-1)?.id;
}
