/**
 * Owner exports (issue 21, offboarding) on the real local PostgreSQL and
 * storage emulator, with every function in its own process as deployed: the
 * archive downloaded through the API holds the database dump with the app's
 * rows and the bucket's objects; only the tenant's owner may download it. The
 * worker and the api share no archive on disk (in production they are
 * separate instances): it goes through the platform's exports bucket, whose
 * lifecycle deletes it after EXPORT_RETENTION_DAYS, and a purge takes it too.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x as extract } from 'tar';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { latestEventId, waitForEvent } from '../testing/events.ts';
import { createCliHome, type CliHome } from '../cli/cli-test-kit.ts';
import { sweepDeletedTenants } from '../shared/tenants/grace.ts';

let stack: TestStack;
let owner: TestUser;
let stranger: TestUser;
let tenant: { id: string; urls: Record<string, string> };
let cli: CliHome;
const scratch = mkdtempSync(join(tmpdir(), 'tp-export-test-'));
/** The provision worker's own temporary folder, as a Cloud Run instance has its own disk. */
const workerTmp = join(scratch, 'worker-tmp');
/** How far the storage emulator's clock runs ahead of the real one (its lifecycle ages objects by it). */
let storageAheadMs = 0;
const DAY_MS = 86_400_000;

test.before(async () => {
  mkdirSync(workerTmp);
  stack = await startTestStack({
    bundles: true,
    functionEnv: { provision: { TMPDIR: workerTmp } },
    storageNow: () => new Date(Date.now() + storageAheadMs),
  });
  [owner, stranger] = await Promise.all([createTestUser(stack.deps), createTestUser(stack.deps)]);
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'leaving', environments: ['test', 'live'] },
  });
  const { tenant: created } = await res.json();
  await waitForEvent(stack.streamUrl, created.id, owner.token, ['tenant_ready', 'provisioning_failed'], 90_000);
  tenant = (await (await stack.fetch(`/api/v1/tenants/${created.id}`, { token: owner.token })).json()).tenant;
  cli = createCliHome();
  const login = await cli.run(['login', '--url', stack.url, '--token', owner.token]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
});
test.after.always(async () => {
  cli?.remove();
  rmSync(scratch, { recursive: true, force: true });
  await stack?.close();
});

const api = (user: TestUser, method: string, path: string, json?: unknown) =>
  stack.fetch(`/api/v1/tenants/${tenant.id}${path}`, { method, token: user.token, json });

/** The objects of the platform's exports bucket, as the storage API lists them. */
async function archivedObjects(): Promise<string[]> {
  const bucket = `${stack.config.resources.bucketPrefix}-exports`;
  const res = await fetch(`${stack.data!.storageUrl}/storage/v1/b/${bucket}/o`, {
    headers: { authorization: `Bearer ${stack.data!.storageToken}` },
  });
  if (res.status === 404) return [];
  return (((await res.json()) as { items?: Array<{ name: string }> }).items ?? []).map((o) => o.name);
}

async function unpack(archive: Buffer, name: string): Promise<string> {
  const dir = join(scratch, name);
  const file = `${dir}.tar.gz`;
  writeFileSync(file, archive);
  await import('node:fs').then((fs) => fs.mkdirSync(dir, { recursive: true }));
  await extract({ file, cwd: dir });
  return dir;
}

test.serial(
  "an export of live holds the app's rows in its SQL dump and the bucket's objects, and downloads only for the owner",
  async (t) => {
    const live = tenant.urls.live;
    await fetch(`${live}/data/visits`, { method: 'POST' });
    t.deepEqual(await (await fetch(`${live}/data/visits`, { method: 'POST' })).json(), { visits: 2 });
    t.is((await fetch(`${live}/data/files/invoice.txt`, { method: 'PUT', body: 'invoice 42' })).status, 201);

    t.is((await api(owner, 'POST', '/exports', { env: 'staging' })).status, 400, 'an unknown environment is refused');
    t.is((await api(stranger, 'POST', '/exports', {})).status, 404);
    const after = await latestEventId(stack.streamUrl, tenant.id, owner.token);
    const res = await api(owner, 'POST', '/exports', { env: 'live' });
    t.is(res.status, 202, await res.clone().text());
    const body = await res.json();
    t.like(body.export, { env: 'live', status: 'pending' });
    t.is((await stack.fetch(body.links.download, { token: owner.token })).status, 409, 'not ready yet');
    await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['export_ready', 'export_failed'], 90_000, after);

    const listed = (await (await api(owner, 'GET', '/exports')).json()).exports;
    t.like(listed[0], { id: body.export.id, status: 'done', env: 'live' });
    t.is((await stack.fetch(body.links.download, { token: stranger.token })).status, 404, "another user's export is not found");
    t.is((await stack.fetch(body.links.download)).status, 401);
    const download = await stack.fetch(body.links.download, { token: owner.token });
    t.is(download.status, 200);
    t.is(download.headers.get('content-type'), 'application/gzip');
    t.regex(
      download.headers.get('content-disposition') ?? '',
      new RegExp(`attachment; filename="leaving-live-${body.export.id}\\.tar\\.gz"`),
    );
    const dir = await unpack(Buffer.from(await download.arrayBuffer()), 'api');
    const sql = readFileSync(join(dir, 'live', 'database.sql'), 'utf8');
    t.regex(sql, /CREATE TABLE public\.app_visits/);
    t.regex(sql, /COPY public\.app_visits .* FROM stdin;\n(.+\n){2}\\\.\n/, 'both visits are in the dump');
    t.is(readFileSync(join(dir, 'live', 'bucket', 'invoice.txt'), 'utf8'), 'invoice 42');

    t.deepEqual(await archivedObjects(), [`${tenant.id}/${body.export.id}.tar.gz`], 'the archive is in the exports bucket');
    t.false(existsSync(join(stack.dataDir, 'exports')), 'nothing is written under DATA_DIR/exports');
    t.deepEqual(readdirSync(workerTmp), [], "the worker's temporary files are gone");
    const days = (Date.parse(listed[0].expiresAt) - Date.parse(listed[0].createdAt)) / DAY_MS;
    t.true(days > 6.9 && days < 7.1, `expiresAt is EXPORT_RETENTION_DAYS (7) after the export: ${listed[0].expiresAt}`);
  },
);

test.serial('the CLI exports the whole tenant into a file, one folder per environment', async (t) => {
  const out = join(scratch, 'all.tar.gz');
  const res = await cli.run(['export', 'leaving', '--out', out]);
  t.is(res.code, 0, `${res.stdout}\n${res.stderr}`);
  t.regex(res.stdout, /export ready/);
  t.regex(res.stdout, /Saved .*all\.tar\.gz/);
  const dir = await unpack(readFileSync(out), 'cli');
  t.regex(readFileSync(join(dir, 'live', 'database.sql'), 'utf8'), /app_visits/);
  t.regex(readFileSync(join(dir, 'test', 'database.sql'), 'utf8'), /PostgreSQL database dump/);
  t.is(readFileSync(join(dir, 'live', 'bucket', 'invoice.txt'), 'utf8'), 'invoice 42');
});

test.serial("an archive past its retention is deleted by the bucket's lifecycle and its download answers gone", async (t) => {
  const [done] = (await (await api(owner, 'GET', '/exports')).json()).exports;
  t.true((await archivedObjects()).length >= 2, 'both archives are kept before');
  storageAheadMs = 8 * DAY_MS;
  t.teardown(() => {
    storageAheadMs = 0;
  });
  const res = await api(owner, 'GET', `/exports/${done.id}/download`);
  t.is(res.status, 410);
  const { error } = await res.json();
  t.is(error.code, 'gone');
  t.regex(error.message, /export again/);
  t.deepEqual(await archivedObjects(), [], 'the lifecycle rule deleted every archive');
});

test.serial("purging the deleted tenant's data deletes its archives", async (t) => {
  let after = await latestEventId(stack.streamUrl, tenant.id, owner.token);
  const res = await api(owner, 'POST', '/exports', { env: 'test' });
  t.is(res.status, 202, await res.clone().text());
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['export_ready', 'export_failed'], 90_000, after);
  t.is((await archivedObjects()).length, 1);
  after = await latestEventId(stack.streamUrl, tenant.id, owner.token);
  t.is((await api(owner, 'DELETE', '')).status, 202);
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_deleted', 'delete_failed'], 90_000, after);
  t.is((await archivedObjects()).length, 1, 'kept while the tenant can be restored');
  const later = new Date(Date.now() + (stack.config.resources.graceDays + 1) * DAY_MS);
  t.like(await sweepDeletedTenants({ ...stack.deps, now: () => later }), { purged: 1 });
  t.deepEqual(await archivedObjects(), []);
});
