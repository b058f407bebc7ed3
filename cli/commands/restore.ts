/** `restore <tenant>`: brings a deleted tenant back with its data within its grace period (issue 21). */
import { WAIT_OPTIONS, type Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { followAccepted, type Accepted } from '../operation.ts';
import { isTenantId, type Tenant } from '../../shared/tenants/types.ts';

export const restoreTenant: Command = {
  name: 'restore',
  usage: 'restore <tenant> [--no-wait]',
  summary: 'bring a deleted tenant back, running, with its databases and buckets, within its grace period',
  args: [1, 1],
  options: WAIT_OPTIONS,
  async run(ctx) {
    const ref = ctx.args[0];
    let id = ref;
    if (!isTenantId(ref)) {
      // Deleted tenants are listed only on request; their names stay reserved until their data is dropped.
      const name = ref.trim().toLowerCase();
      const { tenants } = await ctx.client().request<{ tenants: Tenant[] }>('GET', '/api/v1/tenants?deleted=true&pageSize=200');
      const found = tenants.filter((t) => t.name === name);
      if (found.length === 0)
        throw new CliError(`No deleted tenant named "${ref}" can be restored (its grace period may be over).`, 'not_found', 404);
      if (found.length > 1)
        throw new CliError(
          `Several deleted tenants are named "${name}" (${found.map((t) => t.id).join(', ')}); use the id.`,
          'conflict',
          409,
        );
      id = found[0].id;
    }
    const accepted = await ctx.client().request<Accepted>('POST', `/api/v1/tenants/${id}/restore`);
    return followAccepted(ctx, 'undelete', accepted, (t) => Object.entries(t.urls).map(([env, url]) => `  ${env.padEnd(4)}  ${url}`));
  },
};
