import type { Deps } from '../../shared/deps.ts';
import { createRouter } from '../../shared/http/router.ts';
import type { Handler } from '../../shared/http/wrap.ts';
import { checkHealth } from './health.ts';

/** The REST API: health now; tenants, users and projects join the route table as they land. */
export function createApiHandler(deps: Deps): Handler {
  return createRouter([
    {
      method: 'GET',
      path: '/api/health',
      handler: async () => {
        const health = await checkHealth(deps);
        return { status: health.status === 'ok' ? 200 : 503, body: health };
      },
    },
  ]);
}
