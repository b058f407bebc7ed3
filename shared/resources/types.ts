/**
 * The resources port (issue 21): each tenant environment's own data — a
 * PostgreSQL database with its own role, and a bucket. Every method is
 * idempotent and converges: names are deterministic from (tenant, env), and
 * a step repeated after a crash finds what the first attempt made.
 */
import type { ExportArchives } from './archives.ts';

/** Which environment a resource belongs to. */
export interface ResourceRef {
  tenantId: string;
  env: string;
}

/** What an environment uses to reach its database; `url` holds the password and is a secret. */
export interface DatabaseAccess {
  database: string;
  role: string;
  /** `postgres://role:password@host:port/database`. */
  url: string;
}

/** What an environment uses to reach its bucket: `BUCKET_NAME` and, locally, the emulator's address and a token. */
export interface BucketAccess {
  name: string;
  /** Variables the environment gets as platform-managed secrets. */
  vars: Record<string, string>;
}

export interface ResourceFlags {
  database: boolean;
  bucket: boolean;
  /** backupDatabase, restoreDatabase and deleteBackup work. */
  backups: boolean;
}

export interface ResourceDriver {
  readonly name: string;
  /** What this driver provides; the conformance suite skips the rest and callers say `not_supported`. */
  readonly flags: ResourceFlags;
  /**
   * Makes the environment's role and database if missing (a new database is
   * seeded with `seed`, run as the role, before it becomes visible) and gives
   * the role a fresh password; returns how to connect.
   */
  ensureDatabase(ref: ResourceRef, options: { seed?: string }): Promise<DatabaseAccess>;
  /** A new password for the role; sessions that used the old one are ended. */
  rotateDatabasePassword(ref: ResourceRef): Promise<DatabaseAccess>;
  /** Drops the database (the role stays); the next ensureDatabase recreates it from the seed. Nothing to drop is fine. */
  dropDatabase(ref: ResourceRef): Promise<void>;
  /** Drops the database and the role. */
  removeDatabase(ref: ResourceRef): Promise<void>;
  /** Makes the environment's bucket (and its access for the environment's identity) if missing. */
  ensureBucket(ref: ResourceRef, options: { deleteAfterDays: number; serviceAccount?: string }): Promise<BucketAccess>;
  /** Deletes the bucket with every object in it; a missing bucket is fine. */
  removeBucket(ref: ResourceRef): Promise<void>;
  /** Dumps the environment's database as backup `id` (a repeat finds the finished one). */
  backupDatabase?(ref: ResourceRef, id: string): Promise<{ sizeBytes: number }>;
  /** Replaces `target`'s database with backup `id` of `source`, restored as `target`'s own role. */
  restoreDatabase?(source: ResourceRef, id: string, target: ResourceRef): Promise<void>;
  /**
   * The owner's export of the environment's data into the folder `dir`:
   * `database.sql` (a plain SQL dump) and `bucket/<object name>` for every
   * object. Absent: the driver offers no export (the API answers 501).
   */
  exportData?(ref: ResourceRef, dir: string): Promise<{ files: number; bytes: number }>;
  /**
   * Where finished export archives are kept: the platform's `<prefix>-exports`
   * bucket (archives.ts), reachable from every instance. Present with exportData.
   */
  readonly archives?: ExportArchives;
  /** Forgets backup `id`; a missing one is fine. */
  deleteBackup?(ref: ResourceRef, id: string): Promise<void>;
  /**
   * Gets ready for the first launches (the local driver fills its pool of
   * empty databases, which otherwise fills only after a first claim); resolves when done.
   */
  warm?(): Promise<void>;
  close?(): Promise<void>;
}

/** A driver's failure with the driver's name; `not_configured` and `not_supported` are permanent. */
export class ResourceError extends Error {
  constructor(
    readonly driver: string,
    readonly code: 'not_configured' | 'not_supported' | 'failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${driver}: ${message}`, options);
    this.name = 'ResourceError';
  }
}
