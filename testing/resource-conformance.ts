/**
 * The one conformance suite of resource drivers (issue 21), run against each
 * driver with real servers behind it: a database per environment that only its
 * own role reaches, seeds, password rotation, drop and removal, buckets with
 * the environment's identity as object admin. What a driver's flags say it
 * lacks is skipped, never faked.
 */
import type { TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withClient } from '../shared/resources/sql.ts';
import type { ResourceDriver, ResourceRef } from '../shared/resources/types.ts';

export interface ResourceHarness {
  driver: ResourceDriver;
  /** A superuser connection to the server the databases live on, to look at what the driver made. */
  superuserUrl: string;
  /** The bucket's IAM policy bindings as the storage API holds them. */
  bucketPolicy(name: string): Promise<Array<{ role: string; members: string[] }> | undefined>;
  /** Writes an object into a bucket as the environment would (for the export test). */
  putObject?(bucket: string, name: string, body: string): Promise<void>;
  /** The bucket's resource as the storage API holds it (for the exports bucket's settings). */
  bucketResource?(name: string): Promise<Record<string, any> | undefined>;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const newRef = (env = 'live'): ResourceRef => ({ tenantId: `t-${Array.from(randomBytes(10), (b) => ALPHABET[b & 31]).join('')}`, env });
const query = (url: string, sql: string) => withClient(url, async (c) => (await c.query(sql)).rows);
const withDb = (url: string, db: string) => Object.assign(new URL(url), { pathname: `/${db}` }).toString();

export function testResourceDriver(test: TestFn, name: string, start: () => Promise<ResourceHarness>, stop: () => Promise<void>): void {
  let h: ResourceHarness;
  test.before(async () => {
    h = await start();
  });
  test.after.always(stop);
  const exists = async (sql: string, value: string) =>
    withClient(h.superuserUrl, async (c) => ((await c.query(sql, [value])).rowCount ?? 0) > 0);

  test(`${name}: a database is made once, seeded, and reached with its own URL; a repeat keeps the data under a new password`, async (t) => {
    if (!h.driver.flags.database) return t.pass('no databases on this driver');
    const ref = newRef('demo');
    const first = await h.driver.ensureDatabase(ref, { seed: 'CREATE TABLE seeded (v int); INSERT INTO seeded VALUES (42);' });
    t.deepEqual(await query(first.url, 'SELECT v FROM seeded'), [{ v: 42 }]);
    await query(first.url, 'INSERT INTO seeded VALUES (43)');
    const again = await h.driver.ensureDatabase(ref, { seed: 'CREATE TABLE seeded (v int)' });
    t.is(again.database, first.database);
    t.deepEqual(await query(again.url, 'SELECT v FROM seeded ORDER BY v'), [{ v: 42 }, { v: 43 }]);
    await t.throwsAsync(query(first.url, 'SELECT 1'), { message: /password authentication failed/ });
    await h.driver.removeDatabase(ref);
  });

  test(`${name}: one environment's role reaches no other database and cannot widen its rights`, async (t) => {
    if (!h.driver.flags.database) return t.pass('no databases on this driver');
    const [a, b] = [newRef(), newRef()];
    const [accessA, accessB] = [await h.driver.ensureDatabase(a, {}), await h.driver.ensureDatabase(b, {})];
    for (const db of [accessB.database, 'postgres', 'template1'])
      await t.throwsAsync(query(withDb(accessA.url, db), 'SELECT 1'), { message: /permission denied for database/ }, db);
    await t.throwsAsync(query(accessA.url, `GRANT ${accessB.role} TO CURRENT_USER`));
    await t.throwsAsync(query(accessA.url, 'CREATE ROLE sneaky LOGIN'));
    await t.throwsAsync(query(accessA.url, 'CREATE DATABASE sneaky'));
    const attrs = await withClient(
      h.superuserUrl,
      async (c) => (await c.query('SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1', [accessA.role])).rows[0],
    );
    t.deepEqual(attrs, { rolsuper: false, rolcreaterole: false, rolcreatedb: false });
    await h.driver.removeDatabase(a);
    await h.driver.removeDatabase(b);
  });

  test(`${name}: rotation ends the old password and its sessions`, async (t) => {
    if (!h.driver.flags.database) return t.pass('no databases on this driver');
    const ref = newRef();
    const old = await h.driver.ensureDatabase(ref, {});
    const fresh = await h.driver.rotateDatabasePassword(ref);
    t.not(fresh.url, old.url);
    await t.throwsAsync(query(old.url, 'SELECT 1'), { message: /password authentication failed/ });
    t.deepEqual(await query(fresh.url, 'SELECT 1 AS one'), [{ one: 1 }]);
    await h.driver.removeDatabase(ref);
    await t.throwsAsync(h.driver.rotateDatabasePassword(ref));
  });

  test(`${name}: a dropped database comes back from its seed; removal takes database and role, and repeats`, async (t) => {
    if (!h.driver.flags.database) return t.pass('no databases on this driver');
    const ref = newRef('test');
    const seed = 'CREATE TABLE items (n int); INSERT INTO items VALUES (1);';
    const first = await h.driver.ensureDatabase(ref, { seed });
    await query(first.url, 'INSERT INTO items VALUES (2)');
    await h.driver.dropDatabase(ref);
    await h.driver.dropDatabase(ref);
    const back = await h.driver.ensureDatabase(ref, { seed });
    t.deepEqual(await query(back.url, 'SELECT n FROM items'), [{ n: 1 }]);
    await h.driver.removeDatabase(ref);
    await h.driver.removeDatabase(ref);
    t.false(await exists('SELECT 1 FROM pg_database WHERE datname = $1', back.database));
    t.false(await exists('SELECT 1 FROM pg_roles WHERE rolname = $1', back.role));
  });

  test(`${name}: a bucket is made once with the environment as its object admin, and removed with its objects`, async (t) => {
    if (!h.driver.flags.bucket) return t.pass('no buckets on this driver');
    const ref = newRef();
    const first = await h.driver.ensureBucket(ref, { deleteAfterDays: 30, serviceAccount: `tp-${ref.tenantId}@p.iam.gserviceaccount.com` });
    const again = await h.driver.ensureBucket(ref, { deleteAfterDays: 30, serviceAccount: `tp-${ref.tenantId}@p.iam.gserviceaccount.com` });
    t.is(again.name, first.name);
    t.is(first.vars.BUCKET_NAME, first.name);
    const admins = (await h.bucketPolicy(first.name))?.find((b) => b.role === 'roles/storage.objectAdmin')?.members ?? [];
    t.is(admins.length, 1, 'one member, however often ensured');
    await h.driver.removeBucket(ref);
    await h.driver.removeBucket(ref);
    t.is(await h.bucketPolicy(first.name), undefined);
  });

  test(`${name}: a backup restores into its environment, and a live backup into test, as the target's own role`, async (t) => {
    if (!h.driver.flags.backups) return t.pass('no backups on this driver');
    const [live, test2] = [newRef('live'), newRef('test')];
    test2.tenantId = live.tenantId;
    const access = await h.driver.ensureDatabase(live, { seed: 'CREATE TABLE orders (n int); INSERT INTO orders VALUES (1), (2);' });
    const testAccess = await h.driver.ensureDatabase(test2, {});
    const first = await h.driver.backupDatabase!(live, 'b1');
    t.true(first.sizeBytes > 0);
    t.deepEqual(await h.driver.backupDatabase!(live, 'b1'), first, 'a repeat finds the finished backup');
    const together = await Promise.all([h.driver.backupDatabase!(live, 'b2'), h.driver.backupDatabase!(test2, 'b2')]);
    t.true(
      together.every((b) => b.sizeBytes > 0),
      'two backups at once both finish',
    );
    await Promise.all([h.driver.deleteBackup!(live, 'b2'), h.driver.deleteBackup!(test2, 'b2')]);
    await query(access.url, 'DELETE FROM orders; CREATE TABLE junk (x int)');
    await h.driver.restoreDatabase!(live, 'b1', live);
    t.deepEqual(await query(access.url, 'SELECT n FROM orders ORDER BY n'), [{ n: 1 }, { n: 2 }], 'the data is back');
    t.deepEqual(await query(access.url, "SELECT tablename FROM pg_tables WHERE tablename = 'junk'"), [], 'later changes are gone');
    await h.driver.restoreDatabase!(live, 'b1', test2);
    t.deepEqual(await query(testAccess.url, 'SELECT n FROM orders ORDER BY n'), [{ n: 1 }, { n: 2 }], 'test got a copy of live');
    const owner = await withClient(
      h.superuserUrl,
      async (c) => (await c.query("SELECT tableowner FROM pg_tables WHERE tablename = 'orders' AND schemaname = 'public'")).rows,
    );
    t.true(
      owner.every((r) => r.tableowner === testAccess.role || r.tableowner === access.role),
      'owned by the tenant roles, not the platform',
    );
    await h.driver.deleteBackup!(live, 'b1');
    await t.throwsAsync(h.driver.restoreDatabase!(live, 'b1', live), { message: /missing/ });
    await t.throwsAsync(h.driver.backupDatabase!(live, '../escape'), { message: /not a backup id/ });
    await h.driver.removeDatabase(live);
    await h.driver.removeDatabase(test2);
  });

  test(`${name}: an owner's export holds the database as plain SQL and every object of the bucket`, async (t) => {
    if (!h.driver.exportData || !h.driver.flags.database || !h.driver.flags.bucket || !h.putObject)
      return t.pass('no export on this driver');
    const ref = newRef('live');
    await h.driver.ensureDatabase(ref, { seed: "CREATE TABLE orders (item text); INSERT INTO orders VALUES ('exported-row-7');" });
    const bucket = await h.driver.ensureBucket(ref, { deleteAfterDays: 0 });
    await h.putObject(bucket.name, 'docs/a.txt', 'hello');
    await h.putObject(bucket.name, '../escape', 'contained');
    const dir = mkdtempSync(join(tmpdir(), 'tp-export-conf-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const result = await h.driver.exportData(ref, dir);
    t.is(result.files, 3);
    const dump = readFileSync(join(dir, 'database.sql'), 'utf8');
    t.regex(dump, /CREATE TABLE public\.orders/);
    t.regex(dump, /exported-row-7/);
    t.is(readFileSync(join(dir, 'bucket', 'docs', 'a.txt'), 'utf8'), 'hello');
    t.is(readFileSync(join(dir, 'bucket', encodeURIComponent('../escape')), 'utf8'), 'contained', 'a name leaving the folder stays inside');
    await h.driver.removeBucket(ref);
    await h.driver.removeDatabase(ref);
  });

  test(`${name}: export archives go to the platform-only exports bucket with a retention rule, and a tenant's purge takes only its own`, async (t) => {
    const archives = h.driver.archives;
    if (!archives || !h.driver.exportData) return t.pass('no export on this driver');
    const [a, b] = [newRef().tenantId, newRef().tenantId];
    const dir = mkdtempSync(join(tmpdir(), 'tp-archives-conf-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'archive.tar.gz');
    const bytes = randomBytes(200_000);
    writeFileSync(file, bytes);
    t.deepEqual(await archives.put(a, 'x20260101000000-aaaa', file), { sizeBytes: bytes.length });
    t.deepEqual(await archives.put(a, 'x20260101000000-aaaa', file), { sizeBytes: bytes.length }, 'a repeat replaces it');
    await archives.put(a, 'x20260102000000-bbbb', file);
    await archives.put(b, 'x20260101000000-aaaa', file);
    const opened = await archives.open(a, 'x20260101000000-aaaa');
    t.is(opened?.sizeBytes, bytes.length);
    t.deepEqual(Buffer.from(await new Response(opened!.body).arrayBuffer()), bytes);
    t.is(await archives.open(a, 'x20260103000000-cccc'), undefined, 'an archive never made is not kept');
    await t.throwsAsync(archives.open('../x', 'x20260101000000-aaaa'), { message: /not an export/ });
    if (h.bucketResource) {
      const bucket = await h.bucketResource(archives.bucket);
      t.like(bucket?.iamConfiguration, { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' });
      t.deepEqual(bucket?.lifecycle?.rule, [{ action: { type: 'Delete' }, condition: { age: 7 } }]);
    }
    const members = ((await h.bucketPolicy(archives.bucket)) ?? []).flatMap((binding) => binding.members);
    t.false(
      members.some((m) => m.includes(a) || m.includes(b) || m.startsWith('serviceAccount:')),
      `no tenant member: ${members.join(', ')}`,
    );
    t.is(await archives.removeAll(a), 2);
    t.is(await archives.removeAll(a), 0, 'a repeat finds nothing');
    t.is(await archives.open(a, 'x20260102000000-bbbb'), undefined);
    t.is((await archives.open(b, 'x20260101000000-aaaa'))?.sizeBytes, bytes.length, "another tenant's archive stays");
    await archives.removeAll(b);
  });
}
