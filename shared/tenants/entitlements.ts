/**
 * Plans and what they entitle a user to (R-PLAN-1): how many tenants, which
 * environments, how much memory, and whether the plan must be paid for.
 *
 * - A user's tenant count per plan lives in `tenantCounts/{uid}` (`plans.<plan>`),
 *   read and written in the same transaction that creates the tenant, so two
 *   concurrent creations cannot both take the last slot. The provision worker
 *   gives the slot back when a deletion finishes.
 * - A paid plan needs an active subscription, recorded from the payment webhooks
 *   in `subscriptions/{provider:subscriptionId}` ({uid, plan, status}).
 * - Admins (and the webhooks, which act as the system) are not held to either:
 *   they create tenants for others on purpose.
 */
import type { DocumentSnapshot, Firestore, Transaction } from '@google-cloud/firestore';
import { firestore } from '../store/firestore-lib.ts';
import type { Principal } from '../auth/principal.ts';
import type { Plan } from '../billing/config.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { EnvName } from './types.ts';
import { tenantsOfOwner } from '../store/tenants.ts';

export const tenantCountsPath = (uid: string) => `tenantCounts/${uid}`;
export const subscriptionPath = (provider: string, subscriptionId: string) => `subscriptions/${provider}:${subscriptionId}`;

/** The configured plan named `id`; 400 naming the valid ones otherwise (prototype keys included). */
export function findPlan(config: Pick<Config, 'billing'>, id: string): Plan {
  const plan = config.billing.plans.find((p) => p.id === id);
  if (!plan) {
    const ids = config.billing.plans.map((p) => p.id);
    throw new AppError('validation_failed', `The request is not valid: plan: must be one of ${ids.join(', ')}.`, {
      fields: { plan: `must be one of ${ids.join(', ')}` },
    });
  }
  return plan;
}

const quotaExceeded = (plan: Plan, limit: string, message: string, details: Record<string, unknown>) =>
  new AppError('quota_exceeded', `${message} Upgrade the plan, or ask an admin.`, { plan: plan.id, limit, ...details });

/** 403 `quota_exceeded` when the environments or memory lie outside the plan (creation and changes alike). */
export function checkPlanShape(p: Principal, plan: Plan, request: { environments?: EnvName[]; memoryMb?: number }): void {
  if (p.role === 'admin') return;
  const outside = request.environments?.filter((e) => !plan.environments.includes(e)) ?? [];
  if (outside.length > 0) {
    throw quotaExceeded(
      plan,
      'environments',
      `The ${plan.name} plan includes only the ${plan.environments.join(', ')} environments, not ${outside.join(', ')}.`,
      { allowed: plan.environments },
    );
  }
  if (request.memoryMb !== undefined && request.memoryMb > plan.maxMemoryMb) {
    throw quotaExceeded(plan, 'memoryMb', `The ${plan.name} plan allows at most ${plan.maxMemoryMb} MB of memory per environment.`, {
      allowed: plan.maxMemoryMb,
    });
  }
}

/**
 * Inside the creating transaction, after its other reads: 402 when a paid plan
 * has no active subscription, 403 when the owner has used every tenant of the
 * plan; otherwise takes the slot.
 */
export async function claimTenantSlot(db: Firestore, tx: Transaction, p: Principal, ownerId: string, plan: Plan): Promise<void> {
  // One read after another: a transaction the emulator aborts mid-way fails its other reads with a code nobody retries.
  const slots = await openTenantSlots(db, tx, ownerId, await tx.get(db.doc(tenantCountsPath(ownerId))));
  await slots.claim(p, plan);
  slots.write();
}

export interface TenantSlots {
  /** Takes one slot of `plan` for a creation by `p`: 402 or 403 (thrown) when it cannot, and nothing taken. */
  claim(p: Principal, plan: Plan): Promise<void>;
  /** Writes the count with every slot claimed, if any; after the transaction's reads. */
  write(): void;
}

/**
 * The owner's tenant slots within one transaction that read `countsSnap`
 * (`tenantCounts/{ownerId}`): several creations of one group claim in turn,
 * each seeing the ones before it, and one write stores the count.
 */
export async function openTenantSlots(db: Firestore, tx: Transaction, ownerId: string, countsSnap: DocumentSnapshot): Promise<TenantSlots> {
  const { counts, exists } = await readCounts(db, ownerId, countsSnap);
  const subscribed = new Map<string, Promise<boolean>>();
  let claimed = false;
  return {
    async claim(p, plan) {
      const paid = plan.priceMonthly > 0 && p.role !== 'admin';
      if (paid && !subscribed.has(plan.id)) subscribed.set(plan.id, hasActiveSubscription(db, ownerId, plan.id));
      if (paid && !(await subscribed.get(plan.id))) {
        throw new AppError(
          'payment_required',
          `The ${plan.name} plan needs an active subscription: subscribe to it first, or choose a free plan.`,
          {
            plan: plan.id,
            checkout: '/api/v1/checkout',
          },
        );
      }
      const used = counts[plan.id] ?? 0;
      if (p.role !== 'admin' && used >= plan.tenants) {
        throw quotaExceeded(
          plan,
          'tenants',
          `The ${plan.name} plan allows ${plan.tenants} tenant${plan.tenants === 1 ? '' : 's'} per user, and you have ${used}.`,
          { allowed: plan.tenants, used },
        );
      }
      counts[plan.id] = used + 1;
      claimed = true;
    },
    write() {
      if (!claimed) return;
      const countsRef = db.doc(tenantCountsPath(ownerId));
      const written = { plans: { ...counts }, updatedAt: new Date().toISOString() };
      // `create` for a first count: a missing document is not locked, so of two first creations one must fail and retry.
      if (exists) tx.update(countsRef, written);
      else tx.create(countsRef, written);
    },
  };
}

/** The owner's tenant count per plan; rebuilt from the tenants themselves when no count was kept yet. */
async function readCounts(
  db: Firestore,
  ownerId: string,
  snap: DocumentSnapshot,
): Promise<{ counts: Record<string, number>; exists: boolean }> {
  if (snap.exists) return { counts: { ...(snap.get('plans') as Record<string, number> | undefined) }, exists: true };
  // Outside the transaction: a query there would lock tenants the worker is writing, and the emulator then kills the
  // transaction with an error nobody retries. Exclusivity comes from creating the count document instead.
  const counts: Record<string, number> = {};
  for (const tenant of await tenantsOfOwner(db, ownerId)) {
    if (tenant.state === 'deleted') continue;
    const plan = String(tenant.plan);
    counts[plan] = (counts[plan] ?? 0) + 1;
  }
  return { counts, exists: false };
}

/** Read outside the transaction for the same reason as the fallback count; a subscription is not contended. */
async function hasActiveSubscription(db: Firestore, uid: string, plan: string): Promise<boolean> {
  const query = db.collection('subscriptions').where('uid', '==', uid).where('plan', '==', plan).where('status', '==', 'active').limit(1);
  return !(await query.get()).empty;
}

/**
 * Gives a deleted tenant's slot back. Call before the transaction's writes
 * (it reads); returns the write to run with them.
 */
export async function releaseTenantSlot(db: Firestore, tx: Transaction, tenant: { ownerId: string; plan: string }): Promise<() => void> {
  const ref = db.doc(tenantCountsPath(tenant.ownerId));
  const snap = await tx.get(ref);
  const used = (snap.get(`plans.${tenant.plan}`) as number | undefined) ?? 0;
  return () => {
    if (snap.exists && used > 0)
      tx.update(ref, { [`plans.${tenant.plan}`]: firestore().FieldValue.increment(-1), updatedAt: new Date().toISOString() });
  };
}

/** Records a subscription's state from a verified payment webhook, so paid plans unlock for its user. */
export async function recordSubscription(
  db: Firestore,
  input: { provider: string; subscriptionId: string; uid: string; plan: string; active: boolean; at: Date },
): Promise<void> {
  await db.doc(subscriptionPath(input.provider, input.subscriptionId)).set(
    {
      provider: input.provider,
      subscriptionId: input.subscriptionId,
      uid: input.uid,
      plan: input.plan,
      status: input.active ? 'active' : 'inactive',
      updatedAt: input.at.toISOString(),
    },
    { merge: true },
  );
}
