/**
 * The audit trail (R-AUDIT-1): every request that changes state, through the
 * API, the CLI, the web pages, the chat or a payment webhook, is recorded in
 * `audit/{id}` with who asked, from where, through which path, about what, and
 * how it ended. Admins read every entry; a user reads the entries they made and
 * those about their own tenants and projects.
 */
import { randomUUID } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import type { Principal } from '../auth/principal.ts';
import { AppError } from '../errors.ts';

/** Which path a request came through: the CLI and the pages say so in `X-Tenantplane-Client`; anything else is the API. */
export type AuditSource = 'api' | 'cli' | 'web' | 'chat' | 'webhook';

export interface AuditEntry {
  id: string;
  at: string;
  /** The caller's uid (or `system:<provider>` for a webhook); absent for anonymous calls. */
  actorId?: string;
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

const SOURCES: readonly AuditSource[] = ['api', 'cli', 'web', 'chat', 'webhook'];

/** The source a client declares, limited to the known ones. */
export const auditSource = (declared: string | undefined): AuditSource =>
  SOURCES.includes(declared as AuditSource) && declared !== 'chat' && declared !== 'webhook' ? (declared as AuditSource) : 'api';

/** Records one entry; an audit write that fails is logged by the caller, never turned into the request's failure. */
export async function recordAudit(db: Firestore, entry: Omit<AuditEntry, 'id' | 'at'>, now: Date): Promise<void> {
  const id = `${now.toISOString()}-${randomUUID().slice(0, 8)}`;
  await db.doc(`audit/${id}`).set(JSON.parse(JSON.stringify({ ...entry, id, at: now.toISOString() })));
}

export interface AuditPage {
  entries: AuditEntry[];
  nextPageToken?: string;
}

/**
 * Newest first. Admins see everything (optionally one actor's or one tenant's
 * entries); others see the entries they made or that concern what they own.
 */
export async function listAudit(
  db: Firestore,
  p: Principal,
  options: { pageSize?: number; pageToken?: string; tenantId?: string } = {},
): Promise<AuditPage> {
  const pageSize = Math.min(Math.max(Number(options.pageSize) || 50, 1), 200);
  if (options.pageToken !== undefined && !/^\d{4}-\d{2}-\d{2}T[\d:.]+Z-[0-9a-f]{8}$/.test(options.pageToken)) {
    throw new AppError('invalid_request', 'The pageToken is not valid; use the nextPageToken of a previous page.');
  }
  const base = () => {
    // By the stored id (time first), not the document key: Firestore scans keys only ascending.
    let q = db.collection('audit').orderBy('id', 'desc');
    if (options.tenantId) q = q.where('target.id', '==', options.tenantId);
    if (options.pageToken) q = q.startAfter(options.pageToken);
    return q.limit(pageSize + 1);
  };
  let docs: AuditEntry[];
  if (p.role === 'admin') {
    docs = (await base().get()).docs.map((d) => d.data() as AuditEntry);
  } else {
    // Two queries (what I did, what was done to mine), merged newest first.
    const [mine, about] = await Promise.all([base().where('actorId', '==', p.uid).get(), base().where('ownerId', '==', p.uid).get()]);
    const byId = new Map([...mine.docs, ...about.docs].map((d) => [d.id, d.data() as AuditEntry]));
    docs = [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  }
  const entries = docs.slice(0, pageSize);
  return { entries, nextPageToken: docs.length > pageSize ? entries.at(-1)?.id : undefined };
}
