/**
 * The projects service layer (R-PROJECTS-1/2): a user's projects, each one
 * isolated environment activated and deactivated on demand. Every method
 * authorizes against the project's owner (the `uid` of the path), so the
 * service is safe to call from the API, the chat or a script alike.
 */
import { authorize, type Action } from '../auth/authorize.ts';
import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { AppError, notFound } from '../errors.ts';
import { getProject, insertProject, listProjects, updateProject, type ProjectRecord } from '../store/projects.ts';
import { getUserRecord, isValidUid } from '../store/users.ts';
import { parseInput } from '../tenants/validate.ts';
import { lazySchema } from '../zod-lib.ts';
import type { Page } from '../tenants/types.ts';
import { createProjectLifecycle } from './lifecycle.ts';
import { PROJECT_ID, projectResourceNames } from './names.ts';

export type { ProjectRecord, ProjectStatus } from '../store/projects.ts';

const projectName = lazySchema((z) => z.string().trim().min(1, 'must not be empty').max(80, 'use at most 80 characters'));
const projectId = lazySchema((z) =>
  z.string().regex(PROJECT_ID, 'use 3–30 lowercase letters, digits or dashes, starting with a letter and not ending with a dash'),
);

const createSchema = lazySchema((z) =>
  z
    .object({ project_id: projectId().optional(), projectId: projectId().optional(), name: projectName().optional() })
    .strict()
    .refine((v) => v.project_id ?? v.projectId ?? v.name, {
      message: 'is required (or send a name to derive it from)',
      path: ['project_id'],
    })
    .refine((v) => !(v.project_id && v.projectId && v.project_id !== v.projectId), {
      message: 'project_id and projectId differ; send one',
      path: ['project_id'],
    }),
);

const READ_ONLY = [
  'user_id',
  'project_id',
  'namespace',
  'deployment',
  'service',
  'ingress',
  'status',
  'endpoint',
  'created_at',
  'updated_at',
] as const;
const replaceSchema = lazySchema((z) => z.object({ name: projectName() }).strict());

export interface ProjectService {
  list(p: Principal, uid: string, options?: { pageSize?: number; pageToken?: string }): Promise<Page<ProjectRecord>>;
  create(p: Principal, uid: string, input: unknown): Promise<ProjectRecord>;
  get(p: Principal, uid: string, projectId: string): Promise<ProjectRecord>;
  /** PUT: replaces what a caller may set (the name); read-only fields are refused. */
  replace(p: Principal, uid: string, projectId: string, input: unknown): Promise<ProjectRecord>;
  remove(p: Principal, uid: string, projectId: string): Promise<void>;
  activate(p: Principal, uid: string, projectId: string): Promise<ProjectRecord>;
  deactivate(p: Principal, uid: string, projectId: string): Promise<ProjectRecord>;
  /** The endpoint of an active project for the `/messages` proxy; 409 when the project is not active. */
  messagesEndpoint(p: Principal, uid: string, projectId: string): Promise<string>;
}

/** A project id from a display name ("My Agent" → "my-agent"), for callers that only name the project. */
export function deriveProjectId(name: string): string {
  let id = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '');
  if (!/^[a-z]/.test(id)) id = `p-${id}`;
  id = id.slice(0, 30).replace(/-+$/, '');
  if (!PROJECT_ID.test(id)) {
    throw new AppError(
      'validation_failed',
      `The request is not valid: project_id: cannot be made from the name "${name}"; send a project_id of 3–30 lowercase letters, digits or dashes.`,
      { fields: { project_id: 'is required' } },
    );
  }
  return id;
}

/**
 * Builds the projects service on the platform's deps. Each method authorizes
 * the caller against the project's owner itself, so the API, the chat and
 * scripts can all call it without their own checks.
 */
export function createProjectService(deps: Deps): ProjectService {
  const lifecycle = createProjectLifecycle(deps);

  function check(p: Principal, action: Action, uid: string): void {
    authorize(p, action, { ownerId: uid });
    if (!isValidUid(uid)) throw notFound(`User ${uid}`);
  }

  async function load(p: Principal, action: Action, uid: string, id: string): Promise<ProjectRecord> {
    check(p, action, uid);
    const record = PROJECT_ID.test(id) ? await getProject(deps.db, uid, id) : undefined;
    if (!record) throw notFound(`Project ${id}`);
    return record;
  }

  return {
    async list(p, uid, options = {}) {
      check(p, 'projects.read', uid);
      const pageSize = Math.min(Math.max(Math.trunc(Number(options.pageSize)) || 50, 1), 200);
      if (options.pageToken !== undefined && !PROJECT_ID.test(options.pageToken)) {
        throw new AppError('validation_failed', 'pageToken is not valid: pass the nextPageToken of the previous page unchanged.', {
          field: 'pageToken',
        });
      }
      return listProjects(deps.db, uid, { pageSize, pageToken: options.pageToken });
    },

    async create(p, uid, raw) {
      check(p, 'projects.write', uid);
      const input = parseInput(createSchema, raw);
      const id = input.project_id ?? input.projectId ?? deriveProjectId(input.name!);
      // Projects belong to real users; an admin's typo in the uid must not create an orphan.
      if (uid !== p.uid) await getUserRecord(await deps.auth(), uid);
      const at = deps.now().toISOString();
      const record: ProjectRecord = {
        user_id: uid,
        project_id: id,
        name: input.name ?? id,
        ...projectResourceNames(uid, id),
        status: 'inactive',
        endpoint: null,
        created_at: at,
        updated_at: at,
      };
      await insertProject(deps.db, record);
      deps.log.info('project created', { uid, projectId: id });
      return record;
    },

    get: (p, uid, id) => load(p, 'projects.read', uid, id),

    async replace(p, uid, id, raw) {
      await load(p, 'projects.write', uid, id);
      const body = (raw ?? {}) as Record<string, unknown>;
      const readOnly = READ_ONLY.filter((k) => k in body);
      if (readOnly.length > 0) {
        const fields = Object.fromEntries(readOnly.map((k) => [k, 'read-only']));
        throw new AppError(
          'validation_failed',
          `The request is not valid: ${readOnly.join(', ')} cannot be changed; send {"name": "<text>"}.`,
          { fields },
        );
      }
      const input = parseInput(replaceSchema, raw);
      return updateProject(deps.db, uid, id, () => ({ name: input.name, updated_at: deps.now().toISOString() }));
    },

    async remove(p, uid, id) {
      check(p, 'projects.write', uid);
      if (!PROJECT_ID.test(id)) return;
      await lifecycle.remove(uid, id);
      deps.log.info('project deleted', { uid, projectId: id });
    },

    async activate(p, uid, id) {
      await load(p, 'projects.operate', uid, id);
      const record = await lifecycle.activate(uid, id);
      deps.log.info('project activated', { uid, projectId: id, endpoint: record.endpoint });
      return record;
    },

    async deactivate(p, uid, id) {
      await load(p, 'projects.operate', uid, id);
      return lifecycle.deactivate(uid, id);
    },

    async messagesEndpoint(p, uid, id) {
      const record = await load(p, 'projects.operate', uid, id);
      if (record.status !== 'active' || !record.endpoint) {
        throw new AppError('conflict', `Project ${id} is ${record.status}, so nothing answers its messages; activate it first.`, {
          status: record.status,
        });
      }
      return record.endpoint;
    },
  };
}
