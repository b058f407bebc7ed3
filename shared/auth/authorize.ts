/**
 * The one place that decides who may do what. Routes name an action; the
 * edge checks it before the handler runs, and the service layer checks it
 * again against the loaded resource (ownership), with this same function.
 */
import { forbidden, notFound, unauthenticated } from '../errors.ts';
import type { Principal } from './principal.ts';

/** public: anyone · user: any signed-in user · owner: the resource's owner or an admin · admin: admins only. */
export type Rule = 'public' | 'user' | 'owner' | 'admin';

export const POLICY = {
  'health.read': 'public',
  /** The web pages' sign-in settings (GET /api/config). */
  'config.read': 'public',
  'plans.read': 'public',
  'webhooks.receive': 'public',
  'tenants.create': 'user',
  'tenants.list': 'user',
  'tenants.read': 'owner',
  'tenants.update': 'owner',
  'tenants.delete': 'owner',
  'tenants.operate': 'owner',
  'tenants.deploy': 'owner',
  'tenants.secrets': 'owner',
  'tenants.billing': 'owner',
  /** Choosing another owner or a runtime driver for a tenant. */
  'tenants.admin': 'admin',
  'checkout.create': 'user',
  'billing.aggregate': 'admin',
  'users.list': 'admin',
  'users.read': 'owner',
  'users.update': 'admin',
  /** The portal's fleet overview (counts, failing environments, launches and costs per day). */
  'fleet.read': 'admin',
  'projects.read': 'owner',
  'projects.write': 'owner',
  'projects.operate': 'owner',
  'chat.use': 'user',
  /** The audit trail: the service filters what a non-admin sees (their own entries and those about what they own). */
  'audit.read': 'user',
  /** CLI sign-in with a device code: starting and polling are public, approving (or denying) needs a signed-in user. */
  'device.start': 'public',
  'device.poll': 'public',
  'device.approve': 'user',
  /** Revoking the caller's own refresh tokens (`tenantplane logout`). */
  'session.revoke': 'user',
  /** Local images, releases and rollouts are the platform's: admins only. */
  'images.write': 'admin',
  'images.read': 'admin',
  'releases.write': 'admin',
  'releases.read': 'admin',
  'rollouts.write': 'admin',
  'rollouts.read': 'admin',
} as const satisfies Record<string, Rule>;

export type Action = keyof typeof POLICY;

/**
 * Throws 401 when a signed-in caller is needed and missing, 403 when the
 * caller may not act. `resource.ownerId` is checked for `owner` rules when given.
 */
export function authorize(principal: Principal | null | undefined, action: Action, resource?: { ownerId?: string }): void {
  const rule: Rule = POLICY[action];
  if (rule === 'public') return;
  if (!principal) throw unauthenticated();
  if (principal.role === 'admin') return;
  if (rule === 'admin') throw forbidden('Only admins may do this.');
  if (rule === 'owner' && resource && resource.ownerId !== principal.uid) throw forbidden('You do not own this resource.');
}

/**
 * `authorize` for a resource whose existence is private (a tenant): when the
 * caller does not own it, the answer is the 404 of a resource that does not
 * exist, so nobody learns which ids are taken (R-ISO-3).
 */
export function authorizeHidden(
  principal: Principal | null | undefined,
  action: Action,
  resource: { ownerId?: string },
  what: string,
): void {
  if (POLICY[action] === 'owner' && principal && principal.role !== 'admin' && resource.ownerId !== principal.uid) throw notFound(what);
  authorize(principal, action, resource);
}

/** True when `authorize` would pass. */
export function isAllowed(principal: Principal | null | undefined, action: Action, resource?: { ownerId?: string }): boolean {
  try {
    authorize(principal, action, resource);
    return true;
  } catch {
    return false;
  }
}
