import test from 'ava';
import { Storage } from '@google-cloud/storage';
import { startStorageEmulator, type StorageEmulator } from './server.ts';
import { allocatePort } from '../../testing/ports.ts';

const ADMIN = 'owner-token-for-tests';
let emulator: StorageEmulator;
let clock = new Date('2026-01-10T00:00:00Z');

test.before(async () => {
  emulator = await startStorageEmulator({ port: await allocatePort(), adminToken: ADMIN, now: () => clock });
});
test.after.always(() => emulator.close());

/**
 * The unmodified client, pointed at the emulator, acting with `token`. With a
 * custom endpoint it sends no credentials of its own (and 7.x drops
 * `useAuthWithCustomEndpoint` on resumable uploads), so the token goes in
 * through the client's documented request interceptors, which every request uses.
 */
function client(token: string): Storage {
  const storage = new Storage({ apiEndpoint: emulator.url, projectId: 'demo-tenantplane' });
  storage.interceptors.push({
    request: (opts) => {
      opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
      return opts as typeof opts & { uri: string };
    },
  });
  return storage;
}

const call = (path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(emulator.url + path, { ...init, headers: { authorization: `Bearer ${init.token ?? ADMIN}`, 'content-type': 'application/json' } });

async function principal(member: string, token: string) {
  const res = await call('/_emulator/v1/principals', { method: 'POST', body: JSON.stringify({ member, token }) });
  if (!res.ok) throw new Error(await res.text());
}

// Buckets and objects through @google-cloud/storage

test('the client creates a bucket, uploads (resumable and multipart), lists, downloads and deletes', async (t) => {
  const storage = client(ADMIN);
  const [bucket] = await storage.createBucket('emu-roundtrip', { iamConfiguration: { uniformBucketLevelAccess: { enabled: true } } });
  t.is(bucket.name, 'emu-roundtrip');
  const big = Buffer.alloc(300_000, 7);
  await bucket.file('dir/big.bin').save(big);
  await bucket.file('small.txt').save('hello', { resumable: false, contentType: 'text/plain' });
  const [files] = await bucket.getFiles();
  t.deepEqual(files.map((f) => f.name).sort(), ['dir/big.bin', 'small.txt']);
  t.deepEqual((await bucket.file('dir/big.bin').download())[0], big);
  t.is((await bucket.file('small.txt').download())[0].toString(), 'hello');
  const [meta] = await bucket.file('small.txt').getMetadata();
  t.is(meta.contentType, 'text/plain');
  t.is(meta.size, '5');
  await t.throwsAsync(bucket.delete(), { message: /not empty/ });
  await bucket.deleteFiles();
  await bucket.delete();
  t.false((await bucket.exists())[0]);
});

test('the JSON API also answers without /storage/v1, as the client calls it when STORAGE_EMULATOR_HOST is set', async (t) => {
  const res = await call('/b?project=demo-tenantplane');
  t.is(res.status, 200);
  t.is(((await res.json()) as { kind: string }).kind, 'storage#buckets');
});

test('calls without a token, or with an unknown one, are refused', async (t) => {
  t.is((await fetch(`${emulator.url}/storage/v1/b?project=demo-tenantplane`)).status, 401);
  t.is((await call('/storage/v1/b?project=demo-tenantplane', { token: 'not-a-known-token-at-all' })).status, 401);
});

// Access follows the bucket's IAM policy

test('an object admin of one bucket reaches that bucket only', async (t) => {
  const owner = client(ADMIN);
  for (const name of ['emu-alpha', 'emu-beta']) await owner.createBucket(name);
  await principal('serviceAccount:alpha@x.iam.gserviceaccount.com', 'alpha-token-0123456789');
  await principal('serviceAccount:beta@x.iam.gserviceaccount.com', 'beta-token-0123456789a');
  for (const [bucket, who] of [
    ['emu-alpha', 'alpha'],
    ['emu-beta', 'beta'],
  ]) {
    const res = await call(`/storage/v1/b/${bucket}/iam`, {
      method: 'PUT',
      body: JSON.stringify({
        bindings: [{ role: 'roles/storage.objectAdmin', members: [`serviceAccount:${who}@x.iam.gserviceaccount.com`] }],
      }),
    });
    t.is(res.status, 200);
  }
  const alpha = client('alpha-token-0123456789');
  await alpha.bucket('emu-alpha').file('mine.txt').save('alpha data');
  t.is((await alpha.bucket('emu-alpha').file('mine.txt').download())[0].toString(), 'alpha data');
  await owner.bucket('emu-beta').file('secret.txt').save('beta data');
  await t.throwsAsync(alpha.bucket('emu-beta').file('secret.txt').download(), { message: /does not have storage.objects.get access/ });
  await t.throwsAsync(alpha.bucket('emu-beta').getFiles(), { message: /storage.objects.list/ });
  await t.throwsAsync(alpha.bucket('emu-beta').file('x.txt').save('intrusion', { resumable: false }), {
    message: /storage.objects.create/,
  });
  await t.throwsAsync(alpha.createBucket('emu-alpha-2'), { message: /storage.buckets.create/ });
  t.is((await call('/storage/v1/b/emu-beta/iam', { token: 'alpha-token-0123456789' })).status, 403);
  t.deepEqual(
    (await owner.bucket('emu-beta').getFiles())[0].map((f) => f.name),
    ['secret.txt'],
  );
});

// Lifecycle

test('a Delete rule with an age removes objects older than that many days', async (t) => {
  const owner = client(ADMIN);
  const [bucket] = await owner.createBucket('emu-lifecycle', {
    lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { age: 30 } }] },
  });
  await bucket.file('old.txt').save('old', { resumable: false });
  clock = new Date(clock.getTime() + 20 * 86_400_000);
  await bucket.file('new.txt').save('new', { resumable: false });
  clock = new Date(clock.getTime() + 11 * 86_400_000);
  t.deepEqual(
    (await bucket.getFiles())[0].map((f) => f.name),
    ['new.txt'],
  );
});

test('a Delete rule narrowed by matchesPrefix and matchesSuffix removes only the objects it names', async (t) => {
  const owner = client(ADMIN);
  const [bucket] = await owner.createBucket('emu-lifecycle-prefix', {
    lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { age: 7, matchesPrefix: ['tmp/', 'cache/'], matchesSuffix: ['.gz'] } }] },
  });
  for (const name of ['tmp/a.tar.gz', 'cache/b.gz', 'tmp/c.txt', 'keep/d.gz']) await bucket.file(name).save('x', { resumable: false });
  clock = new Date(clock.getTime() + 8 * 86_400_000);
  t.deepEqual((await bucket.getFiles())[0].map((f) => f.name).sort(), ['keep/d.gz', 'tmp/c.txt']);
});

test('bad input gets the documented error body and changes nothing', async (t) => {
  const res = await call('/storage/v1/b?project=demo-tenantplane', { method: 'POST', body: JSON.stringify({ name: 'Bad_Name!' }) });
  t.is(res.status, 400);
  const body = (await res.json()) as { error: { code: number; message: string; errors: unknown[] } };
  t.is(body.error.code, 400);
  t.regex(body.error.message, /Invalid bucket name/);
  const list = (await (await call('/storage/v1/b?project=demo-tenantplane')).json()) as { items: Array<{ name: string }> };
  t.false(list.items.some((b) => b.name === 'Bad_Name!'));
});
