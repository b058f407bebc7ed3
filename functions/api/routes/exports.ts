import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Deps } from '../../../shared/deps.ts';
import { createExportsService } from '../../../shared/tenants/exports.ts';
import { signedIn, type ApiRoute } from '../route.ts';

const T = '/api/v1/tenants/:id';

/** Issue 21, offboarding: an owner exports an environment's (or the tenant's) data and downloads it with the tenant's own authorization. */
export function exportRoutes(deps: Deps): ApiRoute[] {
  const exports = createExportsService(deps);
  const download = (id: string, exportId: string) => `/api/v1/tenants/${id}/exports/${exportId}/download`;
  return [
    {
      method: 'GET',
      path: `${T}/exports`,
      action: 'tenants.read',
      handler: async (ctx, p) => ({ body: { exports: await exports.list(signedIn(p), ctx.params.id) } }),
    },
    {
      method: 'POST',
      path: `${T}/exports`,
      action: 'tenants.operate',
      handler: async (ctx, p) => {
        const { tenant, export: created } = await exports.create(signedIn(p), ctx.params.id, await ctx.json());
        return {
          status: 202,
          body: {
            tenant,
            export: created,
            links: { events: `/api/v1/tenants/${tenant.id}/events`, download: download(tenant.id, created.id) },
          },
        };
      },
    },
    {
      method: 'GET',
      path: `${T}/exports/:exportId/download`,
      action: 'tenants.read',
      handler: async (ctx, p) => {
        const archive = await exports.open(signedIn(p), ctx.params.id, ctx.params.exportId);
        ctx.res.writeHead(200, {
          'Content-Type': 'application/gzip',
          'Content-Length': String(archive.sizeBytes),
          'Content-Disposition': `attachment; filename="${archive.name}"`,
          'Cache-Control': 'private, no-store',
        });
        if (ctx.method === 'HEAD') {
          await archive.body.cancel();
          return void ctx.res.end();
        }
        // Streamed from the exports bucket as it arrives: the api instance keeps no copy, in memory or on disk.
        await pipeline(Readable.fromWeb(archive.body as NodeReadableStream<Uint8Array>), ctx.res);
      },
    },
  ];
}
