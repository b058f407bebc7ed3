/** Local images: `images push <folder>` packs a Node app folder and publishes it; `images list`. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { create } from 'tar';
import type { Command } from '../command.ts';
import { CliError } from '../errors.ts';

/** Packs the folder as the API wants it: a .tar.gz of its content, without VCS folders. */
async function packFolder(folder: string): Promise<Buffer> {
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) throw new CliError(`${folder} is not a folder; pass the folder holding your app's package.json.`, 'not_found');
  const chunks: Buffer[] = [];
  const stream = create({ gzip: true, cwd: folder, portable: true, filter: (path) => !/(^|\/)\.git(\/|$)/.test(path) }, ['.']);
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export const imagesPush: Command = {
  name: 'images push',
  usage: 'images push <folder>',
  summary: "publish a Node app folder (package.json with a start script) as a local image; prints the image's name",
  args: [1, 1],
  async run(ctx) {
    const folder = resolve(ctx.args[0]);
    const archive = await packFolder(folder);
    const image = await ctx.client().upload<{ image: string; version?: string }>('/api/v1/images', archive, 'application/gzip');
    if (ctx.out.jsonMode) return ctx.out.json(image);
    ctx.out.line(image.image);
  },
};

export const imagesList: Command = {
  name: 'images list',
  usage: 'images list',
  summary: 'list the local images (admins)',
  args: [0, 0],
  async run(ctx) {
    const { images } = await ctx.client().request<{ images: Record<string, unknown>[] }>('GET', '/api/v1/images');
    if (ctx.out.jsonMode) return ctx.out.json({ images });
    if (images.length === 0) return ctx.out.line('No images yet. Publish one with `tenantplane images push <folder>`.');
    ctx.out.table(images, ['image', 'version', 'createdAt']);
  },
};
