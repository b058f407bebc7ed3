/**
 * A real PostgreSQL server for tenant data, local and in tests (issue 21):
 * Debian's `postgresql` server (scripts/ensure-tools.sh installs it), a data
 * folder made with initdb on first start, listening on one loopback port with
 * password (SCRAM) logins only and no Unix socket. Run as root, it runs as the
 * `postgres` user (PostgreSQL refuses root), and the folders above its data
 * get traverse-only rights so that user can reach it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { findPostgresBin as findBin } from '../../shared/resources/local/pg-bin.ts';
import { PrerequisiteError } from './emulators.ts';
import { freePort, startManaged, waitFor, type Managed } from './processes.ts';

export interface RunningPostgres {
  /** Superuser URL, e.g. postgres://postgres:…@127.0.0.1:5432/postgres (a secret: never log it). */
  adminUrl: string;
  port: number;
  process: Managed;
  stop(): Promise<void>;
}

/** The folder of the newest PostgreSQL server binaries: PATH first, then Debian's /usr/lib/postgresql/<version>/bin. */
export function findPostgresBin(): string {
  const dir = findBin('initdb');
  if (dir) return dir;
  throw new PrerequisiteError(
    'PostgreSQL is missing (tenant databases run on it): run scripts/ensure-tools.sh postgres, or apt-get install -y postgresql.',
  );
}

/**
 * A new folder for a throwaway server's data (tests and benchmarks, with
 * `fast`): in memory under /dev/shm when it has room, else in the
 * temporary folder. The caller removes it. On the 2-core VM's ext4 disk,
 * CREATE DATABASE spent 150–350 ms of kernel time writing the copy's files;
 * on tmpfs it took 15–30 ms. `npm start` keeps its data on disk.
 */
export function scratchDataDir(prefix: string): string {
  let base = tmpdir();
  try {
    accessSync('/dev/shm', constants.W_OK);
    // A small /dev/shm (a container's default is 64 MB) would fill up: each database is about 8 MB.
    const { bavail, bsize } = statfsSync('/dev/shm');
    if (bavail * bsize >= SCRATCH_MIN_BYTES) base = '/dev/shm';
  } catch {}
  return mkdtempSync(join(base, prefix));
}

/** Free space /dev/shm needs to hold a throwaway server's data (the test suite makes a few hundred databases). */
const SCRATCH_MIN_BYTES = 4 * 1024 ** 3;

/** uid and gid to run the server as: ours, or the `postgres` user's when we are root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new PrerequisiteError('Running as root, PostgreSQL needs a `postgres` user to run as: apt-get install -y postgresql creates it.');
  }
}

/** Lets another user traverse (not list) every folder above `dir`, as the local runtime does for tenant folders. */
function allowTraverse(dir: string): void {
  for (let d = dirname(resolve(dir)); d !== '/'; d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) chmodSync(d, (mode & 0o7777) | 0o001);
  }
}

/**
 * Starts PostgreSQL with its data in `dataDir` (made with initdb when empty;
 * the superuser's password is kept beside it in `<dataDir>.password`, 0600).
 */
export async function startPostgres(options: { dataDir: string; port?: number; logDir: string; fast?: boolean }): Promise<RunningPostgres> {
  const bin = findPostgresBin();
  const user = serverUser();
  const dataDir = resolve(options.dataDir);
  const passwordFile = `${dataDir}.password`;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(options.logDir, { recursive: true });
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  if (user) {
    allowTraverse(dataDir);
    chownSync(dataDir, user.uid, user.gid);
  }
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    // initdb reads the password from a file the server's user can read; it is removed right after.
    const pwfile = join(dataDir, '..', `.pw-${randomBytes(6).toString('hex')}`);
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    try {
      execFileSync(
        join(bin, 'initdb'),
        ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-instructions'],
        { ...asUser, stdio: ['ignore', 'ignore', 'pipe'] },
      );
    } finally {
      execFileSync('rm', ['-f', pwfile]);
    }
    writeFileSync(join(dataDir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n');
    if (user) chownSync(join(dataDir, 'pg_hba.conf'), user.uid, user.gid);
  }
  const port = options.port ?? (await freePort());
  const settings = ['listen_addresses=127.0.0.1', `port=${port}`, 'unix_socket_directories=', 'max_connections=200'];
  // Tests throw their server away afterwards: durability costs them time and buys nothing.
  if (options.fast) settings.push('fsync=off', 'synchronous_commit=off', 'full_page_writes=off');
  const proc = startManaged('postgres', join(bin, 'postgres'), ['-D', dataDir, ...settings.flatMap((s) => ['-c', s])], {
    ...asUser,
    logPath: join(options.logDir, 'postgres.log'),
  });
  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  await waitFor('PostgreSQL', () => canConnect(adminUrl), 60_000, proc.child);
  return {
    adminUrl,
    port,
    process: proc,
    async stop() {
      // SIGINT is PostgreSQL's fast shutdown: it ends sessions and stops cleanly, where SIGTERM waits for clients.
      if (proc.child.exitCode === null) proc.child.kill('SIGINT');
      await proc.stop();
    },
  };
}

async function canConnect(url: string): Promise<boolean> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}
