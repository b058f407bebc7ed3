/**
 * A fake of the Cloud SQL Admin API (`sql/v1beta4`, the schema the gcloud SDK
 * ships in generated_clients/apis/sqladmin/v1beta4) for one PostgreSQL
 * instance, backed by a real PostgreSQL server so what the API makes can be
 * used for real. It follows the documented shapes and behaviour:
 * - users.insert/get/update/delete (`?name=`): BUILT_IN users, which Cloud SQL
 *   makes members of `cloudsqlsuperuser` (CREATEROLE, CREATEDB);
 * - databases.insert/get/delete: owned by the platform's user, as Cloud SQL
 *   makes them owned by the caller's `cloudsqlsuperuser` user;
 * - every change answers an Operation (`kind: sql#operation`, `status`
 *   PENDING → DONE at `operations/{name}`), errors inside it as
 *   `error.errors[{code, message}]`; unknown resources answer 404 and an
 *   existing one on insert 409, in the `{error: {code, message, status}}` body.
 * - instances.export / instances.import (InstancesExportRequest and
 *   InstancesImportRequest of the same schema; docs:
 *   https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1beta4/instances/export
 *   and …/import): fileType SQL only here, PostgreSQL's one database per
 *   export; the export is a plain `pg_dump --no-owner --no-privileges` of that
 *   database written to `gs://bucket/object` through the storage server's
 *   JSON API (a missing bucket fails the operation, as on Cloud SQL); the
 *   import downloads the file and runs it with psql into `database`, as
 *   `importUser` when given. As on Cloud SQL, an import adds to what the
 *   database holds (it does not drop anything first): a restore that must
 *   replace data imports into a fresh database, as the gcp driver does.
 *   These operations answer PENDING, then run in the background (RUNNING)
 *   until DONE, so callers must poll operations.get. As documented, one
 *   import or export runs at a time on an instance: another one meanwhile is
 *   refused with 409 (ABORTED, "another operation was already in progress").
 * The platform's own user (`platformUrl`) is, as on Cloud SQL, not a
 * superuser: a cloudsqlsuperuser member with CREATEROLE and CREATEDB.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from 'pg';
import { findPostgresBin, pgToolEnv } from '../../shared/resources/local/pg-bin.ts';
import { changeGrants, urlFor, withClient } from '../../shared/resources/sql.ts';
import { checkBearer, googleError } from './google-rest.ts';
import { loadSchema, schemaProblems } from '../sdk-schema.ts';
import { startFakeServer, type FakeResponse, type RunningFake } from './http-server.ts';

export interface CloudSqlFake extends RunningFake {
  /** The platform's Cloud SQL user (`tp_platform`, a cloudsqlsuperuser member), for the driver's SQL half. */
  platformUrl: string;
  instance: string;
}

const run = promisify(execFile);
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function startCloudSqlFake(options: {
  superuserUrl: string;
  project: string;
  instance: string;
  port?: number;
  /** The storage server (JSON API) that exports write to and imports read from, with the instance's service account token. */
  storage?: { url: string; token: string };
  /** How long an export or import stays PENDING before it runs (default 10 ms); a test of the one-at-a-time rule holds it longer. */
  pendingMs?: number;
}): Promise<CloudSqlFake> {
  const { project, instance } = options;
  const platformPassword = randomBytes(18).toString('base64url');
  const platformRole = `tp_platform_${randomBytes(3).toString('hex')}`;
  await withClient(options.superuserUrl, async (c) => {
    const has = async (role: string) => ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0;
    if (!(await has('cloudsqlsuperuser'))) await c.query('CREATE ROLE cloudsqlsuperuser NOLOGIN CREATEROLE CREATEDB');
    await changeGrants(c, 'GRANT pg_signal_backend TO cloudsqlsuperuser');
    await c.query(
      `CREATE ROLE ${q(platformRole)} LOGIN CREATEROLE CREATEDB PASSWORD ${c.escapeLiteral(platformPassword)} IN ROLE cloudsqlsuperuser`,
    );
    await changeGrants(c, `GRANT CONNECT ON DATABASE postgres TO ${q(platformRole)}`);
  });
  const platformUrl = urlFor(options.superuserUrl, platformRole, platformPassword, 'postgres');
  const operations = new Map<string, Record<string, unknown>>();
  const base = `/sql/v1beta4/projects/${project}/instances/${instance}`;

  /** Runs `work` as Cloud SQL does (as its own superuser) and answers the Operation; a failure lands in the operation's error. */
  async function operation(type: string, target: string, work: (c: Client) => Promise<unknown>): Promise<FakeResponse> {
    const name = randomUUID();
    const op: Record<string, unknown> = {
      kind: 'sql#operation',
      name,
      operationType: type,
      status: 'PENDING',
      targetId: instance,
      targetProject: project,
      targetLink: `https://sqladmin.googleapis.com${base}/${target}`,
      selfLink: `https://sqladmin.googleapis.com/sql/v1beta4/projects/${project}/operations/${name}`,
      insertTime: new Date().toISOString(),
    };
    operations.set(name, op);
    const answer = { status: 200, body: { ...op } };
    try {
      await withClient(options.superuserUrl, work);
    } catch (error) {
      op.error = {
        kind: 'sql#operationErrors',
        errors: [{ kind: 'sql#operationError', code: 'INTERNAL_ERROR', message: (error as Error).message }],
      };
    }
    op.status = 'DONE';
    op.endTime = new Date().toISOString();
    return answer;
  }
  /** An export or import: answers PENDING at once, then runs in the background (RUNNING → DONE, an error in the operation). */
  let busy = false;
  function longOperation(type: string, context: Record<string, unknown>, work: () => Promise<void>): FakeResponse {
    if (busy) return googleError('ABORTED', 'Operation failed because another operation was already in progress.');
    busy = true;
    const name = randomUUID();
    const op: Record<string, unknown> = {
      kind: 'sql#operation',
      name,
      operationType: type,
      status: 'PENDING',
      targetId: instance,
      targetProject: project,
      targetLink: `https://sqladmin.googleapis.com${base}`,
      selfLink: `https://sqladmin.googleapis.com/sql/v1beta4/projects/${project}/operations/${name}`,
      insertTime: new Date().toISOString(),
      ...context,
    };
    operations.set(name, op);
    const answer = { status: 200, body: { ...op } };
    setTimeout(async () => {
      op.status = 'RUNNING';
      op.startTime = new Date().toISOString();
      try {
        await work();
      } catch (error) {
        op.error = {
          kind: 'sql#operationErrors',
          errors: [{ kind: 'sql#operationError', code: 'INTERNAL_ERROR', message: (error as Error).message }],
        };
      }
      busy = false;
      op.status = 'DONE';
      op.endTime = new Date().toISOString();
    }, options.pendingMs ?? 10);
    return answer;
  }
  const pgEnv = (database: string, role?: string) => pgToolEnv(options.superuserUrl, database, role);
  const bin = (program: string) => {
    const dir = findPostgresBin(program);
    if (!dir) throw new Error(`${program} is missing on this machine`);
    return join(dir, program);
  };
  const gcsObject = (uri: string) => {
    const m = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
    if (!m) throw new Error(`not a gs:// URI: ${uri}`);
    const storage = options.storage;
    if (!storage) throw new Error('this fake has no storage server');
    return { url: `${storage.url}`, auth: { authorization: `Bearer ${storage.token}` }, bucket: m[1], name: m[2] };
  };
  async function exportSql(database: string, uri: string): Promise<void> {
    const o = gcsObject(uri);
    const { stdout } = await run(bin('pg_dump'), ['--format=plain', '--no-owner', '--no-privileges'], {
      env: pgEnv(database),
      encoding: 'buffer',
      maxBuffer: 512 * 1024 * 1024,
    });
    const res = await fetch(
      `${o.url}/upload/storage/v1/b/${encodeURIComponent(o.bucket)}/o?uploadType=media&name=${encodeURIComponent(o.name)}`,
      { method: 'POST', headers: { ...o.auth, 'content-type': 'application/sql' }, body: stdout },
    );
    if (!res.ok) throw new Error(`writing ${uri} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  }
  async function importSql(database: string, uri: string, user?: string): Promise<void> {
    const o = gcsObject(uri);
    const res = await fetch(`${o.url}/storage/v1/b/${encodeURIComponent(o.bucket)}/o/${encodeURIComponent(o.name)}?alt=media`, {
      headers: o.auth,
    });
    if (!res.ok) throw new Error(`reading ${uri} answered ${res.status}`);
    const dir = mkdtempSync(join(tmpdir(), 'tp-sql-import-'));
    try {
      const file = join(dir, 'import.sql');
      writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      await run(bin('psql'), ['--no-psqlrc', '--quiet', '-v', 'ON_ERROR_STOP=1', '--single-transaction', `--file=${file}`], {
        env: pgEnv(database, user),
        maxBuffer: 16 * 1024 * 1024,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const exists = async (sql: string, name: string) =>
    withClient(options.superuserUrl, async (c) => ((await c.query(sql, [name])).rowCount ?? 0) > 0);
  const userExists = (name: string) => exists('SELECT 1 FROM pg_roles WHERE rolname = $1', name);
  const dbExists = (name: string) => exists('SELECT 1 FROM pg_database WHERE datname = $1', name);

  // Request bodies are checked against the SDK's own message definitions (User, Database) when the SDK is installed.
  const schema = loadSchema('sqladmin', 'v1beta4');
  const invalid = (type: string, body: unknown) => {
    const problems = schema ? schemaProblems(schema, type, body) : [];
    return problems.length ? googleError('INVALID_ARGUMENT', `Invalid ${type}: ${problems.join('; ')}`) : undefined;
  };

  const fake = await startFakeServer(
    async (req) => {
      const denied = checkBearer(req);
      if (denied) return denied;
      const bodyType =
        /\/users$/.test(req.path) && req.method !== 'DELETE'
          ? 'User'
          : /\/databases$/.test(req.path)
            ? 'Database'
            : /\/export$/.test(req.path)
              ? 'InstancesExportRequest'
              : /\/import$/.test(req.path)
                ? 'InstancesImportRequest'
                : undefined;
      const bad = bodyType && req.method !== 'GET' ? invalid(bodyType, req.body ?? {}) : undefined;
      if (bad) return bad;
      const body = (req.body ?? {}) as Record<string, string>;
      const path = req.path;
      const m = /^\/sql\/v1beta4\/projects\/([^/]+)\/operations\/([^/]+)$/.exec(path);
      if (m && req.method === 'GET') {
        const op = operations.get(m[2]);
        return op ? { status: 200, body: op } : googleError('NOT_FOUND', `The operation ${m[2]} does not exist.`);
      }
      if (!path.startsWith(base)) return googleError('NOT_FOUND', `The Cloud SQL instance does not exist: ${path}`);
      const rest = path.slice(base.length);
      const queryName = req.query.get('name') ?? '';
      if (rest === '/users' && req.method === 'POST') {
        if (!body.name || !body.password) return googleError('INVALID_ARGUMENT', 'Missing name or password.');
        if (await userExists(body.name)) return googleError('ALREADY_EXISTS', `User ${body.name} already exists.`);
        return operation('CREATE_USER', `users/${body.name}`, (c) =>
          c.query(
            `CREATE ROLE ${q(body.name)} LOGIN CREATEROLE CREATEDB PASSWORD ${c.escapeLiteral(body.password)} IN ROLE cloudsqlsuperuser`,
          ),
        );
      }
      if (rest === '/users' && req.method === 'PUT') {
        if (!(await userExists(queryName))) return googleError('NOT_FOUND', `User ${queryName} does not exist.`);
        return operation('UPDATE_USER', `users/${queryName}`, (c) =>
          c.query(`ALTER ROLE ${q(queryName)} PASSWORD ${c.escapeLiteral(body.password)}`),
        );
      }
      if (rest === '/users' && req.method === 'DELETE') {
        if (!(await userExists(queryName))) return googleError('NOT_FOUND', `User ${queryName} does not exist.`);
        return operation('DELETE_USER', `users/${queryName}`, (c) => c.query(`DROP ROLE ${q(queryName)}`));
      }
      if (rest === '/export' && req.method === 'POST') {
        const context = ((req.body ?? {}) as { exportContext?: { fileType?: string; uri?: string; databases?: string[] } }).exportContext;
        if (context?.fileType !== 'SQL') return googleError('INVALID_ARGUMENT', 'This fake exports fileType SQL only.');
        if (!/^gs:\/\/[^/]+\/.+/.test(context.uri ?? '')) return googleError('INVALID_ARGUMENT', `Invalid uri ${context.uri}.`);
        if (context.databases?.length !== 1)
          return googleError('INVALID_ARGUMENT', 'PostgreSQL instances: exactly one database is exported to a SQL file.');
        const [database] = context.databases;
        if (!(await dbExists(database))) return googleError('NOT_FOUND', `Database ${database} does not exist.`);
        return longOperation('EXPORT', { exportContext: context }, () => exportSql(database, context.uri!));
      }
      if (rest === '/import' && req.method === 'POST') {
        const context = (
          (req.body ?? {}) as { importContext?: { fileType?: string; uri?: string; database?: string; importUser?: string } }
        ).importContext;
        if (context?.fileType !== 'SQL') return googleError('INVALID_ARGUMENT', 'This fake imports fileType SQL only.');
        if (!/^gs:\/\/[^/]+\/.+/.test(context.uri ?? '')) return googleError('INVALID_ARGUMENT', `Invalid uri ${context.uri}.`);
        if (!context.database) return googleError('INVALID_ARGUMENT', 'PostgreSQL instances: importContext.database is required.');
        if (!(await dbExists(context.database))) return googleError('NOT_FOUND', `Database ${context.database} does not exist.`);
        if (context.importUser && !(await userExists(context.importUser)))
          return googleError('NOT_FOUND', `User ${context.importUser} does not exist.`);
        return longOperation('IMPORT', { importContext: context }, () => importSql(context.database!, context.uri!, context.importUser));
      }
      let u = /^\/users\/([^/]+)$/.exec(rest);
      if (u && req.method === 'GET') {
        const name = decodeURIComponent(u[1]);
        if (!(await userExists(name))) return googleError('NOT_FOUND', `User ${name} does not exist.`);
        return { status: 200, body: { kind: 'sql#user', name, host: '', instance, project, type: 'BUILT_IN' } };
      }
      if (rest === '/databases' && req.method === 'POST') {
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(body.name ?? '')) return googleError('INVALID_ARGUMENT', `Invalid database name ${body.name}.`);
        if (await dbExists(body.name)) return googleError('ALREADY_EXISTS', `Database ${body.name} already exists.`);
        // Owned by the platform's user: on Cloud SQL the database belongs to the calling cloudsqlsuperuser member.
        return operation('CREATE_DATABASE', `databases/${body.name}`, (c) =>
          c.query(`CREATE DATABASE ${q(body.name)} OWNER ${q(platformRole)}`),
        );
      }
      u = /^\/databases\/([^/]+)$/.exec(rest);
      if (u) {
        const name = decodeURIComponent(u[1]);
        if (!(await dbExists(name))) return googleError('NOT_FOUND', `Database ${name} does not exist.`);
        if (req.method === 'GET')
          return { status: 200, body: { kind: 'sql#database', name, charset: 'UTF8', collation: 'en_US.UTF8', instance, project } };
        if (req.method === 'DELETE') return operation('DELETE_DATABASE', `databases/${name}`, (c) => c.query(`DROP DATABASE ${q(name)}`));
      }
      return googleError('NOT_FOUND', `No route ${req.method} ${path}`);
    },
    { port: options.port },
  );
  return { ...fake, platformUrl, instance: `${project}:us-central1:${instance}` };
}
