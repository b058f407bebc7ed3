/**
 * Activating, deactivating and removing a project's environment through the
 * runtime driver. Activation runs inside the request, bounded by
 * `config.provision.readyTimeoutMs`: a project is one environment that starts
 * in about a second locally and a few on a cluster, and the operator (and the
 * `/messages` proxy after it) wants the endpoint in the answer. A request that
 * dies mid-way leaves `activating`/`deactivating`; such a claim is stale after
 * the bound plus a minute, and the next call takes over. Driver steps are
 * idempotent, so taking over converges.
 */
import type { Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import { DriverError, type EnvironmentSpec, type RuntimeDriver } from '../runtime/types.ts';
import { deleteProjectRecord, getProject, projectBusy, updateProject, type ProjectRecord, type ProjectStatus } from '../store/projects.ts';
import { PROJECT_ENV, projectRef } from './names.ts';

const STALE_AFTER_EXTRA_MS = 60_000;
const PROJECT_MEMORY_MB = 512;

export interface ProjectLifecycle {
  /** Ensures the environment, deploys it at scale 1, waits until ready, stores the endpoint. */
  activate(uid: string, projectId: string): Promise<ProjectRecord>;
  /** Scales the environment to zero (data and names kept). Idempotent. */
  deactivate(uid: string, projectId: string): Promise<ProjectRecord>;
  /** Scales to zero, removes every resource, then the record. Idempotent. */
  remove(uid: string, projectId: string): Promise<void>;
}

/**
 * Builds the project lifecycle on the platform's deps: the runtime driver does
 * the work, the store keeps the project's status, and
 * `config.provision.readyTimeoutMs` bounds a request's wait for readiness.
 */
export function createProjectLifecycle(deps: Deps): ProjectLifecycle {
  const timeoutMs = deps.config.provision.readyTimeoutMs;
  const driver = () => deps.runtime();
  const now = () => deps.now().toISOString();

  /** True when another request is working on the project right now (not abandoned). */
  const isBusy = (record: ProjectRecord) =>
    (record.status === 'activating' || record.status === 'deactivating') &&
    deps.now().getTime() - Date.parse(record.updated_at) < timeoutMs + STALE_AFTER_EXTRA_MS;

  /** Moves the project to a transient status, remembering the claim (its updated_at) so a later takeover is noticed. */
  async function claim(uid: string, projectId: string, to: ProjectStatus, action: string, skip?: (r: ProjectRecord) => boolean) {
    let skipped = false;
    const record = await updateProject(deps.db, uid, projectId, (current) => {
      if (skip?.(current)) {
        skipped = true;
        return undefined;
      }
      if (isBusy(current)) throw projectBusy(current, action);
      return { status: to, updated_at: now() };
    });
    return { record, skipped };
  }

  /** Writes the outcome unless the project was deleted or another request took over meanwhile. */
  async function finish(claimed: ProjectRecord, fields: Partial<ProjectRecord>): Promise<ProjectRecord> {
    return updateProject(deps.db, claimed.user_id, claimed.project_id, (current) =>
      current.updated_at === claimed.updated_at && current.status === claimed.status ? { ...fields, updated_at: now() } : undefined,
    );
  }

  function specOf(record: ProjectRecord): EnvironmentSpec {
    return {
      ...projectRef(record.user_id, record.project_id),
      image: deps.config.registry.defaultImage,
      memoryMb: PROJECT_MEMORY_MB,
      vars: { PROJECT_ID: record.project_id, PROJECT_NAME: record.name },
      secrets: {},
      labels: { 'tenantplane-tenant-id': record.project_id, 'tenantplane-env': PROJECT_ENV, 'tenantplane-project': record.project_id },
    };
  }

  async function activate(uid: string, projectId: string): Promise<ProjectRecord> {
    const { record: claimed } = await claim(uid, projectId, 'activating', 'activate');
    const runtime = driver();
    const deadline = Date.now() + timeoutMs;
    try {
      const spec = specOf(claimed);
      const infra = await beforeDeadline(runtime.ensureInfrastructure(spec), deadline, claimed);
      await beforeDeadline(runtime.deploy(spec), deadline, claimed);
      const status = await runtime.waitReady(spec, { timeoutMs: Math.max(1000, deadline - Date.now()) });
      const endpoint = status.url ?? infra.url ?? null;
      return await finish(claimed, { status: 'active', endpoint });
    } catch (err) {
      await finish(claimed, { status: 'failed', endpoint: null }).catch(() => undefined);
      // A failed activation must not leave a workload running that the record says is not.
      await suspendQuietly(runtime, claimed).catch(() => undefined);
      throw toProjectError(err, claimed, runtime, 'activate', timeoutMs);
    }
  }

  async function deactivate(uid: string, projectId: string): Promise<ProjectRecord> {
    const { record: claimed, skipped } = await claim(uid, projectId, 'deactivating', 'deactivate', (r) => r.status === 'inactive');
    if (skipped) return claimed;
    const runtime = driver();
    try {
      await suspendQuietly(runtime, claimed);
    } catch (err) {
      await finish(claimed, { status: 'failed', endpoint: null }).catch(() => undefined);
      throw toProjectError(err, claimed, runtime, 'deactivate', timeoutMs);
    }
    return finish(claimed, { status: 'inactive', endpoint: null });
  }

  async function remove(uid: string, projectId: string): Promise<void> {
    // Only a record proves this user owns the environment: without one the id may already be another user's.
    if (!(await getProject(deps.db, uid, projectId))) return;
    let claimed: ProjectRecord;
    try {
      claimed = (await claim(uid, projectId, 'deactivating', 'delete')).record;
    } catch (err) {
      if (err instanceof AppError && err.code === 'not_found') return;
      throw err;
    }
    const runtime = driver();
    try {
      await suspendQuietly(runtime, claimed);
      await runtime.destroy(projectRef(uid, projectId));
    } catch (err) {
      await finish(claimed, { status: 'failed', endpoint: null }).catch(() => undefined);
      throw toProjectError(err, claimed, runtime, 'delete', timeoutMs);
    }
    await deleteProjectRecord(deps.db, uid, projectId);
  }

  return { activate, deactivate, remove };
}

/** Scale to zero; an environment that was never created has nothing to scale. */
async function suspendQuietly(runtime: RuntimeDriver, record: ProjectRecord): Promise<void> {
  try {
    await runtime.suspend(projectRef(record.user_id, record.project_id));
  } catch (err) {
    if (!(err instanceof DriverError && err.code === 'not_found')) throw err;
  }
}

class DeadlineExceeded extends Error {}

/** Driver steps other than waitReady take no timeout of their own; bound them by the activation's deadline. */
async function beforeDeadline<T>(work: Promise<T>, deadline: number, record: ProjectRecord): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineExceeded(`project ${record.project_id}: deadline passed`)),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}

/** Turns a driver failure into the API's answer: 504 on timeout, 501 unsupported, 503 otherwise; other errors stay bugs. */
function toProjectError(err: unknown, record: ProjectRecord, runtime: RuntimeDriver, action: string, timeoutMs: number): unknown {
  if (err instanceof AppError) return err;
  const id = record.project_id;
  const path = `/api/v1/users/${record.user_id}/projects/${id}`;
  const retry = action === 'delete' ? `DELETE ${path}` : `POST ${path}/${action}`;
  const details = { project_id: id, driver: runtime.name };
  if (err instanceof DeadlineExceeded || (err instanceof DriverError && err.code === 'timeout')) {
    const message = `Project ${id} did not become ready within ${Math.round(timeoutMs / 1000)} s on the ${runtime.name} runtime and is marked failed; retry with ${retry}.`;
    return new AppError('unavailable', message, details, { status: 504, cause: err });
  }
  if (err instanceof DriverError) {
    if (err.code === 'not_supported')
      return new AppError('not_supported', `The ${runtime.name} runtime cannot ${action} projects: ${err.message}`, details, {
        cause: err,
      });
    const message = `Could not ${action} project ${id} on the ${runtime.name} runtime: ${firstLine(err.message)} The project is marked failed; retry with ${retry}, or ask an operator to check the runtime.`;
    return new AppError('unavailable', message, { ...details, reason: err.code }, { cause: err });
  }
  return err;
}

const firstLine = (text: string) => {
  const line = text.split('\n')[0].trim();
  return /[.!?]$/.test(line) ? line : `${line}.`;
};
