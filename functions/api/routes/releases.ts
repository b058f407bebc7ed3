import type { Deps } from '../../../shared/deps.ts';
import type { StreamGate } from '../../../shared/http/stream-gate.ts';
import { ROLLOUT_ACTIONS, type RolloutAction } from '../../../shared/releases/plan.ts';
import { createRelease, listReleases } from '../../../shared/releases/releases.ts';
import {
  actOnRollout,
  createRollout,
  listAllRollouts,
  readReleaseSettings,
  readRollout,
  updateReleaseSettings,
} from '../../../shared/releases/rollouts.ts';
import { listRolloutEvents, watchRolloutEvents, type RolloutEvent } from '../../../shared/releases/store.ts';
import { signedIn, type ApiRoute } from '../route.ts';
import { streamSequencedEvents } from './events.ts';

const R = '/api/v1/rollouts/:rolloutId';

/** Releases and rollouts (R-REL-1, R-ROLL-1), all for admins; a rollout's progress streams as SSE on the api function's own URL. */
export function releaseRoutes(deps: Deps, streams: StreamGate): ApiRoute[] {
  const action = (name: RolloutAction): ApiRoute => ({
    method: 'POST',
    path: `${R}/${name}`,
    action: 'rollouts.write',
    handler: async (ctx, p) => ({ body: { rollout: await actOnRollout(deps, signedIn(p), ctx.params.rolloutId, name) } }),
  });
  return [
    {
      method: 'POST',
      path: '/api/v1/releases',
      action: 'releases.write',
      handler: async (ctx, p) => {
        const { release, created } = await createRelease(deps, signedIn(p), await ctx.json());
        return { status: created ? 201 : 200, body: { release } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/releases',
      action: 'releases.read',
      handler: async (_ctx, p) => ({ body: { releases: await listReleases(deps, signedIn(p)) } }),
    },
    {
      method: 'POST',
      path: '/api/v1/rollouts',
      action: 'rollouts.write',
      handler: async (ctx, p) => {
        const { rollout, created } = await createRollout(deps, signedIn(p), await ctx.json());
        return { status: created ? 202 : 200, body: { rollout }, headers: { Location: `/api/v1/rollouts/${rollout.id}` } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/rollouts',
      action: 'rollouts.read',
      handler: async (_ctx, p) => ({ body: { rollouts: await listAllRollouts(deps, signedIn(p)) } }),
    },
    {
      method: 'GET',
      path: R,
      action: 'rollouts.read',
      handler: async (ctx, p) => ({ body: { rollout: await readRollout(deps, signedIn(p), ctx.params.rolloutId) } }),
    },
    ...(Object.keys(ROLLOUT_ACTIONS) as RolloutAction[]).map(action),
    {
      method: 'GET',
      path: `${R}/events`,
      action: 'rollouts.read',
      handler: async (ctx, p) => {
        const principal = signedIn(p);
        const id = ctx.params.rolloutId;
        await readRollout(deps, principal, id); // 404 before the stream opens
        await streamSequencedEvents<RolloutEvent>(deps, streams, ctx, principal, {
          history: (afterId) => listRolloutEvents(deps.db, id, afterId),
          watch: (afterId, onEvent, onError, onReady) => watchRolloutEvents(deps.db, id, afterId, onEvent, onError, onReady),
          logFields: { rolloutId: id },
        });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/tenants/:id/release-settings',
      action: 'rollouts.read',
      handler: async (ctx, p) => ({ body: { settings: await readReleaseSettings(deps, signedIn(p), ctx.params.id) } }),
    },
    {
      method: 'PUT',
      path: '/api/v1/tenants/:id/release-settings',
      action: 'rollouts.write',
      handler: async (ctx, p) => ({ body: { settings: await updateReleaseSettings(deps, signedIn(p), ctx.params.id, await ctx.json()) } }),
    },
  ];
}
