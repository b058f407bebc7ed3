/** The local resources driver: PostgreSQL databases and storage-emulator buckets on this machine. */
export { createLocalResources } from './driver.ts';
export type { LocalResourcesOptions } from './options.ts';
