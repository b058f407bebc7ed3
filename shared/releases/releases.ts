/**
 * Releases (R-REL-1): a named, immutable version of the product, an image by
 * digest with notes, creator and time. `releases/{name}` is owned here.
 * Locally the image is a `local/<name>@sha256:…` of the image store; with
 * Artifact Registry a tag (`<REGISTRY>/<repo>/<image>:<tag>`) is resolved to
 * its digest when the release is created, so later pushes to the tag change
 * nothing that was released. Creating the same release again answers it;
 * the same name with anything else is a 409.
 */
import { lazySchema } from '../zod-lib.ts';
import { authorize } from '../auth/authorize.ts';
import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { AppError, conflict } from '../errors.ts';
import { resolveTag, repositoryName } from '../gcp/artifact-registry.ts';
import { parseArtifactRegistryHost } from '../gcp/names.ts';
import { createImageStore, imagesDirOf, parseLocalImage } from '../images/store.ts';
import { parseInput } from '../tenants/validate.ts';

export interface Release {
  name: string;
  /** The image by digest: what every rollout of this release runs. */
  image: string;
  digest: string;
  /** The image as given when created (a tag, before resolution). */
  source: string;
  notes: string;
  createdBy: string;
  createdAt: string;
}

export const RELEASES = 'releases';
const releasePath = (name: string) => `${RELEASES}/${name}`;
const RELEASE_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$/;

const createReleaseSchema = lazySchema((z) =>
  z
    .object({
      name: z.string().regex(RELEASE_NAME, 'use 1–63 lowercase letters, digits, ".", "_" or "-", e.g. "v2.1.0"'),
      image: z.string().min(1).max(500),
      notes: z.string().max(4000).optional(),
    })
    .strict(),
);

export const isReleaseName = (name: string) => RELEASE_NAME.test(name);

/** Reads a release, or undefined. */
export async function getRelease(deps: Pick<Deps, 'db'>, name: string): Promise<Release | undefined> {
  if (!isReleaseName(name)) return undefined;
  const snap = await deps.db.doc(releasePath(name)).get();
  return snap.exists ? (snap.data() as Release) : undefined;
}

/** Creates a release after resolving its image to a digest; idempotent for the same content. */
export async function createRelease(deps: Deps, p: Principal, raw: unknown): Promise<{ release: Release; created: boolean }> {
  authorize(p, 'releases.write');
  const input = parseInput(createReleaseSchema, raw);
  const { image, digest } = await resolveReleaseImage(deps, input.image);
  const release: Release = {
    name: input.name,
    image,
    digest,
    source: input.image,
    notes: input.notes ?? '',
    createdBy: p.email ?? p.uid,
    createdAt: deps.now().toISOString(),
  };
  return deps.db.runTransaction(async (tx) => {
    const ref = deps.db.doc(releasePath(input.name));
    const existing = (await tx.get(ref)).data() as Release | undefined;
    if (existing) {
      if (existing.image === release.image && existing.notes === release.notes) return { release: existing, created: false };
      throw conflict(`Release ${input.name} exists with another image or notes; releases are immutable, so name the new one differently.`, {
        name: input.name,
        image: existing.image,
      });
    }
    tx.create(ref, release);
    return { release, created: true };
  });
}

/** Releases, newest first. */
export async function listReleases(deps: Deps, p: Principal, limit = 100): Promise<Release[]> {
  authorize(p, 'releases.read');
  const snap = await deps.db.collection(RELEASES).orderBy('createdAt', 'desc').limit(limit).get();
  return snap.docs.map((d) => d.data() as Release);
}

async function resolveReleaseImage(deps: Deps, image: string): Promise<{ image: string; digest: string }> {
  const { registry } = deps.config;
  if (registry.driver === 'local') {
    const local = parseLocalImage(image);
    if (!local)
      throw new AppError(
        'validation_failed',
        'A release image is a local image, local/<name>@sha256:<digest>; publish one with tenantplane images push <folder>.',
        {
          field: 'image',
        },
      );
    const found = await createImageStore(imagesDirOf(deps.config.runtime.dataDir)).get(image);
    if (!found)
      throw new AppError('validation_failed', `There is no image ${image}; push it first (tenantplane images push <folder>).`, {
        field: 'image',
      });
    return { image, digest: found.digest };
  }
  const prefix = `${registry.host}/`;
  const m = image.startsWith(prefix)
    ? /^([a-z0-9-]+)\/([a-z0-9._/-]+?)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(sha256:[a-f0-9]{64}))$/.exec(image.slice(prefix.length))
    : null;
  if (!m)
    throw new AppError('validation_failed', `A release image is ${prefix}<repository>/<image>:<tag> or …@sha256:<digest>.`, {
      field: 'image',
    });
  const [, repo, pkg, tag, pinned] = m;
  if (pinned) return { image, digest: pinned };
  const host = parseArtifactRegistryHost(registry.host)!;
  const digest = await resolveTag(deps.gcp.rest, repositoryName(host.projectId, host.location, repo), pkg, tag);
  if (!digest)
    throw new AppError('validation_failed', `Artifact Registry has no image ${image}; push it first (docker push ${image}).`, {
      field: 'image',
    });
  return { image: `${prefix}${repo}/${pkg}@${digest}`, digest };
}
