/** Releases: `releases create <name> --image <image> [--notes <text>]`, `releases list` (admins). */
import type { Release } from '../../shared/releases/releases.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';

export const releasesCreate: Command = {
  name: 'releases create',
  usage: 'releases create <name> --image <image> [--notes <text>]',
  summary: 'create a release: an immutable image by digest (a tag is resolved now) with notes',
  args: [1, 1],
  options: {
    image: { type: 'string', description: 'local/<name>@sha256:… from `images push`, or an Artifact Registry image' },
    notes: { type: 'string', description: 'what changed, for people' },
  },
  async run(ctx) {
    if (typeof ctx.values.image !== 'string')
      throw new UsageError('--image is required, e.g. --image local/shop@sha256:…', 'releases create');
    const body = {
      name: ctx.args[0],
      image: ctx.values.image,
      ...(typeof ctx.values.notes === 'string' ? { notes: ctx.values.notes } : {}),
    };
    const { release } = await ctx.client().request<{ release: Release }>('POST', '/api/v1/releases', body);
    if (ctx.out.jsonMode) return ctx.out.json({ release });
    ctx.out.line(`Release ${release.name}: ${release.image}`);
  },
};

export const releasesList: Command = {
  name: 'releases list',
  usage: 'releases list',
  summary: 'list releases, newest first',
  args: [0, 0],
  async run(ctx) {
    const { releases } = await ctx.client().request<{ releases: Release[] }>('GET', '/api/v1/releases');
    if (ctx.out.jsonMode) return ctx.out.json({ releases });
    if (releases.length === 0)
      return ctx.out.line('No releases yet. Create one with `tenantplane releases create <name> --image <image>`.');
    ctx.out.table(releases, ['name', 'image', 'createdBy', 'createdAt', 'notes']);
  },
};
