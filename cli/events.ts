/**
 * Following a tenant's event stream (R-TENANT-4) from the CLI: a small SSE
 * reader over fetch that reconnects with `Last-Event-ID` when the connection
 * drops, so no event is missed; and "wait for this operation to finish".
 */
import { OPERATIONS as MACHINE } from '../shared/tenants/state-machine.ts';
import type { TenantEvent } from '../shared/tenants/types.ts';
import type { ApiClient } from './client.ts';
import { CliError } from './errors.ts';

/** The operations the CLI waits for, by command; the events that start and end each come from the state machine. */
const KINDS = {
  create: 'provision',
  suspend: 'suspend',
  resume: 'resume',
  deploy: 'deploy',
  rotate: 'rotate',
  delete: 'delete',
  backup: 'backup',
  restore: 'restore',
  undelete: 'undelete',
  export: 'export',
} as const;
export type OperationKind = keyof typeof KINDS;
export const OPERATIONS = Object.fromEntries(
  Object.entries(KINDS).map(([kind, op]) => {
    const spec = MACHINE[op];
    return [kind, { requested: spec.requested as readonly string[], done: spec.done.event as string, failed: spec.failed.event as string }];
  }),
) as Record<OperationKind, { requested: readonly string[]; done: string; failed: string }>;

/** Parses an SSE byte stream into messages (`id`, `event`, `data`); comments (heartbeats) are skipped. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<{ id?: string; event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  let message: { id?: string; event: string; data: string[] } = { event: 'message', data: [] };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (message.data.length > 0) yield { id: message.id, event: message.event, data: message.data.join('\n') };
        message = { event: 'message', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') message.data.push(value);
      else if (field === 'event') message.event = value;
      else if (field === 'id') message.id = value;
    }
  }
}

/**
 * Yields the tenant's events, history first, then live; reconnects (resuming
 * after the last event seen) when the stream ends or breaks, giving up after
 * five failed connections in a row. API refusals (401/403/404) end it at once.
 */
export async function* streamEvents(
  client: ApiClient,
  tenantId: string,
  options: { signal?: AbortSignal; afterId?: string } = {},
): AsyncGenerator<TenantEvent> {
  let lastId = options.afterId;
  let failures = 0;
  while (!options.signal?.aborted) {
    try {
      const res = await client.open(`/api/v1/tenants/${tenantId}/events`, lastId ? { 'Last-Event-ID': lastId } : {}, options.signal);
      failures = 0;
      for await (const message of readSse(res.body!)) {
        const event = JSON.parse(message.data) as TenantEvent;
        lastId = message.id ?? event.id;
        yield event;
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      if (err instanceof CliError && err.status !== undefined && err.status < 500) throw err;
      if (++failures >= 5)
        throw err instanceof CliError ? err : new CliError(`The event stream of ${tenantId} keeps failing: ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 500 * failures));
  }
}

export interface OperationOutcome {
  ok: boolean;
  final: TenantEvent;
  events: TenantEvent[];
}

/**
 * Waits until the operation's final event. The stream replays history, so
 * an end event counts only after the latest `<op>_requested` event: an old
 * `tenant_suspended` from an earlier suspend never ends a new one.
 */
export async function waitForOperation(
  client: ApiClient,
  tenantId: string,
  kind: OperationKind,
  options: { timeoutMs: number; onEvent?: (event: TenantEvent) => void },
): Promise<OperationOutcome> {
  const spec = OPERATIONS[kind];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  const history: TenantEvent[] = [];
  let current: TenantEvent[] | undefined;
  try {
    // The history first: only what follows its latest start counts, so the end of an earlier run of the
    // same operation (a finished export or backup before this one) never ends this one.
    const past: TenantEvent[] = [];
    const res = await client.open(`/api/v1/tenants/${tenantId}/events?follow=false`, {}, controller.signal);
    for await (const message of readSse(res.body!)) past.push(JSON.parse(message.data) as TenantEvent);
    const start = past.findLastIndex((e) => spec.requested.includes(e.type));
    history.push(...past);
    if (start >= 0) {
      current = [];
      for (const event of past.slice(start)) {
        current.push(event);
        options.onEvent?.(event);
        if (event.type === spec.done || event.type === spec.failed) return { ok: event.type === spec.done, final: event, events: current };
      }
    }
    for await (const event of streamEvents(client, tenantId, { signal: controller.signal, afterId: past.at(-1)?.id })) {
      history.push(event);
      if (spec.requested.includes(event.type)) current = [];
      if (!current) continue;
      current.push(event);
      options.onEvent?.(event);
      if (event.type === spec.done || event.type === spec.failed) return { ok: event.type === spec.done, final: event, events: current };
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  const seen = (current ?? history).map((e) => e.type).join(', ') || 'none';
  throw new CliError(
    `No ${spec.done} or ${spec.failed} event for ${tenantId} within ${Math.round(options.timeoutMs / 1000)} s (events seen: ${seen}); it may still finish: \`tenantplane status ${tenantId}\`.`,
    'timeout',
  );
}
