/** Lifecycle operations that run on the provision worker: suspend, resume, deploy, rotate, delete. */
import { WAIT_OPTIONS, type Command, type CommandContext } from '../command.ts';
import { CliError } from '../errors.ts';
import { askLine } from '../input.ts';
import { followAccepted, resolveArg, type Accepted } from '../operation.ts';
import type { OperationKind } from '../events.ts';

function simple(kind: OperationKind & ('suspend' | 'resume'), summary: string): Command {
  return {
    name: kind,
    usage: `${kind} <tenant> [--no-wait]`,
    summary,
    args: [1, 1],
    options: WAIT_OPTIONS,
    async run(ctx) {
      const { id } = await resolveArg(ctx);
      return followAccepted(ctx, kind, await ctx.client().request<Accepted>('POST', `/api/v1/tenants/${id}/${kind}`));
    },
  };
}

export const suspend = simple('suspend', 'scale every environment to zero, keeping its data');
export const resume = simple('resume', 'bring a suspended tenant back at the same URLs');

export const deploy: Command = {
  name: 'deploy',
  usage: 'deploy <tenant> <image> [--no-wait]',
  summary: 'deploy an image (exactly <registry>/<repository>:tenant-<id>, or the default image)',
  args: [2, 2],
  options: WAIT_OPTIONS,
  async run(ctx) {
    const { id } = await resolveArg(ctx);
    const accepted = await ctx.client().request<Accepted>('POST', `/api/v1/tenants/${id}/deploy`, { image: ctx.args[1] });
    return followAccepted(ctx, 'deploy', accepted, (t) => [`  image ${t.image}`]);
  },
};

export const rotate: Command = {
  name: 'rotate',
  usage: 'rotate <tenant> [--no-wait]',
  summary: 'generate new credentials, restart the environments, and issue a new one-time link',
  args: [1, 1],
  options: WAIT_OPTIONS,
  async run(ctx) {
    const { id } = await resolveArg(ctx);
    const accepted = await ctx.client().request<Accepted>('POST', `/api/v1/tenants/${id}/rotate-credentials`);
    return followAccepted(ctx, 'rotate', accepted, () => [`  One-time credentials: ${ctx.client().url}${accepted.links.credentials}`]);
  },
};

export const remove: Command = {
  name: 'delete',
  usage: 'delete <tenant> [--yes] [--no-wait]',
  summary: 'delete a tenant and everything it owns (asks you to type its name unless --yes)',
  args: [1, 1],
  options: { yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation' }, ...WAIT_OPTIONS },
  async run(ctx) {
    const tenant = await resolveArg(ctx);
    if (!ctx.values.yes) await confirmName(ctx, tenant.name, tenant.id);
    const accepted = await ctx.client().request<Accepted>('DELETE', `/api/v1/tenants/${tenant.id}`);
    return followAccepted(ctx, 'delete', accepted);
  },
};

/** Destruction is confirmed by typing the tenant's name, like the operator scripts do. */
async function confirmName(ctx: CommandContext, name: string, id: string): Promise<void> {
  ctx.out.note(ctx.out.color('red', `This deletes ${name} (${id}) with every environment and all their data. It cannot be undone.`));
  const answer = await askLine(ctx.stdin, ctx.stderr, `Type the tenant's name (${name}) to confirm: `);
  if (answer === undefined) throw new CliError(`Not deleted: no confirmation was given (stdin ended). Type the name, or pass --yes.`, 'not_confirmed');
  if (answer.trim() !== name) throw new CliError(`Not deleted: "${answer.trim()}" is not "${name}".`, 'not_confirmed');
}
