/**
 * The one place a runtime driver is chosen from configuration. Everything else
 * (provision worker, API, npm start) receives a `RuntimeDriver` and never
 * branches on the driver's name.
 */
import { createCloudRunDriver, type CloudRunDriverOptions } from './cloud-run/index.ts';
import { createFlyDriver, type FlyDriverOptions } from './fly/index.ts';
import { createKubernetesDriver, type KubernetesDriverOptions } from './kubernetes/index.ts';
import { createLocalDriver, type LocalDriverOptions } from './local/index.ts';
import { DriverError, type RuntimeDriver } from './types.ts';

export type { CloudRunDriverOptions } from './cloud-run/index.ts';
export type { FlyDriverOptions } from './fly/index.ts';
export type { KubernetesDriverOptions } from './kubernetes/index.ts';
export { createLocalDriver, type LocalDriver, type LocalDriverOptions, type LocalUsage } from './local/index.ts';
export * from './types.ts';

/** Names accepted by {@link createDriver}, in the order they are documented. */
export const DRIVER_NAMES = ['local', 'cloud-run', 'kubernetes', 'fly'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/**
 * Each driver's options, under the key the config gives them. A config reads
 * the variables of its chosen driver only, so the other drivers' options may
 * lack required fields: those are partial here, and each driver names the
 * missing option itself when created.
 */
export interface DriverOptionsMap {
  local?: LocalDriverOptions;
  cloudRun?: Partial<CloudRunDriverOptions>;
  kubernetes?: Partial<KubernetesDriverOptions>;
  fly?: Partial<FlyDriverOptions>;
}

export interface DriverConfig extends DriverOptionsMap {
  /** One of {@link DRIVER_NAMES}. */
  driver: string;
}

/**
 * Creates the runtime driver named by `config.driver` with that driver's options.
 * @throws DriverError `not_configured` naming the bad value and the valid ones, or a driver's own missing option.
 */
export function createDriver(config: DriverConfig): RuntimeDriver {
  switch (config.driver) {
    case 'local':
      if (!config.local) {
        throw new DriverError(
          'local',
          'not_configured',
          'driver "local" needs config.local options, at least { dataDir: ".data/runtime" }',
        );
      }
      return createLocalDriver(config.local);
    // A new driver folder gets its case here, its name in DRIVER_NAMES and its options in
    // DriverOptionsMap; registry.test.ts fails until it does. Each driver checks its own required options.
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
