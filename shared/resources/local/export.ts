/**
 * An owner's export of one environment (issue 21, offboarding), locally: the
 * database as plain SQL (`pg_dump --format=plain`, readable and loadable
 * anywhere with psql) and every object of the bucket, written under a folder
 * the caller packs. The platform's credentials reach pg_dump through its
 * environment, never its command line.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { bucketName, databaseName } from '../names.ts';
import { ResourceError, type ResourceRef } from '../types.ts';
import { findPostgresBin, pgToolEnv } from './pg-bin.ts';

const run = promisify(execFile);

/**
 * Where an object goes in the export: its own name when that is a plain
 * relative path, else its URI-encoded name at the top, so no name (`..`, `/x`,
 * an empty segment) can write outside the bucket's folder.
 */
export function exportPathOf(name: string): string {
  const normal = posix.normalize(name);
  const safe = normal === name && !name.startsWith('/') && !name.split('/').some((s) => s === '' || s === '.' || s === '..');
  return safe ? name : encodeURIComponent(name);
}

/** One page of a bucket's object names; `undefined` when the bucket does not exist (a blueprint without one). */
export type ListObjects = (pageToken?: string) => Promise<{ items?: Array<{ name: string }>; nextPageToken?: string } | undefined>;

/** Writes every object of a bucket under `<dir>/bucket/` (names made safe by exportPathOf); answers the count and bytes. */
export async function exportObjects(
  dir: string,
  list: ListObjects,
  read: (name: string) => Promise<Buffer>,
): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  let pageToken: string | undefined;
  do {
    const page = await list(pageToken);
    if (!page) break;
    for (const item of page.items ?? []) {
      const body = await read(item.name);
      const file = join(dir, 'bucket', exportPathOf(item.name));
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, body, { mode: 0o600 });
      files++;
      bytes += body.length;
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return { files, bytes };
}

export function createLocalExport(options: { adminUrl: string; storageUrl: string; storageAdminToken: string; bucketPrefix: string }) {
  const auth = { authorization: `Bearer ${options.storageAdminToken}` };
  return {
    async exportData(ref: ResourceRef, dir: string): Promise<{ files: number; bytes: number }> {
      const binDir = findPostgresBin('pg_dump');
      if (!binDir)
        throw new ResourceError('local', 'not_configured', 'pg_dump is missing: install PostgreSQL (scripts/ensure-tools.sh postgres)');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const sql = join(dir, 'database.sql');
      await run(join(binDir, 'pg_dump'), ['--format=plain', '--no-owner', '--no-privileges', `--file=${sql}`], {
        env: pgToolEnv(options.adminUrl, databaseName(ref)),
        maxBuffer: 1024 * 1024,
      });
      const bucket = bucketName(options.bucketPrefix, ref);
      const objects = await exportObjects(
        dir,
        async (pageToken) => {
          const q = new URLSearchParams(pageToken ? { pageToken } : {});
          const res = await fetch(`${options.storageUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o?${q}`, { headers: auth });
          if (res.status === 404) return undefined; // an environment whose blueprint has no bucket
          if (!res.ok) throw new ResourceError('local', 'failed', `listing bucket ${bucket} answered ${res.status}`);
          return res.json();
        },
        async (name) => {
          const media = await fetch(
            `${options.storageUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}?alt=media`,
            { headers: auth },
          );
          if (!media.ok) throw new ResourceError('local', 'failed', `reading ${bucket}/${name} answered ${media.status}`);
          return Buffer.from(await media.arrayBuffer());
        },
      );
      return { files: 1 + objects.files, bytes: statSync(sql).size + objects.bytes };
    },
  };
}
