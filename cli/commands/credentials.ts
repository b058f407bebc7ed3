/**
 * `credentials <tenant>`: shows the generated credentials once, using the
 * one-time link that `create` or `rotate` kept (or one given with --link).
 * Once shown they cannot be read again; `rotate` issues new ones.
 */
import type { Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { resolveArg } from '../operation.ts';
import { forgetCredentialsLink, readCredentialsLink } from '../pending-credentials.ts';

export const credentials: Command = {
  name: 'credentials',
  usage: 'credentials <tenant> [--link <one-time link>]',
  summary: "show a tenant's generated credentials, once",
  args: [1, 1],
  options: {
    link: {
      type: 'string',
      description: 'the one-time link (a URL or /api/v1/… path) if this machine did not create or rotate the tenant',
    },
  },
  async run(ctx) {
    const tenant = await resolveArg(ctx);
    const client = ctx.client();
    const given = ctx.values.link === undefined ? undefined : String(ctx.values.link);
    const link = given ? given.replace(/^https?:\/\/[^/]+/, '') : readCredentialsLink(ctx.env, client.url, tenant.id);
    const rotateHint = `Rotate them to get new ones, which you can show once: tenantplane rotate ${tenant.name}`;
    if (!link)
      throw new CliError(
        `The credentials of ${tenant.name} were already shown, or were created on another machine. ${rotateHint}`,
        'gone',
        410,
      );
    let values: Record<string, string>;
    try {
      values = (await client.request<{ credentials: Record<string, string> }>('GET', link)).credentials;
    } catch (err) {
      if (err instanceof CliError && (err.status === 410 || err.status === 404)) {
        forgetCredentialsLink(ctx.env, client.url, tenant.id);
        throw new CliError(`The credentials of ${tenant.name} were already shown and cannot be shown again. ${rotateHint}`, 'gone', 410);
      }
      throw err;
    }
    forgetCredentialsLink(ctx.env, client.url, tenant.id);
    if (ctx.out.jsonMode) return ctx.out.json({ credentials: values });
    ctx.out.note(
      ctx.out.color(
        'yellow',
        `Shown once: save these now. ${rotateHint.replace('Rotate them to get new ones, which you can show once:', 'Lost later? Rotate:')}`,
      ),
    );
    for (const [key, value] of Object.entries(values)) ctx.out.line(`${key}=${value}`);
  },
};
