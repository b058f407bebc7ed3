/**
 * The one place a runtime driver is chosen from configuration. Everything else
 * (provision worker, API, npm start) receives a `RuntimeDriver` and never
 * branches on the driver's name.
 */
import { createCloudRunDriver, type CloudRunDriverOptions } from './cloud-run.ts';
import { createFlyDriver, type FlyDriverOptions } from './fly.ts';
import { createKubernetesDriver, type KubernetesDriverOptions } from './kubernetes.ts';
import { createLocalDriver } from './local.ts';
import type { LocalDriverOptions } from './local-options.ts';
import { DriverError, type RuntimeDriver } from './types.ts';

export type { CloudRunDriverOptions } from './cloud-run.ts';
export type { FlyDriverOptions } from './fly.ts';
export type { KubernetesDriverOptions } from './kubernetes.ts';
export type { LocalDriverOptions } from './local-options.ts';
export type { LocalDriver, LocalUsage } from './local.ts';
export { createLocalDriver } from './local.ts';
export * from './types.ts';

/** Names accepted by {@link createDriver}, in the order they are documented. */
export const DRIVER_NAMES = ['local', 'cloud-run', 'kubernetes', 'fly'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

export interface DriverConfig {
  /** One of {@link DRIVER_NAMES}. */
  driver: string;
  local?: LocalDriverOptions;
  /** Options of `createCloudRunDriver` (shared/runtime/cloud-run.ts). */
  cloudRun?: unknown;
  /** Options of `createKubernetesDriver` (shared/runtime/kubernetes.ts). */
  kubernetes?: unknown;
  /** Options of `createFlyDriver` (shared/runtime/fly.ts). */
  fly?: unknown;
}

/**
 * Creates the runtime driver named by `config.driver` with that driver's options.
 * @throws DriverError `not_configured` naming the bad value and the valid ones, or a driver's own missing option.
 */
export function createDriver(config: DriverConfig): RuntimeDriver {
  switch (config.driver) {
    case 'local':
      if (!config.local) {
        throw new DriverError('local', 'not_configured', 'driver "local" needs config.local options, at least { dataDir: ".data/runtime" }');
      }
      return createLocalDriver(config.local);
    // A new driver file gets its case here and its name in DRIVER_NAMES; registry.test.ts fails until it does.
    case 'cloud-run':
      return createCloudRunDriver(config.cloudRun as CloudRunDriverOptions);
    case 'kubernetes':
      return createKubernetesDriver(config.kubernetes as KubernetesDriverOptions);
    case 'fly':
      return createFlyDriver(config.fly as FlyDriverOptions);
    default:
      throw new DriverError(
        String(config.driver),
        'not_configured',
        `unknown runtime driver ${JSON.stringify(config.driver)}; valid drivers are ${DRIVER_NAMES.map((n) => `"${n}"`).join(', ')}`,
      );
  }
}
