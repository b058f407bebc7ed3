/** The Cloud Run driver: one Cloud Run service per tenant environment. */
export { CLOUD_RUN_PLACEHOLDER_IMAGE, createCloudRunDriver } from './driver.ts';
export type { CloudRunDriverOptions } from './options.ts';
