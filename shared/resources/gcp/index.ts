/** The Google Cloud resources driver: Cloud SQL databases and Cloud Storage buckets. */
export { createGcpResources } from './driver.ts';
export type { GcpResourcesOptions } from './options.ts';
