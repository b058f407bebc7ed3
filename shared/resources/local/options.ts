/** Options of the local resources driver. */
export interface LocalResourcesOptions {
  /** Superuser URL of the PostgreSQL server that holds every environment's database (`npm start` and the tests start one). */
  adminUrl: string;
  /** Base URL of the storage emulator (emulators/storage), e.g. http://127.0.0.1:9199. */
  storageUrl: string;
  /** The platform's token at the storage emulator (the project owner there). */
  storageAdminToken: string;
  /** Project the buckets belong to, and the first part of their names. */
  projectId: string;
  bucketPrefix: string;
  /** Where database dumps are kept (`<DATA_DIR>/backups`); without it the driver has no backups. */
  backupDir?: string;
  /** Days an export archive is kept in `<bucketPrefix>-exports` (EXPORT_RETENTION_DAYS); default 7. */
  exportRetentionDays?: number;
  /** Empty databases kept ready for new environments (shared/resources/pool.ts); 0 or absent: none. */
  databasePool?: number;
  /** Seed SQL of the blueprints: the pool keeps databases seeded with each from its first fill (else from a seed's first use). */
  seeds?: string[];
}
