/** Lifecycle operations that run on the provision worker: suspend, resume, deploy, rotate, delete. */
import { WAIT_OPTIONS, type Command, type CommandContext } from '../command.ts';
import { CliError } from '../errors.ts';
import { askLine } from '../input.ts';
import { followAccepted, resolveArg, type Accepted } from '../operation.ts';
import type { OperationKind } from '../events.ts';
import { rememberCredentialsLink } from '../pending-credentials.ts';

const YES = { yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation' } } as const;

function simple(kind: OperationKind & ('suspend' | 'resume'), summary: string): Command {
  return {
    name: kind,
    usage: `${kind} <tenant>${kind === 'suspend' ? ' [--yes]' : ''} [--no-wait]`,
    summary,
    args: [1, 1],
    options: kind === 'suspend' ? { ...YES, ...WAIT_OPTIONS } : WAIT_OPTIONS,
    async run(ctx) {
      const tenant = await resolveArg(ctx);
      if (kind === 'suspend' && tenant.environments.includes('live')) {
        await confirmYes(
          ctx,
          `Suspending ${tenant.name} stops every environment, live included: live stops answering until you resume. Data is kept.`,
          'Suspend',
        );
      }
      return followAccepted(ctx, kind, await ctx.client().request<Accepted>('POST', `/api/v1/tenants/${tenant.id}/${kind}`));
    },
  };
}

export const suspend = simple('suspend', 'scale every environment to zero, keeping its data');
export const resume = simple('resume', 'bring a suspended tenant back at the same URLs');

export const deploy: Command = {
  name: 'deploy',
  usage: 'deploy <tenant> <image> [--yes] [--no-wait]',
  summary: "deploy an image of the tenant's own repository (see `show`), or the platform's default image",
  args: [2, 2],
  options: { ...YES, ...WAIT_OPTIONS },
  async run(ctx) {
    const tenant = await resolveArg(ctx);
    if (tenant.environments.includes('live')) {
      await confirmYes(ctx, `Deploying ${ctx.args[1]} restarts every environment of ${tenant.name} on it, live included.`, 'Deploy');
    }
    const accepted = await ctx.client().request<Accepted>('POST', `/api/v1/tenants/${tenant.id}/deploy`, { image: ctx.args[1] });
    return followAccepted(ctx, 'deploy', accepted, (t) => [`  image ${t.image}`]);
  },
};

export const rotate: Command = {
  name: 'rotate',
  usage: 'rotate <tenant> [--yes] [--no-wait]',
  summary: 'generate new credentials and restart the environments; `credentials <tenant>` then shows them once',
  args: [1, 1],
  options: { ...YES, ...WAIT_OPTIONS },
  async run(ctx) {
    const tenant = await resolveArg(ctx);
    await confirmYes(
      ctx,
      `Rotating replaces the credentials of ${tenant.name}: the old values stop working and every environment${tenant.environments.includes('live') ? ', live included,' : ''} restarts.`,
      'Rotate',
    );
    const accepted = await ctx.client().request<Accepted>('POST', `/api/v1/tenants/${tenant.id}/rotate-credentials`);
    if (accepted.links.credentials) rememberCredentialsLink(ctx.env, ctx.client().url, tenant.id, accepted.links.credentials);
    return followAccepted(ctx, 'rotate', accepted, () => [`  Show the new credentials once: tenantplane credentials ${tenant.name}`]);
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

/** Changes that touch live are confirmed with y (or --yes, for scripts). */
export async function confirmYes(ctx: CommandContext, warning: string, verb: string): Promise<void> {
  if (ctx.values.yes) return;
  ctx.out.note(ctx.out.color('yellow', warning));
  const answer = await askLine(ctx.stdin, ctx.stderr, `${verb}? [y/N] `);
  if (answer === undefined)
    throw new CliError(`Nothing done: no confirmation was given (stdin ended). Answer y, or pass --yes.`, 'not_confirmed');
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('Nothing done.', 'not_confirmed');
}

/** Destruction is confirmed by typing the tenant's name, like the operator scripts do. */
async function confirmName(ctx: CommandContext, name: string, id: string): Promise<void> {
  ctx.out.note(
    ctx.out.color(
      'red',
      `This deletes ${name} (${id}) and stops every environment. Its data is kept for the platform's grace period (\`tenantplane restore ${name}\` brings it back), then deleted for good.`,
    ),
  );
  const answer = await askLine(ctx.stdin, ctx.stderr, `Type the tenant's name (${name}) to confirm: `);
  if (answer === undefined)
    throw new CliError(`Not deleted: no confirmation was given (stdin ended). Type the name, or pass --yes.`, 'not_confirmed');
  if (answer.trim() !== name) throw new CliError(`Not deleted: "${answer.trim()}" is not "${name}".`, 'not_confirmed');
}
