/**
 * Receiving payment webhooks (R-PLANS-1): verify, dedupe, act on the tenant.
 *
 * - `webhookEvents/{provider:eventId}` is created in a transaction before anything is
 *   done; a second delivery of a finished event answers `{duplicate: true}` and does
 *   nothing. `expiresAt` lets a Firestore TTL policy drop old ids.
 * - `webhookObjects/{provider:objectId}` keeps, per event type, the newest event applied
 *   ({at, eventId}): another event id of the same (object, type) that is not newer is a
 *   duplicate (providers may re-send one change under a new id), and an event older than
 *   the last one applied to the object is stale (deliveries arrive out of order). It also
 *   maps the subscription to its tenant.
 * - A failed attempt is marked `failed` and the error answered, so the provider retries and
 *   the retry runs again; an attempt still `processing` (< 60 s) answers 409 for the same reason.
 * Tenant actions are idempotent: creation uses a name derived from the subscription, so a
 * retried creation finds the first tenant instead of making a second.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Principal } from '../../auth/principal.ts';
import { AppError, conflict } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Tenant, TenantService } from '../../tenants/types.ts';
import { recordSubscription } from '../../tenants/entitlements.ts';
import type { WebhookEvent } from './types.ts';

export interface WebhookDeps {
  db: Firestore;
  now: () => Date;
  log: Logger;
  tenants: TenantService;
  /** Plans tenants may be created with. */
  plans: { id: string; providerPrices: Record<string, string | undefined> }[];
  eventTtlDays: number;
}

export type WebhookOutcome =
  | { received: true; duplicate: true }
  | { received: true; ignored: true; reason: string }
  | { received: true; action: 'activate' | 'suspend'; tenantId?: string; result: string };

const IN_PROGRESS_MS = 60_000;
const TENANT_NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;

type Claim = { kind: 'run' } | { kind: 'done'; outcome: WebhookOutcome };

/** Records the event (and its object) in one transaction; says whether to act. */
async function claimEvent(deps: WebhookDeps, event: WebhookEvent): Promise<Claim> {
  const { db } = deps;
  const now = deps.now();
  const eventRef = db.doc(`webhookEvents/${event.provider}:${event.eventId}`);
  const objectRef = event.objectId ? db.doc(`webhookObjects/${event.provider}:${event.objectId}`) : undefined;
  const base = {
    provider: event.provider,
    eventId: event.eventId,
    type: event.type,
    objectId: event.objectId ?? null,
    occurredAt: new Date(event.occurredAt).toISOString(),
    expiresAt: new Date(now.getTime() + deps.eventTtlDays * 86_400_000),
    updatedAt: now.toISOString(),
  };
  return db.runTransaction(async (tx) => {
    const [existing, object] = await Promise.all([
      tx.get(eventRef),
      objectRef && event.action !== 'ignore' ? tx.get(objectRef) : undefined,
    ]);
    const status = existing.get('status') as string | undefined;
    if (existing.exists && status !== 'failed') {
      const startedAt = Date.parse(String(existing.get('startedAt') ?? ''));
      if (status === 'processing' && now.getTime() - startedAt < IN_PROGRESS_MS) {
        throw conflict('This event is being processed; deliver it again later.', { eventId: event.eventId });
      }
      if (status !== 'processing') return { kind: 'done', outcome: { received: true, duplicate: true } };
    }
    const createdAt = (existing.get('createdAt') as string | undefined) ?? now.toISOString();
    if (event.action === 'ignore') {
      tx.set(eventRef, { ...base, createdAt, status: 'ignored', reason: 'not a subscription change we act on' });
      return {
        kind: 'done',
        outcome: {
          received: true,
          ignored: true,
          reason: `event type ${event.type} (${event.subscription?.status ?? 'no status'}) needs no action`,
        },
      };
    }
    // Event types contain dots, so read the map and index it (a dotted get() would walk nested fields).
    const seen = ((object?.get('types') ?? {}) as Record<string, { at: number; eventId: string }>)[event.type];
    if (seen && seen.eventId !== event.eventId && seen.at >= event.occurredAt) {
      tx.set(eventRef, { ...base, createdAt, status: 'duplicate', duplicateOf: seen.eventId });
      return { kind: 'done', outcome: { received: true, duplicate: true } };
    }
    const lastAppliedAt = (object?.get('lastAppliedAt') as number | undefined) ?? 0;
    if (lastAppliedAt > event.occurredAt) {
      tx.set(eventRef, { ...base, createdAt, status: 'stale' });
      return {
        kind: 'done',
        outcome: { received: true, ignored: true, reason: 'a newer event for this subscription was already applied' },
      };
    }
    tx.set(eventRef, { ...base, createdAt, status: 'processing', startedAt: now.toISOString() });
    if (objectRef)
      tx.set(
        objectRef,
        {
          provider: event.provider,
          objectId: event.objectId,
          types: { [event.type]: { at: event.occurredAt, eventId: event.eventId } },
          updatedAt: now.toISOString(),
        },
        { merge: true },
      );
    return { kind: 'run' };
  });
}

function resolvePlan(deps: WebhookDeps, event: WebhookEvent): string | undefined {
  const sub = event.subscription;
  if (sub?.plan && deps.plans.some((p) => p.id === sub.plan)) return sub.plan;
  return deps.plans.find((p) => sub?.priceId && p.providerPrices[event.provider] === sub.priceId)?.id;
}

/** The tenant's name: the buyer's choice when valid, else the plan plus the subscription id's tail (stable across retries). */
function tenantNameFor(event: WebhookEvent, plan: string | undefined): string {
  const chosen = event.subscription?.name?.toLowerCase();
  if (chosen && TENANT_NAME.test(chosen)) return chosen;
  const tail = (event.objectId ?? event.eventId)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(-12);
  return `${plan ?? 'site'}-${tail}`.slice(0, 30).replace(/-+$/, '');
}

async function findOwnedByName(tenants: TenantService, system: Principal, ownerId: string, name: string): Promise<Tenant | undefined> {
  let pageToken: string | undefined;
  do {
    const page = await tenants.list(system, { ownerId, pageSize: 100, pageToken });
    const found = page.items.find((t) => t.name === name);
    if (found) return found;
    pageToken = page.nextPageToken;
  } while (pageToken);
  return undefined;
}

async function loadTenant(tenants: TenantService, system: Principal, id: string | undefined): Promise<Tenant | undefined> {
  if (!id) return undefined;
  try {
    return await tenants.get(system, id);
  } catch (error) {
    if (error instanceof AppError && error.code === 'not_found') return undefined;
    throw error;
  }
}

/** The operation the tenant is running, if any (the service adds it to the tenant it returns). */
const inFlight = (tenant: Tenant) => (tenant as Tenant & { operation?: string }).operation;

/** Carries out a claimed event; returns what happened. */
async function applyEvent(deps: WebhookDeps, event: WebhookEvent): Promise<WebhookOutcome & { tenantId?: string }> {
  const system: Principal = { uid: `system:${event.provider}`, role: 'admin' };
  // An event without an object has no subscription to look up or remember: it stands alone.
  const objectRef = event.objectId ? deps.db.doc(`webhookObjects/${event.provider}:${event.objectId}`) : undefined;
  const object = objectRef ? await objectRef.get() : undefined;
  let tenant = await loadTenant(deps.tenants, system, object?.get('tenantId'));
  const action = event.action as 'activate' | 'suspend';
  const uid = event.subscription?.uid;
  const plan = resolvePlan(deps, event);
  // The subscription's state unlocks (or locks) its paid plan for the buyer's own tenants (R-PLAN-1).
  if (uid && plan && event.objectId) {
    await recordSubscription(deps.db, {
      provider: event.provider,
      subscriptionId: event.objectId,
      uid,
      plan,
      active: action === 'activate',
      at: deps.now(),
    });
  }
  let result: string;
  if (action === 'activate') {
    if (!tenant) {
      if (!uid)
        return {
          received: true,
          ignored: true,
          reason: 'the subscription carries no uid in its metadata / custom_data, so there is no owner',
        };
      const name = tenantNameFor(event, plan);
      try {
        tenant = await deps.tenants.create(system, { name, plan, ownerId: uid });
        result = 'created';
      } catch (error) {
        if (!(error instanceof AppError && error.status === 409)) throw error;
        tenant = await findOwnedByName(deps.tenants, system, uid, name);
        if (!tenant) throw error;
        result = 'already_created';
      }
      await objectRef?.set({ tenantId: tenant.id, ownerId: uid, plan: plan ?? null }, { merge: true });
    } else if (tenant.state === 'suspended' || inFlight(tenant) === 'suspend') {
      // A suspend still running answers 409; the error reaches the provider, which retries after it finished.
      tenant = await deps.tenants.resume(system, tenant.id);
      result = 'resumed';
    } else {
      result = `unchanged (${tenant.state})`;
    }
  } else if (!tenant) {
    result = 'no tenant for this subscription';
  } else if (
    (tenant.state === 'ready' && inFlight(tenant) !== 'suspend') ||
    tenant.state === 'provisioning' ||
    inFlight(tenant) === 'resume'
  ) {
    // Provisioning or a resume in flight answers 409 until done; the provider's retry then suspends.
    tenant = await deps.tenants.suspend(system, tenant.id);
    result = 'suspended';
  } else {
    result = `unchanged (${tenant.state})`;
  }
  return { received: true, action, tenantId: tenant?.id, result };
}

/** Dedupes and applies a verified, parsed event. Errors are recorded and rethrown so the provider retries. */
export async function handleWebhookEvent(deps: WebhookDeps, event: WebhookEvent): Promise<WebhookOutcome> {
  const claim = await claimEvent(deps, event);
  if (claim.kind === 'done') return claim.outcome;
  const eventRef = deps.db.doc(`webhookEvents/${event.provider}:${event.eventId}`);
  try {
    const outcome = await applyEvent(deps, event);
    const done =
      'result' in outcome
        ? { status: 'done', result: outcome.result, tenantId: outcome.tenantId ?? null }
        : { status: 'ignored', reason: (outcome as { reason: string }).reason };
    const batch = deps.db.batch();
    batch.update(eventRef, { ...done, updatedAt: deps.now().toISOString() });
    if ('result' in outcome && event.objectId) {
      const objectRef = deps.db.doc(`webhookObjects/${event.provider}:${event.objectId}`);
      const current = ((await objectRef.get()).get('lastAppliedAt') as number | undefined) ?? 0;
      batch.set(objectRef, { lastAppliedAt: Math.max(current, event.occurredAt) }, { merge: true });
    }
    await batch.commit();
    deps.log.info('webhook applied', { provider: event.provider, eventId: event.eventId, type: event.type, ...done });
    return outcome;
  } catch (error) {
    await eventRef.update({ status: 'failed', error: (error as Error).message, updatedAt: deps.now().toISOString() }).catch(() => {});
    throw error;
  }
}
