/**
 * Firestore layout of per-user projects (R-PROJECTS-1): `users/{uid}/projects/{projectId}`
 * holds exactly the SPEC's record. `projectIds/{projectId}` reserves an id for
 * one user: the id names the project's runtime environment, and only the
 * Kubernetes driver scopes names by user (the local, Cloud Run and Fly drivers
 * do not), so two users' `demo` projects would otherwise share one environment.
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { AppError, conflict, notFound } from '../errors.ts';

export type ProjectStatus = 'inactive' | 'activating' | 'active' | 'deactivating' | 'failed';
export const PROJECT_STATUSES: readonly ProjectStatus[] = ['inactive', 'activating', 'active', 'deactivating', 'failed'];

/** The stored and shown project record; exactly the SPEC fields. Times are ISO-8601. */
export interface ProjectRecord {
  user_id: string;
  project_id: string;
  name: string;
  namespace: string;
  deployment: string;
  service: string;
  ingress: string;
  status: ProjectStatus;
  /** Where the project's environment answers while active; null otherwise. */
  endpoint: string | null;
  created_at: string;
  updated_at: string;
}

export const projectPath = (uid: string, projectId: string) => `users/${uid}/projects/${projectId}`;
export const projectIdPath = (projectId: string) => `projectIds/${projectId}`;

export async function getProject(db: Firestore, uid: string, projectId: string, tx?: Transaction): Promise<ProjectRecord | undefined> {
  const ref = db.doc(projectPath(uid, projectId));
  const snap = tx ? await tx.get(ref) : await ref.get();
  return snap.exists ? (snap.data() as ProjectRecord) : undefined;
}

/** A user's projects ordered by id; `pageToken` is the last id of the previous page. */
export async function listProjects(
  db: Firestore,
  uid: string,
  options: { pageSize: number; pageToken?: string },
): Promise<{ items: ProjectRecord[]; nextPageToken?: string }> {
  let query = db
    .collection(`users/${uid}/projects`)
    .orderBy('project_id')
    .limit(options.pageSize + 1);
  if (options.pageToken) query = query.startAfter(options.pageToken);
  const docs = (await query.get()).docs.map((d) => d.data() as ProjectRecord);
  const items = docs.slice(0, options.pageSize);
  return { items, nextPageToken: docs.length > options.pageSize ? items.at(-1)?.project_id : undefined };
}

/** Stores a new project and reserves its id; 409 when the user has it already or another user holds the id. */
export async function insertProject(db: Firestore, record: ProjectRecord): Promise<void> {
  await db.runTransaction(async (tx) => {
    const reservation = db.doc(projectIdPath(record.project_id));
    const [mine, held] = await Promise.all([tx.get(db.doc(projectPath(record.user_id, record.project_id))), tx.get(reservation)]);
    if (mine.exists) throw conflict(`A project "${record.project_id}" already exists for this user.`, { field: 'project_id' });
    if (held.exists && held.data()?.user_id !== record.user_id) {
      throw conflict(
        `The project id "${record.project_id}" is taken: project ids name the project's environment and are unique across the platform; choose another.`,
        { field: 'project_id' },
      );
    }
    tx.set(reservation, { user_id: record.user_id, project_id: record.project_id, created_at: record.created_at });
    tx.create(db.doc(projectPath(record.user_id, record.project_id)), record);
  });
}

/**
 * Reads a project and writes the fields `change` returns, in one transaction.
 * `change` may throw (an illegal transition) to write nothing. 404 for an unknown project.
 */
export async function updateProject(
  db: Firestore,
  uid: string,
  projectId: string,
  change: (current: ProjectRecord) => Partial<ProjectRecord> | undefined,
): Promise<ProjectRecord> {
  return db.runTransaction(async (tx) => {
    const current = await getProject(db, uid, projectId, tx);
    if (!current) throw notFound(`Project ${projectId}`);
    const fields = change(current);
    if (!fields) return current;
    const next: ProjectRecord = { ...current, ...fields };
    tx.set(db.doc(projectPath(uid, projectId)), next);
    return next;
  });
}

/** Removes the record and releases the id (when this user holds it). Safe to repeat. */
export async function deleteProjectRecord(db: Firestore, uid: string, projectId: string): Promise<void> {
  await db.runTransaction(async (tx) => {
    const reservation = db.doc(projectIdPath(projectId));
    const held = await tx.get(reservation);
    if (held.exists && held.data()?.user_id === uid) tx.delete(reservation);
    tx.delete(db.doc(projectPath(uid, projectId)));
  });
}

/** Thrown when a project is busy with another operation. */
export function projectBusy(record: ProjectRecord, action: string): AppError {
  return new AppError('conflict', `Project ${record.project_id} is ${record.status}; wait for that to finish before you ${action} it.`, {
    status: record.status,
    action,
  });
}
