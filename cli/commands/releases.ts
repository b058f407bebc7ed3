/** Releases: `releases create <name> --image <image> [--notes <text>]`, `releases list`, `releases settings <tenant>` (admins). */
import { parseLabels } from '../../shared/releases/labels.ts';
import type { Release } from '../../shared/releases/releases.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { resolveArg } from '../operation.ts';

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

export const releasesSettings: Command = {
  name: 'releases settings',
  usage: 'releases settings <tenant> [--pin <release> | --unpin] [--labels key=value,…]',
  summary: "show or set a tenant's pin (rollouts skip it) and labels (for `rollouts start --target label:k=v`)",
  args: [1, 1],
  options: {
    pin: { type: 'string', description: 'keep the tenant on this release: rollouts skip it' },
    unpin: { type: 'boolean', description: 'let rollouts reach the tenant again' },
    labels: { type: 'string', description: 'replace its labels, e.g. ring=early,region=eu (an empty value clears them)' },
  },
  async run(ctx) {
    const tenant = await resolveArg(ctx);
    const body: Record<string, unknown> = {};
    if (typeof ctx.values.pin === 'string') body.pin = ctx.values.pin;
    if (ctx.values.unpin === true) body.pin = null;
    if (typeof ctx.values.labels === 'string') {
      const parsed = parseLabels(ctx.values.labels);
      if ('badPair' in parsed)
        throw new UsageError(`--labels takes key=value pairs, e.g. ring=early; got "${parsed.badPair}"`, 'releases settings');
      body.labels = parsed.labels;
    }
    const path = `/api/v1/tenants/${tenant.id}/release-settings`;
    const write = Object.keys(body).length > 0;
    const { settings } = await ctx
      .client()
      .request<{ settings: { pin?: string | null; labels?: Record<string, string> } }>(
        write ? 'PUT' : 'GET',
        path,
        write ? body : undefined,
      );
    if (ctx.out.jsonMode) return ctx.out.json({ settings });
    const labels = Object.entries(settings.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    ctx.out.line(
      `${tenant.name} (${tenant.id}): ${settings.pin ? `pinned to ${settings.pin}` : 'not pinned'}; labels: ${labels || 'none'}`,
    );
  },
};
