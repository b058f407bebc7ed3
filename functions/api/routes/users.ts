/**
 * Admin user endpoints (R-USERS-1): list users (Firebase Auth's pages), read
 * one (admins, or the user themself), and set a role in custom claims. The
 * role reaches the user with their next ID token.
 */
import { z } from 'zod';
import { ROLES, type Role } from '../../../shared/auth/principal.ts';
import type { Deps } from '../../../shared/deps.ts';
import { AppError } from '../../../shared/errors.ts';
import { changeUserRole, getUserRecord, listUserPage, toUserView } from '../../../shared/store/users.ts';
import { parseInput } from '../../../shared/tenants/validate.ts';
import { signedIn, type ApiRoute } from '../route.ts';

const U = '/api/v1/users/:uid';
const patchSchema = z.object({ role: z.enum(ROLES as [Role, ...Role[]], { message: `must be one of ${ROLES.join(', ')}` }) }).strict();

/** Parses `pageSize` (1–1000, default 100): Auth's listUsers pages hold at most 1000 users. */
function parsePageSize(raw: string | null): number {
  if (raw === null) return 100;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) {
    throw new AppError('validation_failed', 'pageSize must be a number from 1 to 1000.', { field: 'pageSize' });
  }
  return Number(raw);
}

export function userRoutes(deps: Deps): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/users',
      action: 'users.list',
      handler: async (ctx) => {
        const q = ctx.url.searchParams;
        const page = await listUserPage(await deps.auth(), {
          pageSize: parsePageSize(q.get('pageSize')),
          pageToken: q.get('pageToken') || undefined,
        });
        return { body: page };
      },
    },
    {
      method: 'GET',
      path: U,
      action: 'users.read',
      resource: (ctx) => ({ ownerId: ctx.params.uid }),
      handler: async (ctx) => ({ body: { user: toUserView(await getUserRecord(await deps.auth(), ctx.params.uid)) } }),
    },
    {
      method: 'PATCH',
      path: U,
      action: 'users.update',
      handler: async (ctx, p) => {
        const { role } = parseInput(patchSchema, await ctx.json());
        const user = await changeUserRole({ db: deps.db, auth: await deps.auth(), now: deps.now }, signedIn(p), ctx.params.uid, role);
        ctx.log.info('user role set', { uid: user.uid, role });
        return { body: { user, note: "The role takes effect with the user's next ID token (sign in again, or refresh the token)." } };
      },
    },
  ];
}
