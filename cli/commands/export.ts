/** `export <tenant> [--env E] [--out FILE]`: the owner's data (database dumps and bucket objects) as one .tar.gz (issue 21). */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WAIT_OPTIONS, type Command } from '../command.ts';
import { EXIT_OK } from '../errors.ts';
import { followAccepted, resolveArg, type Accepted } from '../operation.ts';

export const exportData: Command = {
  name: 'export',
  usage: 'export <tenant> [--env E] [--out FILE] [--no-wait]',
  summary: "export a tenant's data (each environment's database as SQL and its bucket's objects) into a .tar.gz",
  args: [1, 1],
  options: {
    env: { type: 'string', description: 'only this environment (default: every one)' },
    out: { type: 'string', short: 'o', description: 'where to write the archive (default: <tenant>-<env|all>-<export id>.tar.gz here)' },
    ...WAIT_OPTIONS,
  },
  async run(ctx) {
    const tenant = await resolveArg(ctx);
    const env = ctx.values.env as string | undefined;
    const accepted = await ctx
      .client()
      .request<Accepted & { export: { id: string } }>('POST', `/api/v1/tenants/${tenant.id}/exports`, env ? { env } : {});
    const code = await followAccepted(ctx, 'export', accepted);
    if (code !== EXIT_OK || ctx.values['no-wait']) return code;
    const file = (ctx.values.out as string | undefined) ?? `${tenant.name}-${env ?? 'all'}-${accepted.export.id}.tar.gz`;
    const res = await ctx.client().open(accepted.links.download);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(file, { mode: 0o600 }));
    ctx.out.line(`Saved ${file} (${res.headers.get('content-length') ?? '?'} bytes).`);
    return EXIT_OK;
  },
};
