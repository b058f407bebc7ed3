/**
 * Admin user endpoints (R-USERS-1): list users (the Firestore user directory:
 * `q` = email prefix or whole uid, `role`, `sort` = email|-email|createdAt|-createdAt,
 * `pageSize`, `pageToken`; with `total`), read
 * one (admins, or the user themself), and set a role in custom claims. The
 * role reaches the user with their next ID token.
 */
import { ROLES, type Role } from '../../../shared/auth/principal.ts';
import type { Deps } from '../../../shared/deps.ts';
import { enumParam, pageSizeParam, textParam } from '../../../shared/store/table-query.ts';
import { changeUserRole, getUserRecord, listUserDirectory, toUserView, USER_SORTS } from '../../../shared/store/users.ts';
import { parseInput } from '../../../shared/tenants/validate.ts';
import { lazySchema } from '../../../shared/zod-lib.ts';
import { signedIn, type ApiRoute } from '../route.ts';

const U = '/api/v1/users/:uid';
const patchSchema = lazySchema((z) =>
  z.object({ role: z.enum(ROLES as [Role, ...Role[]], { message: `must be one of ${ROLES.join(', ')}` }) }).strict(),
);

export function userRoutes(deps: Deps): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/users',
      action: 'users.list',
      handler: async (ctx) => {
        const q = ctx.url.searchParams;
        const page = await listUserDirectory(deps.db, await deps.auth(), {
          q: textParam(q, 'q', 200),
          role: enumParam(q, 'role', ROLES),
          sort: enumParam(
            q,
            'sort',
            USER_SORTS.map((s) => s.key),
          ),
          // Auth's getUsers reads 100 users a call; a page of up to 1000 is ten calls.
          pageSize: pageSizeParam(q, 1000, 100),
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
