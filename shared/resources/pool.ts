/**
 * A warm pool of empty databases on a PostgreSQL server (issue 19): `CREATE
 * DATABASE` copies the template and takes hundreds of milliseconds, most of a
 * launch's infrastructure stage, while renaming a database is a catalog update.
 * So the pool keeps a few empty databases (`tp_pool_<hex>`, made from template1
 * exactly as `CREATE DATABASE` makes a tenant's, closed to everyone) and a new
 * environment claims one by renaming it to its staging name and giving it to
 * its role; the seed and the rest of createSeededDatabase run as before. A
 * claim is one `ALTER DATABASE … RENAME`, which PostgreSQL does atomically:
 * two control planes on one server can never take the same database. The pool
 * refills in the background a moment after a claim (a burst drains it,
 * then creates as before; a refill makes up to four at once), and an empty or disabled pool (size 0) just creates.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { withClient } from './sql.ts';
import { shuffled } from '../shuffle.ts';

export const POOL_PREFIX = 'tp_pool_';
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
/** PostgreSQL's codes for "no such database" and "database is being accessed by other users": another claim got there first. */
const TAKEN = new Set(['3D000', '55006']);
/** Connections a refill creates databases on at once. */
const REFILL_CONNECTIONS = 4;

export interface DatabasePool {
  /**
   * Makes database `name` owned by `owner`: a pooled one when there is one,
   * else a new one; then runs `setup` (createSeededDatabase's statements), in
   * the same round trip and transaction as the claim.
   */
  create(admin: Client, name: string, owner: string, setup?: string): Promise<void>;
  /** Creates databases until the pool holds its size; resolves when done (errors are the caller's). */
  fill(): Promise<void>;
  /** Stops refilling (a fill in progress ends after its current database). */
  close(): void;
}

async function pooled(admin: Client): Promise<string[]> {
  const rows = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname', [
    POOL_PREFIX,
  ]);
  return rows.rows.map((r) => r.datname);
}

/**
 * ` STRATEGY FILE_COPY` on a server without fsync (the throwaway ones tests
 * and benchmarks run), else nothing (PostgreSQL's default, WAL_LOG).
 * FILE_COPY copies the template's files and checkpoints before and after:
 * free without fsync, where it made a database in 15 ms against WAL_LOG's
 * 50 ms, and four at once 3.5 times as fast (PostgreSQL 15 on the 2-core
 * machine, data on tmpfs); with fsync on disk the checkpoints made it 1.5 to
 * 3 times slower than WAL_LOG. Servers before 15 know no STRATEGY.
 */
export async function copyStrategy(admin: Client): Promise<string> {
  const { rows } = await admin.query<{ fsync: string; version: string }>(
    "SELECT current_setting('fsync') AS fsync, current_setting('server_version_num') AS version",
  );
  return rows[0].fsync === 'off' && Number(rows[0].version) >= 150000 ? ' STRATEGY FILE_COPY' : '';
}

export function createDatabasePool(adminUrl: string, size: number, refillDelayMs = 500): DatabasePool {
  let closed = size <= 0;
  let filling: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let strategy: Promise<string> | undefined;
  /** The clause that makes CREATE DATABASE fastest on this server, asked once (see `copyStrategy`). */
  const strategyOn = (admin: Client) => {
    // A failed question is asked again next time rather than remembered.
    strategy ??= copyStrategy(admin).catch((error: unknown) => {
      strategy = undefined;
      throw error;
    });
    return strategy;
  };

  /** Set by every request to fill: a claim during a fill makes it count the pool once more when done. */
  let wanted = false;
  const topUp = async () => {
    const missing = await withClient(adminUrl, async (admin) => size - (await pooled(admin)).length);
    // A few at once, each on its own connection: CREATE DATABASE mostly waits, and four at once made one every
    // 23 ms where one after another took 85 ms each (PostgreSQL 15 on the 2-core machine).
    let left = missing;
    const worker = () =>
      withClient(adminUrl, async (admin) => {
        while (left > 0 && !closed) {
          left -= 1;
          const name = `${POOL_PREFIX}${randomBytes(8).toString('hex')}`;
          await admin.query(`CREATE DATABASE ${quoteIdent(name)}${await strategyOn(admin)}`);
          await admin.query(`REVOKE ALL ON DATABASE ${quoteIdent(name)} FROM PUBLIC`);
        }
      });
    await Promise.all(Array.from({ length: Math.min(REFILL_CONNECTIONS, Math.max(0, missing)) }, worker));
  };
  const fill = () => {
    wanted = true;
    return (filling ??= (async () => {
      while (wanted && !closed) {
        wanted = false;
        await topUp();
      }
    })().finally(() => (filling = undefined)));
  };

  // A moment after a claim, not after the last of a series: launches one after another postponed a refill that
  // waited for a quiet moment until the pool ran dry, and every launch after that waited for CREATE DATABASE.
  const refillSoon = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void fill().catch(() => undefined);
    }, refillDelayMs);
    timer.unref();
  };

  return {
    async create(admin, name, owner, setup = '') {
      if (!closed) {
        // In a random order: launches claiming at once would otherwise all try the same one first, and all but one fail.
        for (const candidate of shuffled(await pooled(admin))) {
          try {
            // One multi-statement query runs as one transaction: a claim that fails changes nothing.
            await admin.query(
              [
                `ALTER DATABASE ${quoteIdent(candidate)} RENAME TO ${quoteIdent(name)}`,
                `ALTER DATABASE ${quoteIdent(name)} OWNER TO ${quoteIdent(owner)}`,
                setup,
              ]
                .filter(Boolean)
                .join('; '),
            );
          } catch (error) {
            if (TAKEN.has((error as { code?: string }).code ?? '')) continue;
            throw error;
          }
          refillSoon();
          return;
        }
      }
      await admin.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(owner)}${await strategyOn(admin)}`);
      if (setup) await admin.query(setup);
      refillSoon();
    },
    fill,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
