/** Watching a tenant: `logs` (recent lines of an environment) and `events` (its event stream, followed). */
import type { LogLine } from '../../shared/runtime/types.ts';
import type { TenantEvent } from '../../shared/tenants/types.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { readSse, streamEvents } from '../events.ts';
import { formatEvent, resolveArg } from '../operation.ts';

export const logs: Command = {
  name: 'logs',
  usage: 'logs <tenant> [--env live] [--limit 100] [--since <ISO time>]',
  summary: 'show recent log lines of an environment',
  args: [1, 1],
  options: {
    env: { type: 'string', description: 'demo, test or live (default: live, else the first environment)' },
    limit: { type: 'string', description: 'most recent lines to show, 1–1000 (default 100)' },
    since: { type: 'string', description: 'only lines at or after this ISO-8601 time, e.g. 2024-05-01T10:00:00Z' },
  },
  async run(ctx) {
    const { id } = await resolveArg(ctx);
    const q = new URLSearchParams();
    if (ctx.values.env !== undefined) q.set('env', String(ctx.values.env));
    if (ctx.values.limit !== undefined) {
      if (!/^\d+$/.test(String(ctx.values.limit))) throw new UsageError(`--limit is a number of lines, e.g. 50; got "${ctx.values.limit}".`, 'logs');
      q.set('limit', String(ctx.values.limit));
    }
    if (ctx.values.since !== undefined) {
      const since = new Date(String(ctx.values.since));
      if (Number.isNaN(since.getTime())) throw new UsageError(`--since is an ISO-8601 time such as 2024-05-01T10:00:00Z; got "${ctx.values.since}".`, 'logs');
      q.set('since', since.toISOString());
    }
    const { lines } = await ctx.client().request<{ lines: LogLine[] }>('GET', `/api/v1/tenants/${id}/logs${q.size ? `?${q}` : ''}`);
    if (ctx.out.jsonMode) return ctx.out.json({ lines });
    if (lines.length === 0) ctx.out.note('No log lines.');
    for (const l of lines) ctx.out.line(`${ctx.out.color('dim', l.time)} ${l.stream === 'stderr' ? ctx.out.color('red', l.text) : l.stream === 'system' ? ctx.out.color('yellow', l.text) : l.text}`);
  },
};

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
