import type { Deps } from '../../../shared/deps.ts';
import { readFleetOverview } from '../../../shared/store/fleet.ts';
import type { ApiRoute } from '../route.ts';

/** The portal's fleet overview (admins): tenants by state, failing environments, launches and costs per day. */
export function fleetRoutes(deps: Deps): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/fleet',
      action: 'fleet.read',
      handler: async () => ({ body: await readFleetOverview(deps.db, deps.now()) }),
    },
  ];
}
