/**
 * The warm pool of empty databases (shared/resources/pool.ts, issue 19) on a
 * real PostgreSQL server of its own (so no other test file's pool is counted):
 * a claimed database is the environment's as if it had been created for it,
 * concurrent claims never share one, and the pool refills.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../scripts/dev/postgres.ts';
import { allocatePort } from '../testing/ports.ts';
import { copyStrategy, createDatabasePool, type DatabasePool, dropHalfMade, POOL_PREFIX, SEEDED_PREFIX } from '../shared/resources/pool.ts';
import { databaseName } from '../shared/resources/names.ts';
import { ensureTenantDatabase, SAMPLE_SEED, withClient } from '../shared/resources/sql.ts';
import { createLocalResources } from '../shared/resources/local/driver.ts';

let server: Awaited<ReturnType<typeof startPostgres>>;
let dir: string;
test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tp-pool-'));
  server = await startPostgres({ dataDir: join(dir, 'pg'), logDir: dir, port: await allocatePort(), fast: true });
});
test.after.always(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) =>
  withClient(server.adminUrl, async (c) => (await c.query(text, params)).rows as T[]);
const pooled = async () =>
  (await sql<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [POOL_PREFIX])).length;
/** Waits for the background refill (generous: a busy machine makes CREATE DATABASE slow). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** Another environment's role (of tenant `otherTenant`, made from `pool`) is refused at `database`. */
async function refusesAnotherRole(t: ExecutionContext, pool: DatabasePool, database: string, otherTenant: string): Promise<void> {
  const other = await withClient(server.adminUrl, (admin) =>
    ensureTenantDatabase(admin, { tenantId: otherTenant, env: 'live' }, { url: server.adminUrl }, (name, o, setup) =>
      pool.create(admin, name, o, setup),
    ),
  );
  const intruder = new URL(other.url);
  intruder.pathname = `/${database}`;
  await t.throwsAsync(
    withClient(intruder.toString(), (c) => c.query('SELECT 1')),
    { message: /permission denied|not permitted/ },
  );
}

test.serial('a claimed database belongs to the environment alone, seeded as its role', async (t) => {
  // The background refill waits a minute here, so the counts below are the claims' own.
  const pool = createDatabasePool(server.adminUrl, 2, 60_000);
  t.teardown(() => pool.close());
  await pool.fill();
  t.is(await pooled(), 2);
  const ref = { tenantId: 't-aaaaaaaaaa', env: 'demo' };
  const access = await withClient(server.adminUrl, (admin) =>
    ensureTenantDatabase(admin, ref, { url: server.adminUrl, seed: 'sample' }, (name, owner, setup) =>
      pool.create(admin, name, owner, setup),
    ),
  );
  t.is(access.database, databaseName(ref));
  t.is(await pooled(), 1, 'one pooled database became the environment’s');
  const [owner] = await sql<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [
    access.database,
  ]);
  t.is(owner.owner, access.role);
  // The role reaches its database and the seed it ran there.
  const customers = await withClient(access.url, async (c) => (await c.query('SELECT count(*)::int AS n FROM sample_customers')).rows[0].n);
  t.is(customers, 3);
  await refusesAnotherRole(t, pool, access.database, 't-bbbbbbbbbb');
  t.is(await pooled(), 0);
  await pool.fill();
  t.is(await pooled(), 2, 'fill tops the pool up to its size');
});

const seeded = async () =>
  (await sql<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [SEEDED_PREFIX])).map((r) => r.datname);

test.serial('a database seeded ahead becomes the environment’s with its role: the seed is the role’s, its password new', async (t) => {
  const pool = createDatabasePool(server.adminUrl, 2, 60_000);
  t.teardown(() => pool.close());
  pool.seedWith([SAMPLE_SEED]);
  await pool.fill();
  const ready = await seeded();
  t.is(ready.length, 2, 'two seeded databases per seed');
  // Waiting ones are locked: their roles cannot log in, and nobody else may connect.
  const waiting = await sql<{ login: boolean }>('SELECT rolcanlogin AS login FROM pg_roles WHERE rolname = ANY($1)', [ready]);
  t.deepEqual(
    waiting.map((r) => r.login),
    [false, false],
  );
  const ref = { tenantId: 't-dddddddddd', env: 'demo' };
  const claim = (admin: Parameters<Parameters<typeof withClient>[1]>[0]) =>
    ensureTenantDatabase(
      admin,
      ref,
      { url: server.adminUrl, seed: 'sample' },
      (name, owner, setup) => pool.create(admin, name, owner, setup),
      (name, password, seed) => pool.claimSeeded(admin, name, password, seed),
    );
  const access = await withClient(server.adminUrl, claim);
  t.is(access.database, databaseName(ref));
  t.is((await seeded()).length, 1, 'one seeded database became the environment’s');
  t.false((await seeded()).includes(access.database));
  const owned = await withClient(access.url, async (c) => {
    const rows = await c.query("SELECT tableowner FROM pg_tables WHERE tablename IN ('sample_customers', 'sample_orders')");
    const customers = await c.query('SELECT count(*)::int AS n FROM sample_customers');
    await c.query('CREATE TABLE mine (v int)');
    return { owners: rows.rows.map((r) => r.tableowner), customers: customers.rows[0].n };
  });
  t.deepEqual(owned, { owners: [access.role, access.role], customers: 3 }, 'the seed’s tables are the role’s, and it may add its own');
  const [db] = await sql<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [
    access.database,
  ]);
  t.is(db.owner, access.role);
  await refusesAnotherRole(t, pool, access.database, 't-eeeeeeeeee');
  // A repeat keeps the data and gives a new password; the old one stops working.
  const again = await withClient(server.adminUrl, claim);
  t.is((await seeded()).length, 1, 'a repeat claims nothing');
  t.is(await withClient(again.url, async (c) => (await c.query('SELECT count(*)::int AS n FROM mine')).rows[0].n), 0);
  await t.throwsAsync(
    withClient(access.url, (c) => c.query('SELECT 1')),
    { message: /password authentication failed/ },
  );
});

test.serial('a seed that fails ahead leaves nothing behind and is not tried again; the launch runs it and reports it', async (t) => {
  const pool = createDatabasePool(server.adminUrl, 2, 60_000);
  t.teardown(() => pool.close());
  const broken = 'SELECT no_such_column FROM no_such_table';
  pool.seedWith([broken]);
  await t.throwsAsync(pool.fill(), { message: /no_such_table/ });
  const left = await sql('SELECT datname FROM pg_database WHERE datname LIKE $1', ['tp_seed%']);
  t.deepEqual(
    left.map((r) => r.datname).filter((n) => !(n as string).startsWith(SEEDED_PREFIX)),
    [],
    'no half-made database',
  );
  const roles = await sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_roles WHERE starts_with(rolname, 'tp_seed_')");
  t.is(roles[0].n, (await seeded()).length, 'no role without its database');
  const ref = { tenantId: 't-ffffffffff', env: 'demo' };
  await t.throwsAsync(
    withClient(server.adminUrl, (admin) =>
      ensureTenantDatabase(
        admin,
        ref,
        { url: server.adminUrl, seed: broken },
        (name, owner, setup) => pool.create(admin, name, owner, setup),
        (name, password, seed) => pool.claimSeeded(admin, name, password, seed),
      ),
    ),
    { message: /no_such_table/ },
  );
  await pool.fill();
  t.deepEqual(await sql('SELECT datname FROM pg_database WHERE datname LIKE $1', ['tp_seedw%']), [], 'the failed seed was not made again');
});

test.serial('a seeded database left half made is dropped with its role once old enough, unless someone is connected', async (t) => {
  const made = ['0000000000000001', '0000000000000002'].map((hex) => `deadbeef_${hex}`);
  for (const suffix of made) {
    await sql(`CREATE ROLE "tp_seed_${suffix}" NOLOGIN`);
    await sql(`CREATE DATABASE "tp_seedw_${suffix}" OWNER "tp_seed_${suffix}"`);
  }
  // The second one is being made: a connection is open to it.
  const url = new URL(server.adminUrl);
  url.pathname = `/tp_seedw_${made[1]}`;
  const dropped = await withClient(url.toString(), () => withClient(server.adminUrl, (admin) => dropHalfMade(admin, 0)));
  t.deepEqual(dropped, [`tp_seedw_${made[0]}`]);
  t.deepEqual(await sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'tp_seed_deadbeef%' ORDER BY 1"), [
    { rolname: `tp_seed_${made[1]}` },
  ]);
  t.deepEqual(await withClient(server.adminUrl, (admin) => dropHalfMade(admin, 3_600_000)), [], 'a young one is left alone');
  await sql(`DROP DATABASE "tp_seedw_${made[1]}"`);
  await sql(`DROP ROLE "tp_seed_${made[1]}"`);
});

test.serial('after a claim the pool refills by itself', async (t) => {
  const pool = createDatabasePool(server.adminUrl, 2, 50);
  t.teardown(() => pool.close());
  await pool.fill();
  await withClient(server.adminUrl, (admin) => pool.create(admin, 'tp_claim_refill', 'postgres'));
  await until(async () => (await pooled()) === 2, 'the pool holds 2 again');
  t.is(await pooled(), 2);
  await sql('DROP DATABASE "tp_claim_refill"');
});

test.serial('concurrent claims never share a database; an empty pool creates', async (t) => {
  const pool = createDatabasePool(server.adminUrl, 3, 60_000);
  t.teardown(() => pool.close());
  await pool.fill();
  const before = await pooled();
  const names = Array.from({ length: 6 }, (_, i) => `tp_claim_test_${i}`);
  await Promise.all(names.map((name) => withClient(server.adminUrl, (admin) => pool.create(admin, name, 'postgres'))));
  const made = await sql<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [names]);
  t.is(made.length, 6, 'every claim got a database of its own');
  t.is(before, 3);
  t.is(await pooled(), 0, 'the pool was drained, then the three beyond it were created (its refill waits a minute here)');
  for (const name of names) await sql(`DROP DATABASE "${name}"`);
});

test.serial('a pool of size 0 makes no databases ahead', async (t) => {
  for (const { datname } of await sql<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [POOL_PREFIX]))
    await sql(`DROP DATABASE "${datname}"`);
  const pool = createDatabasePool(server.adminUrl, 0, 10);
  await pool.fill();
  await withClient(server.adminUrl, (admin) => pool.create(admin, 'tp_t_cccccccccc_live_new', 'postgres'));
  await new Promise((r) => setTimeout(r, 300));
  t.is(await pooled(), 0);
  t.is((await sql('SELECT 1 FROM pg_database WHERE datname = $1', ['tp_t_cccccccccc_live_new'])).length, 1);
});

test.serial('the local driver warms up by filling its pool, seeded ones too, before any claim', async (t) => {
  for (const { datname } of await sql<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [POOL_PREFIX]))
    await sql(`DROP DATABASE "${datname}"`);
  const driver = createLocalResources({
    adminUrl: server.adminUrl,
    databasePool: 3,
    seeds: [SAMPLE_SEED],
    // Not reached by a warm-up.
    storageUrl: 'http://127.0.0.1:9',
    storageAdminToken: 'unused',
    projectId: 'demo-pool',
    bucketPrefix: 'demo-pool',
  });
  t.teardown(() => driver.close?.());
  for (const name of await seeded()) {
    await sql(`DROP DATABASE "${name}"`);
    await sql(`DROP ROLE "${name}"`);
  }
  await driver.warm?.();
  t.is(await pooled(), 3);
  t.is((await seeded()).length, 2);
  // The maintenance databases were locked down first, as before any use of the server.
  const [grants] = await sql<{ open: boolean }>("SELECT has_database_privilege('public', 'template1', 'CONNECT') AS open");
  t.false(grants.open);
});

test('a throwaway server without fsync copies by files, a durable one by PostgreSQL’s default', async (t) => {
  t.is(await withClient(server.adminUrl, copyStrategy), ' STRATEGY FILE_COPY', 'this test server runs with fsync=off');
  const answering = (fsync: string, version: string) =>
    ({ query: async () => ({ rows: [{ fsync, version }] }) }) as unknown as Parameters<typeof copyStrategy>[0];
  t.is(await copyStrategy(answering('on', '150018')), '');
  t.is(await copyStrategy(answering('off', '140011')), '', 'PostgreSQL 14 knows no STRATEGY');
  // The database FILE_COPY made is an ordinary one.
  await sql(`CREATE DATABASE strategy_probe${await withClient(server.adminUrl, copyStrategy)}`);
  t.deepEqual(await sql('SELECT datname FROM pg_database WHERE datname = $1', ['strategy_probe']), [{ datname: 'strategy_probe' }]);
  await sql('DROP DATABASE strategy_probe');
});
