/** The local runtime driver: workloads as child processes on this machine. */
export { createLocalDriver, type LocalDriver, type LocalUsage } from './driver.ts';
export type { LocalDriverOptions } from './options.ts';
