/**
 * The Cloud SQL Admin API calls of the GCP resources driver, in the REST
 * shapes of `sql/v1beta4` (the schema the gcloud SDK ships, sqladmin_v1beta4_client.py;
 * https://cloud.google.com/sql/docs/postgres/admin-api/rest): `users`
 * (insert, get, update and delete with `?name=`) and `databases` (insert,
 * get, delete), `instances.export` (exportContext {kind: sql#exportContext,
 * fileType: SQL, uri: gs://…, databases: [one]}) and `instances.import`
 * (importContext {kind: sql#importContext, fileType: SQL, uri, database,
 * importUser}), each answering an Operation that is polled at
 * `sql/v1beta4/projects/{p}/operations/{name}` (operations.get) until its
 * status is DONE; an `error.errors[]` in it is the operation's failure.
 * One import or export runs at a time on an instance (others answer 409):
 * those calls wait and try again.
 */
import type { GoogleRest } from '../../gcp/rest.ts';

export interface SqlInstance {
  project: string;
  instance: string;
}

/** `project:region:instance` → the parts the API paths use. */
export function parseInstance(connectionName: string): SqlInstance {
  const [project, , instance] = connectionName.split(':');
  return { project, instance };
}

const base = (i: SqlInstance) => `sql/v1beta4/projects/${encodeURIComponent(i.project)}/instances/${encodeURIComponent(i.instance)}`;
const status = (error: unknown) => (error as { httpStatus?: number }).httpStatus;

export function createCloudSql(rest: GoogleRest, instance: SqlInstance, pollMs: number) {
  async function wait(operation: { name?: string; status?: string; error?: { errors?: Array<{ message?: string }> } }): Promise<void> {
    let op = operation;
    for (let i = 0; op.status !== 'DONE'; i++) {
      if (i > 600) throw new Error(`Cloud SQL operation ${op.name} did not finish`);
      await new Promise((r) => setTimeout(r, pollMs));
      op = await rest.call(
        'sqladmin',
        'GET',
        `sql/v1beta4/projects/${encodeURIComponent(instance.project)}/operations/${encodeURIComponent(op.name!)}`,
      );
    }
    if (op.error?.errors?.length) throw new Error(`Cloud SQL: ${op.error.errors.map((e) => e.message).join('; ')}`);
  }
  const call = async (method: string, path: string, body?: unknown) =>
    wait(await rest.call('sqladmin', method, `${base(instance)}/${path}`, body));
  /** An export or import, retried while the instance runs another one (409), for up to 600 waits of 5 polls. */
  const exclusive = async (path: string, body: unknown) => {
    for (let i = 0; ; i++) {
      let operation: Parameters<typeof wait>[0];
      try {
        operation = await rest.call('sqladmin', 'POST', `${base(instance)}/${path}`, body);
      } catch (error) {
        if (status(error) !== 409 || i >= 600) throw error;
        await new Promise((r) => setTimeout(r, pollMs * (5 + Math.random() * 5)));
        continue;
      }
      return wait(operation);
    }
  };
  const exists = async (path: string) => {
    try {
      await rest.call('sqladmin', 'GET', `${base(instance)}/${path}`);
      return true;
    } catch (error) {
      if (status(error) === 404) return false;
      throw error;
    }
  };
  const ignoreMissing = (error: unknown) => {
    if (status(error) !== 404) throw error;
  };
  return {
    /** Creates the built-in user, or sets its password when it exists. */
    async setUser(name: string, password: string): Promise<void> {
      if (await exists(`users/${encodeURIComponent(name)}`))
        await call('PUT', `users?name=${encodeURIComponent(name)}`, { name, password });
      else await call('POST', 'users', { name, password, type: 'BUILT_IN' });
    },
    userExists: (name: string) => exists(`users/${encodeURIComponent(name)}`),
    deleteUser: (name: string) => call('DELETE', `users?name=${encodeURIComponent(name)}`).catch(ignoreMissing),
    databaseExists: (name: string) => exists(`databases/${encodeURIComponent(name)}`),
    createDatabase: (name: string) => call('POST', 'databases', { name, charset: 'UTF8', collation: 'en_US.UTF8' }),
    deleteDatabase: (name: string) => call('DELETE', `databases/${encodeURIComponent(name)}`).catch(ignoreMissing),
    /** A plain SQL dump of one database into Cloud Storage (the instance's service account writes the object). */
    exportSql: (database: string, uri: string) =>
      exclusive('export', { exportContext: { kind: 'sql#exportContext', fileType: 'SQL', uri, databases: [database] } }),
    /** Runs a SQL file from Cloud Storage into `database` as `importUser`. */
    importSql: (database: string, uri: string, importUser: string) =>
      exclusive('import', { importContext: { kind: 'sql#importContext', fileType: 'SQL', uri, database, importUser } }),
  };
}
