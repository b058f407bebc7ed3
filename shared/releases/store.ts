/**
 * The rollouts' Firestore data, spelled only here: `rollouts/{id}` (state,
 * waves, the step counter its tasks are named after, a lease), its
 * `targets/{tenantId-env}` (one per environment: status, previous image) and
 * `events/{seq}` (progress, streamed as SSE); and `tenantReleaseSettings/{tenantId}`
 * (a tenant's pin to a release and its rollout labels).
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { runGroupedTransaction } from '../store/transact.ts';
import { appendLog, listLog, watchLog } from '../store/event-log.ts';
import { stripUndefined } from '../store/plain.ts';
import type { EnvName } from '../tenants/types.ts';
import type { RolloutState, RolloutTarget, Strategy, TargetStatus, Wave } from './plan.ts';

export interface RolloutDoc {
  id: string;
  release: string;
  image: string;
  target: RolloutTarget;
  strategy: Strategy;
  state: RolloutState;
  /** Why it paused or failed, for people. */
  reason?: string;
  waves: Wave[];
  currentWave: number;
  /** Tenants left out at creation and why (pinned, suspended, …). */
  skipped: { tenantId: string; reason: string }[];
  /** Bumped by every task and action: the next task's name, so a stale or duplicated delivery is recognised. */
  step: number;
  lease: { holder: string; until: string } | null;
  eventSeq: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface TargetDoc {
  tenantId: string;
  ownerId: string;
  env: EnvName;
  wave: number;
  status: TargetStatus;
  /** What the environment ran before this rollout touched it: rollback puts it back. */
  previousImage?: string;
  previousRelease?: string | null;
  /** Holder and expiry of the claim of a delivery updating it; an expired claim is taken over. */
  claim?: { holder: string; until: string } | null;
  error?: string;
  updatedAt: string;
}

export interface RolloutEvent {
  id: string;
  type: string;
  message: string;
  at: string;
  wave?: number;
  tenantId?: string;
  env?: EnvName;
  data?: Record<string, unknown>;
}

export interface ReleaseSettings {
  /** Pinned tenants are left out of every rollout. */
  pin?: string | null;
  labels?: Record<string, string>;
  updatedAt?: string;
}

export const ROLLOUTS = 'rollouts';
export const rolloutPath = (id: string) => `${ROLLOUTS}/${id}`;
export const targetKey = (tenantId: string, env: string) => `${tenantId}-${env}`;
const targetPath = (id: string, key: string) => `${ROLLOUTS}/${id}/targets/${key}`;
const eventsPath = (id: string) => `${ROLLOUTS}/${id}/events`;
const settingsPath = (tenantId: string) => `tenantReleaseSettings/${tenantId}`;

export async function getRollout(db: Firestore, id: string, tx?: Transaction): Promise<RolloutDoc | undefined> {
  const ref = db.doc(rolloutPath(id));
  const snap = tx ? await tx.get(ref) : await ref.get();
  return snap.exists ? (snap.data() as RolloutDoc) : undefined;
}

/** Whether a rollout's task for `step` is still the one to run (the outbox sweeper re-enqueues only those). */
export async function isRolloutStepDue(db: Firestore, id: string, step: number): Promise<boolean> {
  const rollout = await getRollout(db, id);
  return Boolean(rollout && rollout.step === step && (rollout.state === 'running' || rollout.state === 'rolling_back'));
}

export async function listRollouts(db: Firestore, limit = 50): Promise<RolloutDoc[]> {
  const snap = await db.collection(ROLLOUTS).orderBy('createdAt', 'desc').limit(limit).get();
  return snap.docs.map((d) => d.data() as RolloutDoc);
}

/** `rolloutLocks/current`: the one rollout that may be active; a new one starts only once it has ended. */
export const rolloutLockPath = 'rolloutLocks/current';

/** Writes a new rollout in the caller's transaction. */
export function createRolloutDocs(db: Firestore, tx: Transaction, rollout: RolloutDoc): void {
  tx.create(db.doc(rolloutPath(rollout.id)), stripUndefined(rollout));
}

/** Writes a new rollout's targets in batches (a transaction holds 500 writes; a rollout may target more). */
export async function writeTargets(db: Firestore, id: string, targets: TargetDoc[]): Promise<void> {
  for (let i = 0; i < targets.length; i += 400) {
    const batch = db.batch();
    for (const t of targets.slice(i, i + 400)) batch.set(db.doc(targetPath(id, targetKey(t.tenantId, t.env))), stripUndefined(t));
    await batch.commit();
  }
}

export function updateRollout(db: Firestore, tx: Transaction, id: string, fields: Partial<RolloutDoc>): void {
  tx.update(db.doc(rolloutPath(id)), stripUndefined(fields) as Record<string, unknown>);
}

export async function listTargets(db: Firestore, id: string, wave?: number): Promise<TargetDoc[]> {
  let query = db.collection(`${ROLLOUTS}/${id}/targets`) as FirebaseFirestore.Query;
  if (wave !== undefined) query = query.where('wave', '==', wave);
  const snap = await query.get();
  return snap.docs.map((d) => d.data() as TargetDoc);
}

export async function getTarget(db: Firestore, id: string, key: string, tx?: Transaction): Promise<TargetDoc | undefined> {
  const ref = db.doc(targetPath(id, key));
  const snap = tx ? await tx.get(ref) : await ref.get();
  return snap.exists ? (snap.data() as TargetDoc) : undefined;
}

/** A healthy environment that failed the soak's health gate. */
export async function markTargetFailed(db: Firestore, id: string, key: string, error: string, now: Date): Promise<void> {
  await db.doc(targetPath(id, key)).update({ status: 'failed', error, updatedAt: now.toISOString() });
}

export function setTarget(db: Firestore, tx: Transaction, id: string, target: TargetDoc): void {
  tx.set(db.doc(targetPath(id, targetKey(target.tenantId, target.env))), stripUndefined(target));
}

/** Appends an event in a transaction that has read the rollout; returns the new sequence to store on it. */
export function appendRolloutEvent(
  db: Firestore,
  tx: Transaction,
  rollout: Pick<RolloutDoc, 'id' | 'eventSeq'>,
  event: Omit<RolloutEvent, 'id' | 'at'>,
  now: Date,
): number {
  return appendLog(db, tx, eventsPath(rollout.id), rollout.eventSeq, event, now);
}

/**
 * Appends one event on its own; retried by Firestore on contention. Stamped
 * once the rollout is read, so a write that waited behind others does not
 * carry an older time than the events before it in the stream.
 */
export async function recordRolloutEvent(
  db: Firestore,
  id: string,
  event: Omit<RolloutEvent, 'id' | 'at'>,
  now: () => Date,
): Promise<void> {
  // Grouped with this process's other appends to the rollout (a batch of environments updating at once), so they do not contend.
  await runGroupedTransaction(db, rolloutPath(id), event, async (tx, events) => {
    const rollout = await getRollout(db, id, tx);
    if (!rollout) return;
    let eventSeq = rollout.eventSeq;
    const at = now();
    for (const e of events) eventSeq = appendRolloutEvent(db, tx, { id, eventSeq }, e, at);
    tx.update(db.doc(rolloutPath(id)), { eventSeq });
  });
}

export function listRolloutEvents(db: Firestore, id: string, afterId?: string, limit = 1000): Promise<RolloutEvent[]> {
  return listLog<RolloutEvent>(db, eventsPath(id), afterId, limit);
}

/** Calls `onEvent` for each event after `afterId` as it is appended, until the returned function is called; `onReady` as watchLog. */
export function watchRolloutEvents(
  db: Firestore,
  id: string,
  afterId: string,
  onEvent: (event: RolloutEvent) => void,
  onError: (err: Error) => void,
  onReady?: () => void,
): () => void {
  return watchLog(db, eventsPath(id), afterId, onEvent, onError, onReady);
}

export async function getReleaseSettings(db: Firestore, tenantId: string): Promise<ReleaseSettings> {
  const snap = await db.doc(settingsPath(tenantId)).get();
  return snap.exists ? (snap.data() as ReleaseSettings) : {};
}

export async function getAllReleaseSettings(db: Firestore): Promise<Map<string, ReleaseSettings>> {
  const snap = await db.collection('tenantReleaseSettings').get();
  return new Map(snap.docs.map((d) => [d.id, d.data() as ReleaseSettings]));
}

export async function setReleaseSettings(db: Firestore, tenantId: string, settings: ReleaseSettings): Promise<void> {
  await db.doc(settingsPath(tenantId)).set(stripUndefined(settings));
}
