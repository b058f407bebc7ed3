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
 *
 * A seed costs more than the copy: a connection as the role (its SCRAM
 * handshake) and the seed's statements, about 30 ms of a demo environment's
 * 40 on an idle 2-core machine, and the slowest step of a default launch. So
 * the pool also keeps a few databases per seed it was asked for
 * (`tp_seed_<tag>_<hex>`, `<tag>` from the seed's digest), each with its own
 * role of the same name that ran the seed there and can no longer log in. A
 * claim renames the database and the role to the environment's and gives the
 * role its password and LOGIN, in one transaction; what the seed made is
 * the role's already, so nothing runs as the platform (a seed that wrote
 * `current_user` into its rows would have written the pool's name). One is made under
 * `tp_seedw_…` and renamed ready only once seeded, so a claim never takes one
 * half made; the first fill of a pool drops those a stopped process left
 * (`dropHalfMade`). A seed that fails while the pool makes one is not tried
 * again in this process; the launch then runs it itself and reports its error.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { closedTo, newPassword, quoteIdent, roleStatement, urlFor, withClient } from './sql.ts';
import { shuffled } from '../shuffle.ts';

export const POOL_PREFIX = 'tp_pool_';
export const SEEDED_PREFIX = 'tp_seed_';
/** A seeded database still being made: never claimed. */
const MAKING_PREFIX = 'tp_seedw_';
/** Seeded databases kept per seed, at most: a default launch takes one (demo). */
const SEEDED_PER_SEED = 2;
/** The first 8 hex digits of the seed's SHA-256: the seeded databases of one seed share it. */
export const seedTag = (seed: string) => createHash('sha256').update(seed).digest('hex').slice(0, 8);
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
  /**
   * Makes database and role `name` from a database seeded with `seed` and its
   * role, the role logging in with `password`; false when none is ready (the
   * pool then makes some for next time, and the caller creates as before).
   */
  claimSeeded(admin: Client, name: string, password: string, seed: string): Promise<boolean>;
  /** Keeps seeded databases of `seeds` too, from the next fill on. */
  seedWith(seeds: string[]): void;
  /** Creates databases until the pool holds its size; resolves when done (errors are the caller's). */
  fill(): Promise<void>;
  /** Stops refilling (a fill in progress ends after its current database). */
  close(): void;
}

async function pooled(admin: Client, prefix = POOL_PREFIX): Promise<string[]> {
  const rows = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname', [
    prefix,
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

/**
 * Drops seeded databases left half made (`tp_seedw_…`, a process stopped while
 * making one) that nobody is connected to and that are older than `ageMs`,
 * with their roles: another control plane may be making one right now.
 * (A role made just before such a stop, without its database, stays: nothing
 * tells it from one whose database is being created this instant; it cannot
 * log in with a password anyone knows.)
 */
export async function dropHalfMade(admin: Client, ageMs: number): Promise<string[]> {
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT d.datname FROM pg_database d
      WHERE starts_with(d.datname, $1)
        AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)
        AND (pg_stat_file('base/' || d.oid || '/PG_VERSION')).modification < now() - make_interval(secs => $2)`,
    [MAKING_PREFIX, ageMs / 1000],
  );
  for (const { datname } of rows) await dropSeeded(admin, datname, SEEDED_PREFIX + datname.slice(MAKING_PREFIX.length));
  return rows.map((r) => r.datname);
}

/** Drops a seeded database (ready or being made) and then its role, which owns it. */
async function dropSeeded(admin: Client, database: string, role: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
}

/** How old a half-made seeded database must be before a fill drops it: making one takes well under a second. */
const HALF_MADE_AGE_MS = 10 * 60_000;

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

  /** Seeds to keep databases of, by tag; one that failed is dropped and not taken again. */
  const seeds = new Map<string, string>();
  const failed = new Set<string>();
  const keepSeed = (seed: string) => {
    const tag = seedTag(seed);
    if (!closed && !failed.has(tag)) seeds.set(tag, seed);
    return tag;
  };
  /** One seeded database and its role: made, seeded as that role, then locked and renamed ready. */
  const makeSeeded = async (admin: Client, tag: string, seed: string) => {
    const suffix = `${tag}_${randomBytes(8).toString('hex')}`;
    const [role, making] = [`${SEEDED_PREFIX}${suffix}`, `${MAKING_PREFIX}${suffix}`];
    const password = newPassword();
    await admin.query(roleStatement(admin, role, password, false));
    try {
      await admin.query(`CREATE DATABASE ${quoteIdent(making)} OWNER ${quoteIdent(role)}${await strategyOn(admin)}`);
      await admin.query(closedTo(making, role));
      await withClient(urlFor(adminUrl, role, password, making), (client) => client.query(seed));
    } catch (error) {
      seeds.delete(tag);
      failed.add(tag);
      await dropSeeded(admin, making, role).catch(() => undefined);
      throw error;
    }
    await admin.query(
      `ALTER ROLE ${quoteIdent(role)} NOLOGIN PASSWORD NULL; ALTER DATABASE ${quoteIdent(making)} RENAME TO ${quoteIdent(role)}`,
    );
  };
  /** Set by every request to fill: a claim during a fill makes it count the pool once more when done. */
  let wanted = false;
  let swept = false;
  const topUp = async () => {
    const missing = await withClient(adminUrl, async (admin) => {
      // Once per pool: what a stopped fill of this or another process left.
      if (!swept) await dropHalfMade(admin, HALF_MADE_AGE_MS);
      swept = true;
      return size - (await pooled(admin)).length;
    });
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
    // One after another on one connection: a default launch takes one seeded database at a time.
    if (seeds.size > 0)
      await withClient(adminUrl, async (admin) => {
        for (const [tag, seed] of seeds) {
          const have = await pooled(admin, `${SEEDED_PREFIX}${tag}_`);
          for (let i = have.length; i < Math.min(size, SEEDED_PER_SEED) && !closed && seeds.has(tag); i++)
            await makeSeeded(admin, tag, seed);
        }
      });
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
    seedWith(list) {
      for (const seed of list) keepSeed(seed);
    },
    async claimSeeded(admin, name, password, seed) {
      if (closed) return false;
      const tag = keepSeed(seed);
      try {
        for (const candidate of shuffled(await pooled(admin, `${SEEDED_PREFIX}${tag}_`))) {
          try {
            await admin.query(
              [
                `ALTER DATABASE ${quoteIdent(candidate)} RENAME TO ${quoteIdent(name)}`,
                `ALTER ROLE ${quoteIdent(candidate)} RENAME TO ${quoteIdent(name)}`,
                roleStatement(admin, name, password, true),
              ].join('; '),
            );
            return true;
          } catch (error) {
            if (TAKEN.has((error as { code?: string }).code ?? '')) continue;
            throw error;
          }
        }
        return false;
      } finally {
        refillSoon();
      }
    },
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
