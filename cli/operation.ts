/**
 * What `create`, `deploy`, `suspend`, `resume`, `rotate` and `delete` share:
 * after the API accepts the request, follow the tenant's events (one line per
 * event, a spinner at a terminal) until the operation's final event, unless
 * `--no-wait`. The exit code says whether the operation succeeded.
 */
import type { Tenant, TenantEvent } from '../shared/tenants/types.ts';
import type { CommandContext } from './command.ts';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './errors.ts';
import { OPERATIONS, waitForOperation, type OperationKind } from './events.ts';
import { clock, type Output } from './output.ts';

export interface Accepted {
  tenant: Tenant;
  links: Record<string, string>;
}

export function formatEvent(out: Output, event: TenantEvent): string {
  const failed = event.type.endsWith('_failed');
  const type = out.color(
    failed ? 'red' : event.type.endsWith('_ready') || event.type === 'deployed' ? 'green' : 'blue',
    event.type.padEnd(22),
  );
  return `${out.color('dim', clock(event.at))}  ${type} ${event.env ? `[${event.env}] ` : ''}${event.message}`;
}

export function timeoutMs(values: CommandContext['values']): number {
  if (values.timeout === undefined) return 600_000;
  const seconds = Number(values.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`--timeout is a number of seconds, e.g. 300; got "${values.timeout}".`);
  return seconds * 1000;
}

/** Follows an accepted operation to its end and reports it; returns the exit code. */
export async function followAccepted(
  ctx: CommandContext,
  kind: OperationKind,
  accepted: Accepted,
  describe: (tenant: Tenant) => string[] = () => [],
): Promise<number> {
  const { out } = ctx;
  const { tenant } = accepted;
  if (ctx.values['no-wait']) {
    if (out.jsonMode) out.json(accepted);
    out.line(`Accepted: ${kind} of ${tenant.name} (${tenant.id}) is running. Follow it with \`tenantplane events ${tenant.id}\`.`);
    return EXIT_OK;
  }
  const spinner = out.spin(`${kind} ${tenant.name}…`);
  let outcome: Awaited<ReturnType<typeof waitForOperation>>;
  try {
    outcome = await waitForOperation(ctx.client(), tenant.id, kind, {
      timeoutMs: timeoutMs(ctx.values),
      onEvent: (e) => out.line(formatEvent(out, e)),
    });
  } finally {
    spinner.stop();
  }
  // A deleted tenant still answers GET (a tombstone), so the final state is always readable.
  const final = (await ctx.client().request<{ tenant: Tenant }>('GET', `/api/v1/tenants/${tenant.id}`)).tenant;
  if (out.jsonMode) out.json({ ...accepted, tenant: final, ok: outcome.ok, events: outcome.events });
  if (!outcome.ok) {
    out.note(
      out.color('red', `✖ ${kind} of ${tenant.name} failed: ${outcome.final.message}`) + (final.error ? ` (${final.error.code})` : ''),
    );
    return EXIT_FAILURE;
  }
  out.line(out.color('green', `✔ ${OPERATIONS[kind].done.replace(/_/g, ' ')}: ${tenant.name} (${tenant.id}) is ${final.state}.`));
  for (const line of describe(final)) out.line(line);
  return EXIT_OK;
}

/** Tenant ids and names both work wherever a command takes `<tenant>`. */
export async function resolveArg(ctx: CommandContext, index = 0): Promise<Tenant> {
  const ref = ctx.args[index];
  if (!ref) throw new UsageError('Name the tenant by id or name.');
  return ctx.client().resolveTenant(ref);
}
