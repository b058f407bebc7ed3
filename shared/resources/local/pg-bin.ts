/** Where this machine's PostgreSQL programs are: PATH first, then Debian's /usr/lib/postgresql/<version>/bin (newest). */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function findPostgresBin(program = 'postgres'): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    if (existsSync(join(dir, 'postgres')) && existsSync(join(dir, program))) return dir;
  }
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', program))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0], 'bin') : undefined;
}

/**
 * The environment that gives pg_dump, pg_restore or psql the connection `url`
 * (a superuser's) to `database`, so no credential is ever on a command line;
 * `role` makes the session act as that role (`SET ROLE` at connection).
 */
export function pgToolEnv(url: string, database: string, role?: string): Record<string, string> {
  const server = new URL(url);
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGHOST: server.hostname,
    PGPORT: server.port || '5432',
    PGUSER: decodeURIComponent(server.username),
    PGPASSWORD: decodeURIComponent(server.password),
    PGDATABASE: database,
    PGCONNECT_TIMEOUT: '15',
    ...(role ? { PGOPTIONS: `-c role=${role}` } : {}),
  };
}
