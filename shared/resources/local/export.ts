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
import { findPostgresBin } from './pg-bin.ts';

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

export function createLocalExport(options: { adminUrl: string; storageUrl: string; storageAdminToken: string; bucketPrefix: string }) {
  const server = new URL(options.adminUrl);
  const auth = { authorization: `Bearer ${options.storageAdminToken}` };
  return {
    async exportData(ref: ResourceRef, dir: string): Promise<{ files: number; bytes: number }> {
      const binDir = findPostgresBin('pg_dump');
      if (!binDir)
        throw new ResourceError('local', 'not_configured', 'pg_dump is missing: install PostgreSQL (scripts/ensure-tools.sh postgres)');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const sql = join(dir, 'database.sql');
      await run(join(binDir, 'pg_dump'), ['--format=plain', '--no-owner', '--no-privileges', `--file=${sql}`], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          PGHOST: server.hostname,
          PGPORT: server.port || '5432',
          PGUSER: decodeURIComponent(server.username),
          PGPASSWORD: decodeURIComponent(server.password),
          PGDATABASE: databaseName(ref),
          PGCONNECT_TIMEOUT: '15',
        },
        maxBuffer: 1024 * 1024,
      });
      let files = 1;
      let bytes = statSync(sql).size;
      const bucket = bucketName(options.bucketPrefix, ref);
      let pageToken: string | undefined;
      do {
        const q = new URLSearchParams(pageToken ? { pageToken } : {});
        const res = await fetch(`${options.storageUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o?${q}`, { headers: auth });
        if (res.status === 404) break; // an environment whose blueprint has no bucket
        if (!res.ok) throw new ResourceError('local', 'failed', `listing bucket ${bucket} answered ${res.status}`);
        const page = (await res.json()) as { items?: Array<{ name: string }>; nextPageToken?: string };
        for (const item of page.items ?? []) {
          const media = await fetch(
            `${options.storageUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(item.name)}?alt=media`,
            {
              headers: auth,
            },
          );
          if (!media.ok) throw new ResourceError('local', 'failed', `reading ${bucket}/${item.name} answered ${media.status}`);
          const body = Buffer.from(await media.arrayBuffer());
          const file = join(dir, 'bucket', exportPathOf(item.name));
          mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
          writeFileSync(file, body, { mode: 0o600 });
          files++;
          bytes += body.length;
        }
        pageToken = page.nextPageToken;
      } while (pageToken);
      return { files, bytes };
    },
  };
}
