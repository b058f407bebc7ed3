/**
 * What a local environment runs: the configured command (the sample tenant)
 * for ordinary images, or, for a `local/<name>@sha256:<hex>` image, that app
 * from the local image store, unpacked into the environment's `app/` folder
 * and started as its package.json says (`node <file> [args]`).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createImageStore, parseLocalImage } from '../../images/store.ts';
import type { ResolvedLocalOptions } from './options.ts';
import { envDir } from './paths.ts';
import { DriverError } from '../types.ts';

export interface WorkloadCommand {
  argv: string[];
  /** Working folder; absent: the environment's data folder. */
  cwd?: string;
}

/** Unpacks the image when the environment's `app/` holds another one (or none), and answers how to start it. */
export async function workloadCommand(opts: ResolvedLocalOptions, key: string, image: string): Promise<WorkloadCommand> {
  if (!parseLocalImage(image)) return { argv: opts.command };
  if (!opts.imagesDir) {
    throw new DriverError(
      'local',
      'not_configured',
      `cannot run ${image}: the local driver has no imagesDir option, e.g. { imagesDir: ".data/images" }`,
    );
  }
  const store = createImageStore(opts.imagesDir);
  const appDir = join(envDir(opts, key), 'app');
  const marker = join(envDir(opts, key), 'app.image');
  const unpacked = await readFile(marker, 'utf8').catch(() => '');
  const found =
    unpacked === image
      ? await store.get(image)
      : await store.unpack(image, appDir).catch((error: Error) => {
          throw new DriverError('local', 'failed', `cannot run ${image}: ${error.message}`, { cause: error });
        });
  if (!found) throw new DriverError('local', 'failed', `cannot run ${image}: it is not in the local image store any more; push it again`);
  if (unpacked !== image) await writeFile(marker, image, { mode: 0o600 });
  return { argv: [process.execPath, join(appDir, found.start[0]), ...found.start.slice(1)], cwd: appDir };
}
