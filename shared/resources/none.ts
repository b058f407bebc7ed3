/** The driver of platforms that give environments no data resources (RESOURCES_DRIVER=none): it says so and pretends nothing. */
import { ResourceError, type ResourceDriver } from './types.ts';

export function createNoResources(): ResourceDriver {
  const refuse = async (): Promise<never> => {
    throw new ResourceError('none', 'not_supported', 'no resources driver is configured (set RESOURCES_DRIVER and its server variables)');
  };
  return {
    name: 'none',
    flags: { database: false, bucket: false, backups: false },
    ensureDatabase: refuse,
    rotateDatabasePassword: refuse,
    dropDatabase: async () => undefined,
    removeDatabase: async () => undefined,
    ensureBucket: refuse,
    removeBucket: async () => undefined,
  };
}
