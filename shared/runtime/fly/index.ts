/** The Fly driver: one Fly app with one Machine per tenant environment. */
export { createFlyDriver, flyAppName } from './driver.ts';
export type { FlyDriverOptions } from './options.ts';
