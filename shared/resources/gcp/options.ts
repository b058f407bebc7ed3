/** Options of the Google Cloud resources driver (Cloud SQL for PostgreSQL + Cloud Storage). */
export interface GcpResourcesOptions {
  /** The shared Cloud SQL instance, `project:region:instance`. */
  instance: string;
  /** A connection of the platform's own Cloud SQL user (a cloudsqlsuperuser member) for the SQL half: grants, seeds, renames. */
  adminUrl: string;
  /** The host environments connect to (the instance's private IP, or a proxy); default the adminUrl's host. */
  tenantHost?: string;
  projectId: string;
  /** Bucket location, e.g. europe-west1. */
  location: string;
  bucketPrefix: string;
  /** The platform's bucket for database backups (Cloud SQL exports), default `<bucketPrefix>-backups`. */
  backupBucket?: string;
  /** Days an export archive is kept in `<bucketPrefix>-exports` (EXPORT_RETENTION_DAYS); default 7. */
  exportRetentionDays?: number;
  /** Client options for the REST calls (`apiEndpoint`, `port`, `protocol`, `authClient`), as tests point them at local servers. */
  clientOptions?: Record<string, unknown>;
  /** Separate client options for Cloud Storage (default: clientOptions). */
  storageClientOptions?: Record<string, unknown>;
  /** Wait between polls of a Cloud SQL operation; default 1000 ms. */
  pollMs?: number;
}
