/**
 * The local image store: archives kept content-addressed under the data folder,
 * `<dir>/sha256/<hex>.tar.gz` beside `<hex>.json` (name, version, start
 * command, size, time). An image is named `local/<name>@sha256:<hex>`; the
 * digest is the archive's own SHA-256, so pushing the same bytes twice
 * answers the same image and changes nothing. The API writes here and the
 * local runtime driver reads and unpacks from here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lazyRequire } from '../lazy-require.ts';
import { DEFAULT_IMAGE_LIMITS, inspectArchive, type ImageLimits, type InspectedArchive } from './archive.ts';

const tarLib = lazyRequire<typeof import('tar')>('tar');

export interface LocalImage extends InspectedArchive {
  /** `local/<name>@sha256:<hex>` */
  image: string;
  digest: string;
  sizeBytes: number;
  createdAt: string;
}

/** Where the platform keeps local images: `<DATA_DIR>/images`. */
export const imagesDirOf = (dataDir: string) => join(dataDir, 'images');

const LOCAL_IMAGE = /^local\/([a-z0-9]+(?:[._-][a-z0-9]+)*)@sha256:([a-f0-9]{64})$/;

/** The name and hex digest of a `local/<name>@sha256:<hex>` image; undefined for any other image. */
export function parseLocalImage(image: string): { name: string; hex: string } | undefined {
  const match = LOCAL_IMAGE.exec(image);
  return match ? { name: match[1], hex: match[2] } : undefined;
}

export interface ImageStore {
  /** Validates and stores an archive; the same bytes again answer the stored image. */
  put(archive: Buffer, now: Date): Promise<LocalImage>;
  /** The stored image's description, or undefined. */
  get(image: string): Promise<LocalImage | undefined>;
  list(): Promise<LocalImage[]>;
  /**
   * Unpacks the image into `dest` (replaced), root-owned and world-readable, so a
   * workload running as its own user can read but not change its code.
   * Returns the description, whose `start[0]` is relative to `dest`.
   */
  unpack(image: string, dest: string): Promise<LocalImage>;
}

export function createImageStore(dir: string, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): ImageStore {
  const folder = join(dir, 'sha256');
  const describe = async (hex: string): Promise<LocalImage | undefined> => {
    try {
      return JSON.parse(await readFile(join(folder, `${hex}.json`), 'utf8')) as LocalImage;
    } catch {
      return undefined;
    }
  };
  return {
    async put(archive, now) {
      const inspected = inspectArchive(archive, limits);
      const hex = createHash('sha256').update(archive).digest('hex');
      const known = await describe(hex);
      if (known) return known;
      await mkdir(folder, { recursive: true, mode: 0o700 });
      const image: LocalImage = {
        ...inspected,
        image: `local/${inspected.name}@sha256:${hex}`,
        digest: `sha256:${hex}`,
        sizeBytes: archive.length,
        createdAt: now.toISOString(),
      };
      // Archive first, description last: a description always has its archive; two pushes of the same bytes write the same files.
      const tmp = `.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(join(folder, `${hex}.tar.gz${tmp}`), archive, { mode: 0o600 });
      await rename(join(folder, `${hex}.tar.gz${tmp}`), join(folder, `${hex}.tar.gz`));
      await writeFile(join(folder, `${hex}.json${tmp}`), JSON.stringify(image), { mode: 0o600 });
      await rename(join(folder, `${hex}.json${tmp}`), join(folder, `${hex}.json`));
      return image;
    },
    async get(image) {
      const parsed = parseLocalImage(image);
      if (!parsed) return undefined;
      const found = await describe(parsed.hex);
      return found && found.name === parsed.name ? found : undefined;
    },
    async list() {
      const names = await readdir(folder).catch(() => [] as string[]);
      const found = await Promise.all(names.filter((n) => /^[a-f0-9]{64}\.json$/.test(n)).map((n) => describe(n.slice(0, 64))));
      return found.filter((i): i is LocalImage => !!i).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },
    async unpack(image, dest) {
      const found = await this.get(image);
      if (!found) throw new Error(`image ${image} is not in the local image store (${dir}); push it first with tenantplane images push`);
      const hex = found.digest.slice('sha256:'.length);
      await rm(dest, { recursive: true, force: true });
      await mkdir(dest, { recursive: true, mode: 0o755 });
      // Checked again: the store's files are the platform's, but what runs must never escape its folder.
      const archive = await readFile(join(folder, `${hex}.tar.gz`));
      inspectArchive(archive, limits);
      await new Promise<void>((resolve, reject) => {
        const out = tarLib().extract({ cwd: dest, strip: found.strip, preserveOwner: false, strict: true, noMtime: true });
        out.on('error', reject);
        out.on('close', resolve);
        out.end(archive);
      });
      await openUp(dest);
      return found;
    },
  };
}

/** Folders 0755, files 0644 (0755 when executable), links left alone: readable by the workload's own user, writable by nobody else. */
async function openUp(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const info = await lstat(path);
    if (info.isSymbolicLink()) continue;
    if (info.isDirectory()) await openUp(path);
    else await chmod(path, info.mode & 0o111 ? 0o755 : 0o644);
  }
}
