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
