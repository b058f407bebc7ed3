/**
 * Rollouts (admins): `rollouts start <release>` (then follows it), `list`,
 * `status <id>` with a progress bar per wave, `watch <id>`, and the actions
 * `pause`, `resume`, `cancel`, `rollback` (the last two ask first).
 */
import type { RolloutView } from '../../shared/releases/rollouts.ts';
import type { RolloutEvent } from '../../shared/releases/store.ts';
import type { Command, CommandContext } from '../command.ts';
import { CliError, EXIT_FAILURE, EXIT_OK, UsageError } from '../errors.ts';
import { readSse } from '../events.ts';
import { timeoutMs } from '../operation.ts';
import { clock, type Output } from '../output.ts';
import { confirmYes } from './operations.ts';

type WaveView = RolloutView['waves'][number];

const END_EVENTS = ['rollout_succeeded', 'rollout_failed', 'rollout_paused', 'rollout_cancelled', 'rollout_rolled_back'];
const YES = { yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation' } } as const;

/** `all`, `plan:<plan>`, `label:<key=value>` or tenant ids separated by commas. */
export function parseTarget(value: string | boolean | undefined): unknown {
  if (value === undefined || value === 'all') return 'all';
  const text = String(value);
  if (text.startsWith('plan:')) return { plan: text.slice(5) };
  if (text.startsWith('label:')) return { label: text.slice(6) };
  const ids = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length === 0 || ids.some((id) => !/^t-[a-z2-7]{10}$/.test(id)))
    throw new UsageError(
      `--target is all, plan:<plan>, label:<key=value> or tenant ids (t-…) separated by commas; got "${text}".`,
      'rollouts start',
    );
  return { ids };
}

function bar(w: WaveView, width = 20): string {
  const done = w.environments ? Math.round(((w.healthy + w.failed + w.skipped + w.rolledBack) / w.environments) * width) : width;
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}]`;
}

export function formatRollout(out: Output, r: RolloutView): string[] {
  const lines = [`Rollout ${r.id} of release ${r.release}: ${r.state}${r.reason ? ` — ${r.reason}` : ''}`];
  for (const w of r.waves) {
    const counts = `${w.healthy}/${w.environments} healthy${w.failed ? `, ${out.color('red', `${w.failed} failed`)}` : ''}${w.rolledBack ? `, ${w.rolledBack} rolled back` : ''}${w.updating ? `, ${w.updating} updating` : ''}`;
    lines.push(`  wave ${w.index + 1}  ${bar(w)}  ${String(w.tenantIds.length).padStart(3)} tenant(s)  ${w.phase.padEnd(8)}  ${counts}`);
  }
  if (r.skipped.length) lines.push(`  skipped: ${r.skipped.map((s) => `${s.tenantId} (${s.reason})`).join(', ')}`);
  return lines;
}

function formatEvent(out: Output, e: RolloutEvent): string {
  const where = e.tenantId ? `[${e.tenantId}${e.env ? ` ${e.env}` : ''}] ` : e.wave !== undefined ? `[wave ${e.wave + 1}] ` : '';
  const color = /failed|paused|unhealthy/.test(e.type) ? 'red' : /succeeded|updated|done|rolled_back/.test(e.type) ? 'green' : 'blue';
  return `${out.color('dim', clock(e.at))}  ${out.color(color, e.type.padEnd(24))} ${where}${e.message}`;
}

/** Prints the rollout's events until it ends (or pauses); reconnects with Last-Event-ID. Exit 0 only when it succeeded or rolled back as asked. */
async function follow(ctx: CommandContext, id: string): Promise<number> {
  const deadline = Date.now() + timeoutMs(ctx.values);
  let lastId: string | undefined;
  let failures = 0;
  while (Date.now() < deadline) {
    const signal = AbortSignal.timeout(Math.max(1000, deadline - Date.now()));
    try {
      const res = await ctx.client().open(`/api/v1/rollouts/${id}/events`, lastId ? { 'Last-Event-ID': lastId } : {}, signal);
      failures = 0;
      for await (const message of readSse(res.body!)) {
        const event = JSON.parse(message.data) as RolloutEvent;
        lastId = event.id;
        if (!ctx.out.jsonMode) ctx.out.line(formatEvent(ctx.out, event));
        if (END_EVENTS.includes(event.type)) {
          // The history replays earlier ends (a pause before a resume): only one that left the rollout at rest ends the watch.
          const { rollout } = await ctx.client().request<{ rollout: RolloutView }>('GET', `/api/v1/rollouts/${id}`);
          if (rollout.state === 'running' || rollout.state === 'rolling_back') continue;
          await res.body?.cancel().catch(() => undefined);
          if (ctx.out.jsonMode) ctx.out.json({ rollout });
          else for (const line of formatRollout(ctx.out, rollout)) ctx.out.line(line);
          return rollout.state === 'succeeded' || rollout.state === 'rolled_back' ? EXIT_OK : EXIT_FAILURE;
        }
      }
    } catch (err) {
      if (err instanceof CliError && err.status !== undefined && err.status < 500) throw err;
      if (Date.now() >= deadline) break;
      if (++failures >= 5) throw new CliError(`The event stream of rollout ${id} keeps failing: ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 500 * failures));
  }
  throw new CliError(`Rollout ${id} did not end within the timeout; it goes on: \`tenantplane rollouts status ${id}\`.`, 'timeout');
}

const numberOption = (ctx: CommandContext, name: string): number | undefined => {
  const raw = ctx.values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} is a whole number; got "${raw}".`, 'rollouts start');
  return n;
};

export const rolloutsStart: Command = {
  name: 'rollouts start',
  usage:
    'rollouts start <release> [--target all|plan:<p>|label:<k=v>|<ids>] [--waves 1,10%,50%,100%] [--max-parallel N] [--soak S] [--error-budget N] [--yes] [--no-wait]',
  summary: 'roll a release out to tenants in waves and follow it until it ends or pauses',
  args: [1, 1],
  options: {
    target: { type: 'string', description: 'all (default), plan:<plan>, label:<key=value>, or tenant ids separated by commas' },
    waves: { type: 'string', description: 'cumulative wave sizes, counts or percentages (default 1,10%,50%,100%)' },
    'max-parallel': { type: 'string', description: 'environments updating at once (default 5)' },
    soak: { type: 'string', description: 'seconds each wave is watched before the next (default 60)' },
    'error-budget': { type: 'string', description: 'failed tenants a wave tolerates before the rollout pauses (default 0)' },
    ...YES,
    'no-wait': { type: 'boolean', description: 'return once the rollout started' },
    timeout: { type: 'string', description: 'seconds to follow it (default 600)' },
  },
  async run(ctx) {
    const strategy: Record<string, unknown> = {};
    if (typeof ctx.values.waves === 'string')
      strategy.waves = ctx.values.waves.split(',').map((w) => (/^\d+$/.test(w.trim()) ? Number(w) : w.trim()));
    for (const [flag, field] of [
      ['max-parallel', 'maxParallel'],
      ['soak', 'soakSeconds'],
      ['error-budget', 'errorBudget'],
    ] as const) {
      const n = numberOption(ctx, flag);
      if (n !== undefined) strategy[field] = n;
    }
    const body = { release: ctx.args[0], target: parseTarget(ctx.values.target), strategy };
    await confirmYes(ctx, `Rolling ${ctx.args[0]} out restarts every targeted environment on it, live included.`, 'Start the rollout');
    const { rollout } = await ctx.client().request<{ rollout: RolloutView }>('POST', '/api/v1/rollouts', body);
    if (!ctx.out.jsonMode) for (const line of formatRollout(ctx.out, rollout)) ctx.out.line(line);
    if (ctx.values['no-wait']) {
      if (ctx.out.jsonMode) ctx.out.json({ rollout });
      return EXIT_OK;
    }
    return follow(ctx, rollout.id);
  },
};

export const rolloutsList: Command = {
  name: 'rollouts list',
  usage: 'rollouts list',
  summary: 'list rollouts, newest first',
  args: [0, 0],
  async run(ctx) {
    const { rollouts } = await ctx.client().request<{ rollouts: RolloutView[] }>('GET', '/api/v1/rollouts');
    if (ctx.out.jsonMode) return ctx.out.json({ rollouts });
    if (rollouts.length === 0) return ctx.out.line('No rollouts yet.');
    ctx.out.table(
      rollouts.map((r) => ({ ...r, waves: r.waves.length })),
      ['id', 'release', 'state', 'waves', 'createdAt'],
    );
  },
};

export const rolloutsStatus: Command = {
  name: 'rollouts status',
  usage: 'rollouts status <rollout>',
  summary: "a rollout's state with a progress bar per wave",
  args: [1, 1],
  async run(ctx) {
    const { rollout } = await ctx.client().request<{ rollout: RolloutView }>('GET', `/api/v1/rollouts/${ctx.args[0]}`);
    if (ctx.out.jsonMode) return ctx.out.json({ rollout });
    for (const line of formatRollout(ctx.out, rollout)) ctx.out.line(line);
  },
};

export const rolloutsWatch: Command = {
  name: 'rollouts watch',
  usage: 'rollouts watch <rollout> [--timeout S]',
  summary: "follow a rollout's events until it ends or pauses",
  args: [1, 1],
  options: { timeout: { type: 'string', description: 'seconds to follow it (default 600)' } },
  run: (ctx) => follow(ctx, ctx.args[0]),
};

const action = (name: 'pause' | 'resume' | 'cancel' | 'rollback', summary: string, warning?: string): Command => ({
  name: `rollouts ${name}`,
  usage: `rollouts ${name} <rollout>${warning ? ' [--yes]' : ''}${name === 'resume' || name === 'rollback' ? ' [--no-wait]' : ''}`,
  summary,
  args: [1, 1],
  options: {
    ...(warning ? YES : {}),
    'no-wait': { type: 'boolean', description: 'do not follow it' },
    timeout: { type: 'string', description: 'seconds to follow it (default 600)' },
  },
  async run(ctx) {
    if (warning) await confirmYes(ctx, warning, name[0].toUpperCase() + name.slice(1));
    const { rollout } = await ctx.client().request<{ rollout: RolloutView }>('POST', `/api/v1/rollouts/${ctx.args[0]}/${name}`);
    if ((name === 'resume' || name === 'rollback') && !ctx.values['no-wait']) return follow(ctx, rollout.id);
    if (ctx.out.jsonMode) return ctx.out.json({ rollout });
    for (const line of formatRollout(ctx.out, rollout)) ctx.out.line(line);
  },
});

export const rolloutsPause = action('pause', 'pause a rollout after the environments updating now');
export const rolloutsResume = action('resume', 'resume a paused rollout (accepting the failures that paused it) and follow it');
export const rolloutsCancel = action(
  'cancel',
  'stop a rollout for good; environments keep what they run',
  'Cancelling leaves updated environments on the new release.',
);
export const rolloutsRollback = action(
  'rollback',
  'put every environment the rollout updated back on its previous image, and follow it',
  'Rolling back restarts every updated environment on its previous image, live included.',
);
