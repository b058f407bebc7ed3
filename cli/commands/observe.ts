/** Watching a tenant: `logs` (recent lines of an environment) and `events` (its event stream, followed). */
import type { LogLine } from '../../shared/runtime/types.ts';
import type { TenantEvent } from '../../shared/tenants/types.ts';
import type { Command, CommandContext } from '../command.ts';
import { UsageError } from '../errors.ts';
import { readSse, streamEvents } from '../events.ts';
import { formatEvent, resolveArg } from '../operation.ts';

export const logs: Command = {
  name: 'logs',
  usage: 'logs <tenant> [--env live] [--limit 100] [--since <ISO time>] [--follow]',
  summary: 'show recent log lines of an environment, oldest to newest (like tail); --follow keeps printing new ones',
  args: [1, 1],
  options: {
    follow: { type: 'boolean', short: 'f', description: 'keep printing new lines as they come, until Ctrl-C' },
    env: { type: 'string', description: 'demo, test or live (default: live, else the first environment)' },
    limit: { type: 'string', description: 'most recent lines to show, 1–1000 (default 100)' },
    since: { type: 'string', description: 'only lines at or after this ISO-8601 time, e.g. 2024-05-01T10:00:00Z' },
  },
  async run(ctx) {
    const { id } = await resolveArg(ctx);
    const q = new URLSearchParams();
    if (ctx.values.env !== undefined) q.set('env', String(ctx.values.env));
    if (ctx.values.limit !== undefined) {
      if (!/^\d+$/.test(String(ctx.values.limit)))
        throw new UsageError(`--limit is a number of lines, e.g. 50; got "${ctx.values.limit}".`, 'logs');
      q.set('limit', String(ctx.values.limit));
    }
    if (ctx.values.since !== undefined) {
      const since = new Date(String(ctx.values.since));
      if (Number.isNaN(since.getTime()))
        throw new UsageError(`--since is an ISO-8601 time such as 2024-05-01T10:00:00Z; got "${ctx.values.since}".`, 'logs');
      q.set('since', since.toISOString());
    }
    const path = `/api/v1/tenants/${id}/logs`;
    const { lines } = await ctx.client().request<{ lines: LogLine[] }>('GET', `${path}${q.size ? `?${q}` : ''}`);
    const print = (l: LogLine) => {
      if (ctx.out.jsonMode) return ctx.out.jsonLine(l);
      ctx.out.line(
        `${ctx.out.color('dim', l.time)} ${l.stream === 'stderr' ? ctx.out.color('red', l.text) : l.stream === 'system' ? ctx.out.color('yellow', l.text) : l.text}`,
      );
    };
    if (!ctx.values.follow) {
      if (ctx.out.jsonMode) return ctx.out.json({ lines });
      if (lines.length === 0) ctx.out.note('No log lines.');
      return void lines.forEach(print);
    }
    lines.forEach(print);
    ctx.out.note(ctx.out.color('dim', 'Following new lines; Ctrl-C stops.'));
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    try {
      await followLogs(ctx.client(), path, q, lines, print, controller.signal, Number(ctx.env.TENANTPLANE_FOLLOW_INTERVAL_MS) || 2000);
    } finally {
      process.off('SIGINT', stop);
    }
  },
};

/**
 * Polls for lines at or after the newest one seen and prints only those not
 * printed yet (same time, stream and text), so nothing repeats or goes missing.
 */
async function followLogs(
  client: ReturnType<CommandContext['client']>,
  path: string,
  base: URLSearchParams,
  seen: LogLine[],
  print: (l: LogLine) => void,
  signal: AbortSignal,
  intervalMs: number,
): Promise<void> {
  const keyOf = (l: LogLine) => `${l.time}\u0000${l.stream}\u0000${l.text}`;
  let newest = seen.at(-1)?.time;
  let atNewest = new Set(seen.filter((l) => l.time === newest).map(keyOf));
  while (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (signal.aborted) return;
    const q = new URLSearchParams(base);
    if (newest) q.set('since', newest);
    const { lines } = await client.request<{ lines: LogLine[] }>('GET', `${path}?${q}`);
    for (const l of lines) {
      if (newest && (l.time < newest || (l.time === newest && atNewest.has(keyOf(l))))) continue;
      print(l);
      if (l.time !== newest) atNewest = new Set();
      newest = l.time;
      atNewest.add(keyOf(l));
    }
  }
}

export const events: Command = {
  name: 'events',
  usage: 'events <tenant> [--no-follow]',
  summary: "print the tenant's events, then follow new ones until Ctrl-C",
  args: [1, 1],
  options: { 'no-follow': { type: 'boolean', description: 'print the history and stop' } },
  async run(ctx) {
    const { id } = await resolveArg(ctx);
    if (ctx.values['no-follow']) {
      const res = await ctx.client().open(`/api/v1/tenants/${id}/events?follow=false`);
      const all: TenantEvent[] = [];
      for await (const m of readSse(res.body!)) all.push(JSON.parse(m.data));
      if (ctx.out.jsonMode) return ctx.out.json({ events: all });
      for (const e of all) ctx.out.line(formatEvent(ctx.out, e));
      return;
    }
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    try {
      for await (const event of streamEvents(ctx.client(), id, { signal: controller.signal })) {
        // JSON mode streams one object per line (JSON Lines), so it can be piped while it runs.
        if (ctx.out.jsonMode) ctx.out.jsonLine(event);
        else ctx.out.line(formatEvent(ctx.out, event));
      }
    } finally {
      process.off('SIGINT', stop);
    }
  },
};
