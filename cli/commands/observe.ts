/** Watching a tenant: `logs` (recent lines of an environment) and `events` (its event stream, followed). */
import type { LogLine } from '../../shared/runtime/types.ts';
import type { TenantEvent } from '../../shared/tenants/types.ts';
import type { Command, CommandContext } from '../command.ts';
import { CliError, UsageError } from '../errors.ts';
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
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    try {
      await followLogs(ctx, `${path}/stream`, q.get('env'), cursorAfter(lines, q.get('since')), print, controller.signal);
    } finally {
      process.off('SIGINT', stop);
    }
  },
};

/** The stream's resume point right after `lines` (`<time>~<lines of that time>`), or from `since` (else the beginning) when none came. */
function cursorAfter(lines: LogLine[], since: string | null): string {
  const newest = lines.at(-1)?.time;
  if (!newest) return `${since ?? new Date(0).toISOString()}~0`;
  return `${newest}~${lines.filter((l) => l.time === newest).length}`;
}

/**
 * Follows the environment's log stream (SSE on the api function's own URL,
 * `GET …/logs/stream`), resuming with Last-Event-ID after the last line
 * printed whenever the stream ends (its deadline) or breaks, so nothing
 * repeats or goes missing. API refusals end it; five failures in a row too.
 */
async function followLogs(
  ctx: CommandContext,
  path: string,
  env: string | null,
  cursor: string,
  print: (l: LogLine) => void,
  signal: AbortSignal,
): Promise<void> {
  const query = env ? `?env=${encodeURIComponent(env)}` : '';
  let lastId = cursor;
  let failures = 0;
  let announced = false;
  while (!signal.aborted) {
    try {
      const res = await ctx.client().open(`${path}${query}`, { 'Last-Event-ID': lastId }, signal);
      failures = 0;
      if (!announced) ctx.out.note(ctx.out.color('dim', 'Following new lines; Ctrl-C stops.'));
      announced = true;
      for await (const message of readSse(res.body!)) {
        if (message.event === 'error') throw new CliError(JSON.parse(message.data).message ?? 'The log stream failed.');
        if (message.event !== 'log') continue;
        print(JSON.parse(message.data) as LogLine);
        if (message.id) lastId = message.id;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof CliError && err.status !== undefined && err.status < 500) throw err;
      if (++failures >= 5) throw err instanceof CliError ? err : new CliError(`The log stream keeps failing: ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 500 * failures));
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
