import type { Deps } from '../../../shared/deps.ts';
import { AppError } from '../../../shared/errors.ts';
import { readRawBody } from '../../../shared/http/body.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../../shared/images/archive.ts';
import { createImageStore, imagesDirOf } from '../../../shared/images/store.ts';
import type { ApiRoute } from '../route.ts';

/**
 * Local images (R-REL-1): `POST /api/v1/images` takes a `.tar.gz` of a Node
 * app folder and answers `{image: "local/<name>@sha256:…"}`; `GET` lists them.
 * With Artifact Registry images are pushed with docker instead (501).
 */
export function imageRoutes(deps: Deps): ApiRoute[] {
  const store = createImageStore(imagesDirOf(deps.config.runtime.dataDir));
  const requireLocal = () => {
    if (deps.config.registry.driver !== 'local')
      throw new AppError(
        'not_supported',
        `Images are pushed to ${deps.config.registry.host} with docker when REGISTRY_DRIVER=${deps.config.registry.driver}; a release then names the tag.`,
        { registry: deps.config.registry.driver },
      );
  };
  return [
    {
      method: 'POST',
      path: '/api/v1/images',
      action: 'images.write',
      handler: async (ctx) => {
        requireLocal();
        const type = ctx.header('content-type') ?? '';
        if (!/^application\/(gzip|x-gzip|x-tar|octet-stream)\b/i.test(type))
          throw new AppError('unsupported_media_type', 'Send the app folder as a .tar.gz with "Content-Type: application/gzip".');
        const archive = await readRawBody(ctx.req, DEFAULT_IMAGE_LIMITS.maxBytes);
        const image = await store.put(archive, deps.now());
        ctx.log.info('image stored', { image: image.image, sizeBytes: image.sizeBytes });
        return { status: 201, body: { image: image.image, digest: image.digest, name: image.name, version: image.version } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/images',
      action: 'images.read',
      handler: async () => {
        requireLocal();
        return { body: { images: await store.list() } };
      },
    },
  ];
}
