/** Reading and creating tenants: `tenants list`, `create`, `show`, `status`. */
import type { EnvironmentRecord, Tenant } from '../../shared/tenants/types.ts';
import { WAIT_OPTIONS, type Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { followAccepted, resolveArg, type Accepted } from '../operation.ts';
import { paintState, type Output } from '../output.ts';
import { rememberCredentialsLink } from '../pending-credentials.ts';

const ENVS = ['demo', 'test', 'live'];

export const list: Command = {
  name: 'list',
  usage: 'tenants list',
  summary: 'list your tenants (all of them for admins)',
  args: [0, 0],
  async run(ctx) {
    const tenants = await ctx.client().listTenants();
    if (ctx.out.jsonMode) return ctx.out.json({ tenants });
    if (tenants.length === 0) return ctx.out.line('No tenants yet. Create one with `tenantplane create <name>`.');
    ctx.out.table(
      tenants.map((t) => ({
        ...t,
        state: paintState(ctx.out, t.state),
        environments: t.environments.join(','),
        url: t.urls.live ?? Object.values(t.urls)[0],
      })),
      ['id', 'name', 'state', 'plan', 'environments', 'url'],
    );
  },
};

export const create: Command = {
  name: 'create',
  usage: 'create <name> [--env demo,test,live] [--plan <plan>] [--memory <MiB>] [--region <region>]',
  summary: 'create a tenant and follow its provisioning until it is ready',
  args: [1, 1],
  options: {
    env: { type: 'string', description: "environments, comma-separated, of demo, test, live (default: the plan's)" },
    plan: { type: 'string', description: "plan name (default: the platform's default plan)" },
    memory: { type: 'string', description: 'memory per environment in MiB: 256, 512, 1024 or 2048' },
    region: { type: 'string', description: 'region such as europe-west1' },
    ...WAIT_OPTIONS,
  },
  async run(ctx) {
    const body: Record<string, unknown> = { name: ctx.args[0] };
    if (ctx.values.env !== undefined) {
      const envs = String(ctx.values.env)
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      const bad = envs.filter((e) => !ENVS.includes(e));
      if (envs.length === 0 || bad.length)
        throw new UsageError(`--env takes a comma-separated list of ${ENVS.join(', ')}; got "${ctx.values.env}".`, 'create');
      body.environments = envs;
    }
    if (ctx.values.plan !== undefined) body.plan = ctx.values.plan;
    if (ctx.values.region !== undefined) body.region = ctx.values.region;
    if (ctx.values.memory !== undefined) {
      const memory = Number(ctx.values.memory);
      if (!Number.isInteger(memory))
        throw new UsageError(`--memory is a whole number of MiB (256, 512, 1024 or 2048); got "${ctx.values.memory}".`, 'create');
      body.memoryMb = memory;
    }
    const accepted = await ctx.client().request<Accepted>('POST', '/api/v1/tenants', body);
    if (accepted.links.credentials) rememberCredentialsLink(ctx.env, ctx.client().url, accepted.tenant.id, accepted.links.credentials);
    ctx.out.line(`Creating ${accepted.tenant.name} (${accepted.tenant.id}) with ${accepted.tenant.environments.join(', ')}…`);
    return followAccepted(ctx, 'create', accepted, (tenant) => [
      ...Object.entries(tenant.urls).map(([env, url]) => `  ${env.padEnd(5)} ${url}`),
      `  Show the generated credentials once: tenantplane credentials ${tenant.name}`,
    ]);
  },
};

export const show: Command = {
  name: 'show',
  usage: 'show <tenant>',
  summary: 'show one tenant (by id or name)',
  args: [1, 1],
  async run(ctx) {
    const tenant = await resolveArg(ctx);
    if (ctx.out.jsonMode) return ctx.out.json({ tenant });
    printTenant(ctx.out, tenant);
  },
};

export const status: Command = {
  name: 'status',
  usage: 'status <tenant>',
  summary: 'show a tenant and the state of each environment',
  args: [1, 1],
  async run(ctx) {
    const { id } = await resolveArg(ctx);
    const result = await ctx.client().request<{ tenant: Tenant; environments: EnvironmentRecord[] }>('GET', `/api/v1/tenants/${id}/status`);
    if (ctx.out.jsonMode) return ctx.out.json(result);
    printTenant(ctx.out, result.tenant);
    ctx.out.line();
    ctx.out.table(
      result.environments.map((e) => ({
        env: e.env,
        status: paintState(ctx.out, e.status),
        url: e.url,
        image: e.image,
        error: e.error?.message,
        updated: e.updatedAt,
      })),
      ['env', 'status', 'url', 'image', 'error', 'updated'],
    );
  },
};

function printTenant(out: Output, t: Tenant & { operation?: string }): void {
  const rows: [string, string | undefined][] = [
    ['id', t.id],
    ['name', t.name],
    ['state', paintState(out, t.state) + (t.operation ? ` (${t.operation} running)` : '')],
    ['plan', t.plan],
    ['region', t.region],
    ['memory', `${t.memoryMb} MiB`],
    ['driver', t.driver],
    ['image', t.image],
    ['environments', t.environments.join(', ')],
    ...Object.entries(t.urls).map(([env, url]): [string, string] => [`url (${env})`, url as string]),
    ['error', t.error ? out.color('red', `${t.error.message} (${t.error.code})`) : undefined],
    ['created', t.createdAt],
    ['updated', t.updatedAt],
  ];
  for (const [key, value] of rows) if (value !== undefined) out.line(`${out.color('dim', key.padEnd(14))}${value}`);
}
