/**
 * `backups list <tenant>`, `backups create <tenant> [--env live]` and
 * `backups restore <tenant> <backup> [--env test] [--yes]` (R-DATA-2). A
 * restore replaces data, so it asks first (naming the environment) unless --yes.
 */
import { WAIT_OPTIONS, type Command, type CommandContext } from '../command.ts';
import { CliError, UsageError } from '../errors.ts';
import { askLine } from '../input.ts';
import { followAccepted, resolveArg, type Accepted } from '../operation.ts';

interface Backup {
  id: string;
  env: string;
  kind: string;
  status: string;
  createdAt: string;
  expiresAt: string;
  sizeBytes?: number;
}

export const backups: Command = {
  name: 'backups',
  usage: 'backups list <tenant> | backups create <tenant> [--env E] | backups restore <tenant> <backup> [--env E] [--yes]',
  summary: "list a tenant's database backups, make one now, or restore one (into its environment, or live into test)",
  args: [2, 3],
  options: {
    env: {
      type: 'string',
      description: 'create: the environment to back up (default: every one); restore: where to (default: the backup’s)',
    },
    yes: { type: 'boolean', short: 'y', description: 'restore without asking' },
    ...WAIT_OPTIONS,
  },
  async run(ctx) {
    const [verb, ...rest] = ctx.args;
    const sub = { ...ctx, args: rest };
    if (verb === 'list' && rest.length === 1) return list(sub);
    if (verb === 'create' && rest.length === 1) return create(sub);
    if (verb === 'restore' && rest.length === 2) return restore(sub);
    throw new UsageError(`Use \`backups list <tenant>\`, \`backups create <tenant>\` or \`backups restore <tenant> <backup>\`.`, 'backups');
  },
};

async function list(ctx: CommandContext) {
  const { id, name } = await resolveArg(ctx);
  const { backups: items } = await ctx.client().request<{ backups: Backup[] }>('GET', `/api/v1/tenants/${id}/backups`);
  if (ctx.out.jsonMode) return ctx.out.json({ backups: items });
  if (items.length === 0) return ctx.out.line(`${name} has no backups yet.`);
  ctx.out.table(items, ['id', 'env', 'kind', 'status', 'createdAt', 'expiresAt', 'sizeBytes']);
}

async function create(ctx: CommandContext) {
  const tenant = await resolveArg(ctx);
  const body = ctx.values.env === undefined ? {} : { env: String(ctx.values.env) };
  const accepted = await ctx.client().request<Accepted & { backups: string[] }>('POST', `/api/v1/tenants/${tenant.id}/backups`, body);
  return followAccepted(ctx, 'backup', accepted, () => accepted.backups.map((b) => `  backup ${b}`));
}

async function restore(ctx: CommandContext) {
  const tenant = await resolveArg(ctx);
  const backupId = ctx.args[1];
  const target = ctx.values.env === undefined ? backupId.split('-').at(-1) : String(ctx.values.env);
  if (!ctx.values.yes) {
    ctx.out.note(
      ctx.out.color('red', `Restoring ${backupId} replaces every change in ${tenant.name}'s ${target} database since that backup.`),
    );
    const answer = await askLine(ctx.stdin, ctx.stderr, 'Restore? [y/N] ');
    if (answer === undefined)
      throw new CliError('Nothing restored: no confirmation was given (stdin ended). Answer y, or pass --yes.', 'not_confirmed');
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('Nothing restored.', 'not_confirmed');
  }
  const body = { confirm: true, ...(ctx.values.env === undefined ? {} : { env: String(ctx.values.env) }) };
  const accepted = await ctx
    .client()
    .request<Accepted>('POST', `/api/v1/tenants/${tenant.id}/backups/${encodeURIComponent(backupId)}/restore`, body);
  return followAccepted(ctx, 'restore', accepted);
}
