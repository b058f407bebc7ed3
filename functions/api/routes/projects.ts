/**
 * Per-user projects (R-PROJECTS-1/2) under `/api/v1/users/:uid/projects`. The
 * edge checks the path's uid as the owner (tenants reach only their own;
 * admins any); the service checks it again.
 */
import type { Deps } from '../../../shared/deps.ts';
import { AppError } from '../../../shared/errors.ts';
import type { StreamGate } from '../../../shared/http/stream-gate.ts';
import type { Context } from '../../../shared/http/wrap.ts';
import { proxyMessages } from '../../../shared/projects/messages.ts';
import type { ProjectService } from '../../../shared/projects/service.ts';
import { signedIn, type ApiRoute } from '../route.ts';

const P = '/api/v1/users/:uid/projects';
const ONE = `${P}/:projectId`;
const owner = (ctx: Context) => ({ ownerId: ctx.params.uid });

export function projectRoutes(deps: Deps, projects: ProjectService, streams: StreamGate): ApiRoute[] {
  const one = (ctx: Context) => [ctx.params.uid, ctx.params.projectId] as const;
  return [
    {
      method: 'GET',
      path: P,
      action: 'projects.read',
      resource: owner,
      handler: async (ctx, p) => {
        const q = ctx.url.searchParams;
        const pageSize = q.get('pageSize');
        if (pageSize !== null && !/^\d{1,3}$/.test(pageSize))
          throw new AppError('validation_failed', 'pageSize must be a number from 1 to 200.', { field: 'pageSize' });
        const page = await projects.list(signedIn(p), ctx.params.uid, {
          pageSize: pageSize ? Number(pageSize) : undefined,
          pageToken: q.get('pageToken') || undefined,
        });
        return { body: { projects: page.items, nextPageToken: page.nextPageToken } };
      },
    },
    {
      method: 'POST',
      path: P,
      action: 'projects.write',
      resource: owner,
      handler: async (ctx, p) => {
        const project = await projects.create(signedIn(p), ctx.params.uid, await ctx.json());
        return {
          status: 201,
          body: { project },
          headers: { Location: `/api/v1/users/${encodeURIComponent(project.user_id)}/projects/${project.project_id}` },
        };
      },
    },
    {
      method: 'GET',
      path: ONE,
      action: 'projects.read',
      resource: owner,
      handler: async (ctx, p) => ({ body: { project: await projects.get(signedIn(p), ...one(ctx)) } }),
    },
    {
      method: 'PUT',
      path: ONE,
      action: 'projects.write',
      resource: owner,
      handler: async (ctx, p) => ({ body: { project: await projects.replace(signedIn(p), ...one(ctx), await ctx.json()) } }),
    },
    {
      method: 'DELETE',
      path: ONE,
      action: 'projects.write',
      resource: owner,
      handler: async (ctx, p) => {
        await projects.remove(signedIn(p), ...one(ctx));
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: `${ONE}/activate`,
      action: 'projects.operate',
      resource: owner,
      handler: async (ctx, p) => ({ body: { project: await projects.activate(signedIn(p), ...one(ctx)) } }),
    },
    {
      method: 'POST',
      path: `${ONE}/deactivate`,
      action: 'projects.operate',
      resource: owner,
      handler: async (ctx, p) => ({ body: { project: await projects.deactivate(signedIn(p), ...one(ctx)) } }),
    },
    {
      method: 'POST',
      path: `${ONE}/messages`,
      action: 'projects.operate',
      resource: owner,
      handler: async (ctx, p) => {
        const body = await ctx.json();
        const endpoint = await projects.messagesEndpoint(signedIn(p), ...one(ctx));
        // The caller's slot, not the project owner's: an admin talking to many agents is held to the cap like anyone.
        const release = streams.enter(signedIn(p).uid);
        try {
          await proxyMessages(ctx.res, endpoint, body, {
            requestId: ctx.requestId,
            log: ctx.log,
            heartbeatMs: deps.config.streams.heartbeatMs,
            deadlineMs: deps.config.streams.deadlineMs,
          });
        } finally {
          release();
        }
      },
    },
  ];
}
