/**
 * Checking a local image: a `.tar.gz` of a Node app folder (R-REL-1). The
 * archive is read whole in memory, unpacked with a cap on its expanded size,
 * and every entry is checked before anything is stored: relative paths only,
 * no `..`, links that stay inside the app, only files, folders and links, and
 * a `package.json` whose `start` script is `node <file> [args]` naming a file
 * of the archive. A wrapping folder (`app/package.json`, npm pack's
 * `package/`) is allowed and stripped when unpacking.
 */
import { gunzipSync } from 'node:zlib';
import { posix } from 'node:path';
import type { ReadEntry } from 'tar';
import { lazyRequire } from '../lazy-require.ts';
import { AppError } from '../errors.ts';

export interface ImageLimits {
  /** Largest archive accepted, compressed. */
  maxBytes: number;
  /** Largest total of its files once unpacked (a gzip bomb stops here). */
  maxUnpackedBytes: number;
  /** Most entries. */
  maxEntries: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 50 * 1024 * 1024, maxUnpackedBytes: 200 * 1024 * 1024, maxEntries: 10_000 };

export interface InspectedArchive {
  /** `name` of package.json, lowercased to an image name. */
  name: string;
  /** `version` of package.json, when it has one. */
  version?: string;
  /** How the app starts: arguments after `node`, the first being the script path relative to the app folder. */
  start: string[];
  /** Leading folders to strip when unpacking (0 or 1). */
  strip: number;
  files: number;
  unpackedBytes: number;
}

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink']);
const IMAGE_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

const tarLib = lazyRequire<typeof import('tar')>('tar');

const invalid = (message: string, details?: Record<string, unknown>) => new AppError('validation_failed', message, details);

/** Validates the archive and reads what a start needs. Throws 400 `validation_failed` naming the problem; 413 when too large. */
export function inspectArchive(archive: Buffer, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): InspectedArchive {
  if (archive.length > limits.maxBytes)
    throw new AppError('payload_too_large', `The archive is larger than ${limits.maxBytes} bytes.`, { limitBytes: limits.maxBytes });
  if (archive.length < 2 || archive[0] !== 0x1f || archive[1] !== 0x8b)
    throw invalid('The body is not a gzip archive; send a .tar.gz of the app folder (tar czf app.tar.gz -C ./folder .).');
  let tar: Buffer;
  try {
    tar = gunzipSync(archive, { maxOutputLength: limits.maxUnpackedBytes + 1024 * 1024 });
  } catch (err) {
    if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw invalid(`The archive unpacks to more than ${limits.maxUnpackedBytes} bytes.`, { limitBytes: limits.maxUnpackedBytes });
    throw invalid(`The archive is not valid gzip: ${(err as Error).message}.`);
  }
  const entries = readEntries(tar, limits);
  if (entries.size === 0) throw invalid('The archive holds no files.');
  return describeApp(entries);
}

interface Entry {
  type: string;
  size: number;
  linkpath?: string;
  body?: Buffer;
}

function readEntries(tar: Buffer, limits: ImageLimits): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let problem: AppError | undefined;
  let total = 0;
  const parser = new (tarLib().Parser)({
    strict: true,
    onReadEntry(entry: ReadEntry) {
      const path = checkPath(entry, (e) => (problem ??= e));
      total += entry.size;
      if (entries.size >= limits.maxEntries) problem ??= invalid(`The archive has more than ${limits.maxEntries} entries.`);
      if (total > limits.maxUnpackedBytes)
        problem ??= invalid(`The archive unpacks to more than ${limits.maxUnpackedBytes} bytes.`, { limitBytes: limits.maxUnpackedBytes });
      if (path === undefined || problem) return entry.resume();
      const record: Entry = { type: entry.type, size: entry.size, linkpath: entry.linkpath };
      entries.set(path, record);
      // Only package.json is read; every other body is skipped.
      if (posix.basename(path) === 'package.json' && entry.size < 1024 * 1024) {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          record.body = Buffer.concat(chunks);
        });
      } else entry.resume();
    },
  });
  parser.on('warn', (_code: string, message: string) => (problem ??= invalid(`The archive is not a valid tar file: ${message}.`)));
  parser.on('error', (err: Error) => (problem ??= invalid(`The archive is not a valid tar file: ${err.message}.`)));
  parser.end(tar);
  if (problem) throw problem;
  return entries;
}

/** The entry's normalized relative path, or undefined for the root itself; reports unsafe entries. */
function checkPath(entry: ReadEntry, report: (e: AppError) => void): string | undefined {
  const raw = entry.path;
  if (!ALLOWED_TYPES.has(entry.type)) {
    report(
      invalid(`The archive entry "${raw}" is a ${entry.type}; only files, folders and links inside the app are allowed.`, { path: raw }),
    );
    return undefined;
  }
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw) || raw.split('/').includes('..')) {
    report(invalid(`The archive entry "${raw}" points outside the app folder.`, { path: raw }));
    return undefined;
  }
  const path = posix.normalize(raw).replace(/\/+$/, '');
  if (path === '.' || path === '') return undefined;
  if (entry.type === 'SymbolicLink') {
    const target = entry.linkpath ?? '';
    const resolved = posix.normalize(posix.join(posix.dirname(path), target));
    if (target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
      report(invalid(`The link "${raw}" points outside the app folder (to "${target}").`, { path: raw }));
      return undefined;
    }
  }
  return path;
}

/** Finds package.json (at the top or in one wrapping folder) and the script its start runs. */
function describeApp(entries: Map<string, Entry>): InspectedArchive {
  const tops = new Set([...entries.keys()].map((p) => p.split('/')[0]));
  const top = tops.size === 1 ? [...tops][0] : undefined;
  const strip = entries.has('package.json') ? 0 : top && entries.has(`${top}/package.json`) ? 1 : -1;
  if (strip < 0) throw invalid('The archive has no package.json at its top (or in one folder holding everything).');
  const prefix = strip ? `${top}/` : '';
  const pkgEntry = entries.get(`${prefix}package.json`)!;
  let pkg: { name?: unknown; version?: unknown; scripts?: { start?: unknown } };
  try {
    pkg = JSON.parse(pkgEntry.body?.toString('utf8') ?? '');
  } catch (err) {
    throw invalid(`package.json is not valid JSON: ${(err as Error).message}.`);
  }
  const name = typeof pkg.name === 'string' ? pkg.name.toLowerCase().replace(/^@[^/]+\//, '') : '';
  if (!IMAGE_NAME.test(name) || name.length > 64)
    throw invalid('package.json needs a "name" of lowercase letters, digits, ".", "_" or "-" (up to 64), e.g. "shop-app".', {
      field: 'name',
    });
  const start = typeof pkg.scripts?.start === 'string' ? pkg.scripts.start.trim() : '';
  const argv = start.split(/\s+/);
  if (argv[0] !== 'node' || argv.length < 2 || argv.slice(1).some((a) => /["'`$;&|<>\\*?(){}]/.test(a)) || argv[1].startsWith('-'))
    throw invalid('package.json needs a "start" script of the form "node <file> [args]", e.g. "node server.js".', {
      field: 'scripts.start',
      start,
    });
  const script = posix.normalize(argv[1]);
  const file = entries.get(prefix + script);
  if (script.startsWith('../') || !file || file.type === 'Directory')
    throw invalid(`The start script runs "${argv[1]}", which is not a file of the archive.`, { field: 'scripts.start' });
  const files = [...entries.values()].filter((e) => e.type !== 'Directory');
  return {
    name,
    version: typeof pkg.version === 'string' ? pkg.version.slice(0, 64) : undefined,
    start: [script, ...argv.slice(2)],
    strip,
    files: files.length,
    unpackedBytes: files.reduce((sum, e) => sum + e.size, 0),
  };
}
