/**
 * Local backups of environment databases: `pg_dump` (custom format) into
 * `<backupDir>/<tenant>/<env>/<id>.dump`, restored with `pg_restore` as the
 * target environment's own role (SET ROLE), so a dump's content never runs
 * with the platform's rights. A restore builds the database under the staging
 * name and swaps it in, so a repeat after a crash converges.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { databaseName, stagingDatabaseName } from '../names.ts';
import { quoteIdent as quote, withClient } from '../sql.ts';
import { copyStrategy } from '../pool.ts';
import { ResourceError, type ResourceRef } from '../types.ts';
import { findPostgresBin, pgToolEnv } from './pg-bin.ts';

const run = promisify(execFile);

export function createLocalBackups(options: { adminUrl: string; backupDir: string }) {
  const bin = (program: string) => {
    const dir = findPostgresBin(program);
    if (!dir)
      throw new ResourceError('local', 'not_configured', `${program} is missing: install PostgreSQL (scripts/ensure-tools.sh postgres)`);
    return join(dir, program);
  };
  /** The platform's connection, given to the tools through the environment, never on their command line. */
  const pgEnv = (database: string) => pgToolEnv(options.adminUrl, database);
  const fileOf = (ref: ResourceRef, id: string) => {
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(id)) throw new ResourceError('local', 'failed', `not a backup id: ${JSON.stringify(id)}`);
    databaseName(ref); // checks the ref
    return join(options.backupDir, ref.tenantId, ref.env, `${id}.dump`);
  };

  return {
    async backupDatabase(ref: ResourceRef, id: string): Promise<{ sizeBytes: number }> {
      const file = fileOf(ref, id);
      if (!existsSync(file)) {
        mkdirSync(join(options.backupDir, ref.tenantId, ref.env), { recursive: true, mode: 0o700 });
        const partial = `${file}.partial`;
        await run(bin('pg_dump'), ['--format=custom', '--no-owner', '--no-privileges', `--file=${partial}`], {
          env: pgEnv(databaseName(ref)),
        });
        renameSync(partial, file);
      }
      return { sizeBytes: statSync(file).size };
    },
    async restoreDatabase(source: ResourceRef, id: string, target: ResourceRef): Promise<void> {
      const file = fileOf(source, id);
      if (!existsSync(file)) throw new ResourceError('local', 'failed', `backup ${id} of ${source.tenantId}/${source.env} is missing`);
      const [name, staging] = [databaseName(target), stagingDatabaseName(target)];
      await withClient(options.adminUrl, async (admin) => {
        if (!(await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount)
          throw new ResourceError('local', 'failed', `the role of ${target.tenantId}/${target.env} does not exist; provision it first`);
        await admin.query(`DROP DATABASE IF EXISTS ${quote(staging)} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${quote(staging)} OWNER ${quote(name)}${await copyStrategy(admin)}`);
        await admin.query(`REVOKE ALL ON DATABASE ${quote(staging)} FROM PUBLIC`);
        await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${quote(staging)} TO ${quote(name)}`);
      });
      await run(bin('pg_restore'), ['--no-owner', '--no-privileges', `--role=${name}`, '--exit-on-error', `--dbname=${staging}`, file], {
        env: pgEnv(staging),
      });
      await withClient(options.adminUrl, async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`);
        await admin.query(`ALTER DATABASE ${quote(staging)} RENAME TO ${quote(name)}`);
      });
    },
    async deleteBackup(ref: ResourceRef, id: string): Promise<void> {
      rmSync(fileOf(ref, id), { force: true });
    },
  };
}
