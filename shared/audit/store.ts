/**
 * The audit trail (R-AUDIT-1): every request that changes state, through the
 * API, the CLI, the web pages, the chat or a payment webhook, is recorded in
 * `audit/{id}` with who asked, from where, through which path, about what, and
 * how it ended. Admins read every entry; a user reads the entries they made and
 * those about their own tenants and projects. No API edits or deletes an
 * entry; each carries `expireAt` (its time plus AUDIT_RETENTION_DAYS, default
 * 400), and the TTL policy scripts/setup.sh turns on deletes it after that.
 */
import { randomUUID } from 'node:crypto';
import type { Timestamp, Firestore, Query } from '@google-cloud/firestore';
import { firestore } from '../store/firestore-lib.ts';
import type { Principal } from '../auth/principal.ts';
import { AppError } from '../errors.ts';
import { stripUndefined } from '../store/plain.ts';

/**
 * Which path a change came through: the CLI and the pages say so in
 * `X-Tenantplane-Client` (anything else is the API); the chat, payment
 * webhooks, rollouts and the platform's own jobs (`system`) record themselves.
 */
export type AuditSource = 'api' | 'cli' | 'web' | 'chat' | 'webhook' | 'rollout' | 'system';

export interface AuditEntry {
  id: string;
  at: string;
  /** The caller's uid (`system:<provider>` for a webhook, `system:rollout` for a rollout's step); absent for anonymous calls. */
  actorId?: string;
  /** The caller's address (for a rollout: the admin who started it). */
  actorEmail?: string;
  actorRole?: string;
  source: AuditSource;
  /** `POST /api/v1/tenants/:id/suspend`, or the chat action's name. */
  action: string;
  target: { type: 'tenant' | 'user' | 'project' | 'platform'; id?: string };
  /** The owner of the target, so an owner sees what others (admins) did to their things. */
  ownerId?: string;
  requestId: string;
  ip?: string;
  outcome: { status: number; code?: string };
}

export const AUDIT_SOURCES: readonly AuditSource[] = ['api', 'cli', 'web', 'chat', 'webhook', 'rollout', 'system'];
/** What a client may declare itself as; the others are recorded by the code paths themselves. */
const DECLARABLE: readonly AuditSource[] = ['api', 'cli', 'web'];
export const DEFAULT_AUDIT_RETENTION_DAYS = 400;
const DAY_MS = 86_400_000;

/** The source a client declares, limited to the ones a client may claim. */
export const auditSource = (declared: string | undefined): AuditSource =>
  DECLARABLE.includes(declared as AuditSource) ? (declared as AuditSource) : 'api';

/**
 * Records one entry (create, never overwrite); an audit write that fails is
 * logged by the caller, never turned into the request's failure. `expireAt`
 * (a Firestore timestamp, as TTL policies require) is `now` plus the retention.
 */
export async function recordAudit(
  db: Firestore,
  entry: Omit<AuditEntry, 'id' | 'at'>,
  now: Date,
  retentionDays = DEFAULT_AUDIT_RETENTION_DAYS,
): Promise<void> {
  const id = `${now.toISOString()}-${randomUUID().slice(0, 8)}`;
  const data = stripUndefined({ ...entry, id, at: now.toISOString() });
  await db.doc(`audit/${id}`).create({ ...data, expireAt: firestore().Timestamp.fromMillis(now.getTime() + retentionDays * DAY_MS) });
}

/**
 * An entry for a change the platform's own jobs made (source `system`, actor
 * `system:<job>`): a nightly backup, a purge after the grace period. Never
 * throws: a lost entry is logged, the job goes on.
 */
export async function recordSystemAudit(
  deps: { db: Firestore; now: () => Date; log: { warn(message: string, fields?: Record<string, unknown>): void } },
  job: string,
  action: string,
  tenant: { id: string; ownerId: string },
  outcome: AuditEntry['outcome'],
  retentionDays?: number,
): Promise<void> {
  const now = deps.now();
  await recordAudit(
    deps.db,
    {
      actorId: `system:${job}`,
      actorRole: 'admin',
      source: 'system',
      action,
      target: { type: 'tenant', id: tenant.id },
      ownerId: tenant.ownerId,
      requestId: `${job}/${tenant.id}/${now.toISOString()}`,
      outcome,
    },
    now,
    retentionDays,
  ).catch((err: unknown) => deps.log.warn('audit entry not written', { err, job, tenantId: tenant.id }));
}

export interface AuditPage {
  entries: AuditEntry[];
  nextPageToken?: string;
}

export interface AuditQuery {
  pageSize?: number;
  pageToken?: string;
  tenantId?: string;
  /** A uid, or an address (contains `@`). */
  actor?: string;
  /** Exact action, e.g. `POST /api/v1/tenants/:id/suspend` or `DELETE_SITE`. */
  action?: string;
  source?: AuditSource;
  /** ISO times: entries at or after `from`, before `to`. */
  from?: string;
  to?: string;
}

/** The stored entry as the API shows it (`expireAt` as an ISO time). */
function toEntry(data: Record<string, unknown>): AuditEntry & { expireAt?: string } {
  const { expireAt, ...rest } = data as unknown as AuditEntry & { expireAt?: Timestamp };
  return { ...rest, ...(expireAt instanceof firestore().Timestamp ? { expireAt: expireAt.toDate().toISOString() } : {}) };
}

/**
 * Newest first. Admins see everything; others see the entries they made or
 * that concern what they own. Filters: tenant, actor, action, source, time
 * range (the entry id starts with its ISO time, so a range on it is a time range).
 */
export async function listAudit(db: Firestore, p: Principal, options: AuditQuery = {}): Promise<AuditPage> {
  const pageSize = Math.min(Math.max(Number(options.pageSize) || 50, 1), 200);
  if (options.pageToken !== undefined && !/^\d{4}-\d{2}-\d{2}T[\d:.]+Z-[0-9a-f]{8}$/.test(options.pageToken)) {
    throw new AppError('invalid_request', 'The pageToken is not valid; use the nextPageToken of a previous page.', { field: 'pageToken' });
  }
  const base = () => {
    // By the stored id (time first), not the document key: Firestore scans keys only ascending.
    let q: Query = db.collection('audit');
    if (options.tenantId) q = q.where('target.id', '==', options.tenantId);
    if (options.actor) q = q.where(options.actor.includes('@') ? 'actorEmail' : 'actorId', '==', options.actor);
    if (options.action) q = q.where('action', '==', options.action);
    if (options.source) q = q.where('source', '==', options.source);
    if (options.from) q = q.where('id', '>=', options.from);
    if (options.to) q = q.where('id', '<', options.to);
    q = q.orderBy('id', 'desc');
    if (options.pageToken) q = q.startAfter(options.pageToken);
    return q.limit(pageSize + 1);
  };
  let docs: AuditEntry[];
  if (p.role === 'admin') {
    docs = (await base().get()).docs.map((d) => toEntry(d.data()));
  } else {
    // Two queries (what I did, what was done to mine), merged newest first.
    const [mine, about] = await Promise.all([base().where('actorId', '==', p.uid).get(), base().where('ownerId', '==', p.uid).get()]);
    const byId = new Map([...mine.docs, ...about.docs].map((d) => [d.id, toEntry(d.data())]));
    docs = [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  }
  const entries = docs.slice(0, pageSize);
  return { entries, nextPageToken: docs.length > pageSize ? entries.at(-1)?.id : undefined };
}
