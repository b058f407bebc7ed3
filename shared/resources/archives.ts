/**
 * Owner export archives (issue 21) in the platform's own bucket
 * `<bucketPrefix>-exports`, through the Cloud Storage JSON API v1, one module
 * for both drivers (local: the storage emulator; gcp: Cloud Storage). The
 * worker that makes an archive and the api that serves it are separate
 * instances with separate disks, so the archive lives only in the bucket.
 * The bucket is platform-only (uniform access, public access prevention, no
 * tenant member) and a lifecycle Delete rule removes an archive
 * `retentionDays` after its upload. Objects are `<tenant>/<exportId>.tar.gz`.
 * Shapes: https://cloud.google.com/storage/docs/uploading-objects (media
 * upload `upload/storage/v1/b/{bucket}/o?uploadType=media&name=…`),
 * …/json_api/v1/objects/get (`alt=media`), …/objects/list (`prefix`,
 * `pageToken`), …/objects/delete, https://cloud.google.com/storage/docs/lifecycle.
 */
import type { GoogleRest } from '../gcp/rest.ts';
import { ensureBucket } from './gcs.ts';

const enc = encodeURIComponent;
const status = (error: unknown) => (error as { httpStatus?: number }).httpStatus;

/** An archive to send: its size and its bytes as they arrive from the bucket. */
export interface OpenArchive {
  sizeBytes: number;
  body: ReadableStream<Uint8Array>;
}

/** The archives port of a resources driver. */
export interface ExportArchives {
  /** The bucket the archives live in. */
  readonly bucket: string;
  /** Uploads the finished archive at `file` as export `id` of the tenant (a repeat replaces it); answers its size. */
  put(tenantId: string, id: string, file: string): Promise<{ sizeBytes: number }>;
  /** The archive, streamed; `undefined` when it is not kept (never made, expired, purged). */
  open(tenantId: string, id: string): Promise<OpenArchive | undefined>;
  /** Deletes every archive of the tenant; answers how many went. Nothing to delete is fine. */
  removeAll(tenantId: string): Promise<number>;
}

export interface ExportArchivesOptions {
  project: string;
  bucketPrefix: string;
  location?: string;
  /** Days an archive is kept (the bucket's lifecycle Delete rule). */
  retentionDays: number;
}

const TENANT = /^t-[a-z2-7]{10}$/;
const EXPORT = /^x\d{14}-[0-9a-f]{4}$/;

/** The object of export `id`; both parts are checked so no name leaves the tenant's folder. */
function objectOf(tenantId: string, id: string): string {
  if (!TENANT.test(tenantId) || !EXPORT.test(id)) throw new Error(`not an export: ${JSON.stringify({ tenantId, id })}`);
  return `${tenantId}/${id}.tar.gz`;
}

export function createExportArchives(rest: GoogleRest, options: ExportArchivesOptions): ExportArchives {
  const bucket = `${options.bucketPrefix}-exports`;
  const objects = `storage/v1/b/${enc(bucket)}/o`;
  let ready: Promise<void> | undefined;
  /** The bucket, made (or brought to the configured retention) once per process. */
  const ensure = () =>
    (ready ??= ensureBucket(rest, {
      project: options.project,
      name: bucket,
      location: options.location,
      labels: { 'tenantplane-purpose': 'exports' },
      deleteAfterDays: options.retentionDays,
    }).catch((error) => {
      ready = undefined;
      throw error;
    }));

  return {
    bucket,
    async put(tenantId, id, file) {
      const name = objectOf(tenantId, id);
      await ensure();
      const made = await rest.upload<{ size?: string }>(
        'storage',
        `upload/${objects}?uploadType=media&name=${enc(name)}`,
        file,
        'application/gzip',
      );
      return { sizeBytes: Number(made.size ?? 0) };
    },
    async open(tenantId, id) {
      const name = objectOf(tenantId, id);
      try {
        const meta = await rest.call<{ size?: string }>('storage', 'GET', `${objects}/${enc(name)}`);
        const media = await rest.stream('storage', `${objects}/${enc(name)}?alt=media`);
        if (!media.body) return undefined;
        return { sizeBytes: Number(meta.size ?? 0), body: media.body };
      } catch (error) {
        // The object or the whole bucket is gone: expired, purged, or never made.
        if (status(error) === 404) return undefined;
        throw error;
      }
    },
    async removeAll(tenantId) {
      if (!TENANT.test(tenantId)) throw new Error(`not a tenant id: ${JSON.stringify(tenantId)}`);
      let removed = 0;
      try {
        // Deleting shifts the pages, so each round lists the first page again until none is left.
        for (;;) {
          const page = await rest.call<{ items?: Array<{ name: string }> }>(
            'storage',
            'GET',
            `${objects}?prefix=${enc(`${tenantId}/`)}&maxResults=1000`,
          );
          if (!page.items?.length) return removed;
          for (const item of page.items) {
            await rest.call('storage', 'DELETE', `${objects}/${enc(item.name)}`).catch((error) => {
              if (status(error) !== 404) throw error;
            });
            removed++;
          }
        }
      } catch (error) {
        if (status(error) === 404) return removed; // no bucket: no archive was ever made
        throw error;
      }
    },
  };
}
