/**
 * `secrets <tenant>` lists keys (never values); `secrets set <tenant> KEY`
 * reads the value from stdin (hidden at a terminal) so it never appears in
 * argv, `ps` or shell history; `secrets rm <tenant> KEY`.
 */
import type { Command, CommandContext } from '../command.ts';
import { CliError, UsageError } from '../errors.ts';
import { readSecretValue } from '../input.ts';
import { resolveArg } from '../operation.ts';

interface SecretMeta {
  key: string;
  origin: string;
  version: number;
  updatedAt: string;
  restarting?: boolean;
}

const KEY = /^[A-Z][A-Z0-9_]{1,63}$/;

export const secrets: Command = {
  name: 'secrets',
  usage: 'secrets <tenant> | secrets set <tenant> KEY < value | secrets rm <tenant> KEY',
  summary: "list a tenant's secret keys, set one from stdin, or remove one",
  args: [1, 3],
  async run(ctx) {
    const [first, ...rest] = ctx.args;
    if (first === 'set' && rest.length === 2) return set({ ...ctx, args: rest });
    if ((first === 'rm' || first === 'remove') && rest.length === 2) return removeKey({ ...ctx, args: rest });
    if (first === 'list' && rest.length === 1) return listKeys({ ...ctx, args: rest });
    if (ctx.args.length !== 1) {
      throw new UsageError(
        first === 'set' || first === 'rm'
          ? `secrets ${first} takes a tenant and a KEY, e.g. \`secrets ${first} shop GEMINI_API_KEY\`.`
          : `Unknown secrets command "${first}"; use set or rm.`,
        'secrets',
      );
    }
    return listKeys(ctx);
  },
};

async function listKeys(ctx: CommandContext) {
  const { id, name } = await resolveArg(ctx);
  const { secrets: list } = await ctx.client().request<{ secrets: SecretMeta[] }>('GET', `/api/v1/tenants/${id}/secrets`);
  if (ctx.out.jsonMode) return ctx.out.json({ secrets: list });
  if (list.length === 0) return ctx.out.line(`${name} has no secrets yet.`);
  ctx.out.table(list, ['key', 'origin', 'version', 'updatedAt']);
}

function checkKey(key: string) {
  if (!KEY.test(key))
    throw new UsageError(
      `Secret keys are UPPER_SNAKE_CASE, 2–64 characters, starting with a letter (e.g. GEMINI_API_KEY); got "${key}".`,
      'secrets',
    );
}

async function set(ctx: CommandContext) {
  const key = ctx.args[1];
  checkKey(key);
  const { id, name } = await resolveArg(ctx);
  const value = await readSecretValue(ctx.stdin, ctx.stderr, `Value of ${key} (input hidden): `);
  if (!value)
    throw new UsageError(
      `No value for ${key}: pipe it on stdin, e.g. \`printf %s "$VALUE" | tenantplane secrets set ${name} ${key}\`.`,
      'secrets',
    );
  const path = `/api/v1/tenants/${id}/secrets/${key}`;
  let secret: SecretMeta;
  try {
    secret = (await ctx.client().request<{ secret: SecretMeta }>('POST', path, { value })).secret;
  } catch (err) {
    if (!(err instanceof CliError) || err.status !== 409) throw err;
    secret = (await ctx.client().request<{ secret: SecretMeta }>('PATCH', path, { value })).secret;
  }
  if (ctx.out.jsonMode) return ctx.out.json({ secret });
  ctx.out.line(`Set ${key} on ${name} (version ${secret.version}).${secret.restarting ? ' The environments restart to pick it up.' : ''}`);
}

async function removeKey(ctx: CommandContext) {
  const key = ctx.args[1];
  checkKey(key);
  const { id, name } = await resolveArg(ctx);
  const result = await ctx
    .client()
    .request<{ key: string; deleted: boolean; restarting?: boolean }>('DELETE', `/api/v1/tenants/${id}/secrets/${key}`);
  if (ctx.out.jsonMode) return ctx.out.json(result);
  ctx.out.line(`Removed ${key} from ${name}.${result.restarting ? ' The environments restart without it.' : ''}`);
}
