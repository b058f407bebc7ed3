import test from 'ava';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeNodeApp, makeTarGz } from '../../testing/tar.ts';
import { AppError } from '../errors.ts';
import { createImageStore, parseLocalImage } from './store.ts';

let root: string;
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'images-'));
});
test.after.always(() => rm(root, { recursive: true, force: true }));

const pkg = (start = 'node server.js') => JSON.stringify({ name: 'app', scripts: { start } });

// Storing

test('an app is stored by the digest of its bytes and the same bytes again answer the same image', async (t) => {
  const store = createImageStore(join(root, 's1'));
  const archive = makeNodeApp({ name: 'Shop-App', version: '2.0.0' });
  const first = await store.put(archive, new Date());
  t.regex(first.image, /^local\/shop-app@sha256:[a-f0-9]{64}$/);
  t.deepEqual(first.start, ['server.js']);
  t.is(first.version, '2.0.0');
  const again = await store.put(archive, new Date(Date.now() + 5000));
  t.deepEqual(again, first);
  t.deepEqual((await readdir(join(root, 's1', 'sha256'))).length, 2);
  t.deepEqual(parseLocalImage(first.image)?.name, 'shop-app');
  t.deepEqual(await store.get(first.image.replace('shop-app', 'other')), undefined);
});

test('an app in one wrapping folder is unpacked without it, readable by everyone and writable by none but root', async (t) => {
  const store = createImageStore(join(root, 's2'));
  const { image } = await store.put(makeNodeApp({ version: '1.0.0', folder: 'package' }), new Date());
  const dest = join(root, 'unpacked');
  const found = await store.unpack(image, dest);
  t.true((await readFile(join(dest, found.start[0]), 'utf8')).includes('"1.0.0"'));
  t.is((await stat(join(dest, 'server.js'))).mode & 0o777, 0o644);
  t.is((await stat(join(dest, 'lib'))).mode & 0o777, 0o755);
  await t.throwsAsync(store.unpack('local/demo-app@sha256:' + 'a'.repeat(64), dest), { message: /not in the local image store/ });
});

// Refusing

const refuses = test.macro(async (t, archive: Buffer, message: RegExp) => {
  const dir = join(root, `r-${t.title.length}-${Math.random().toString(36).slice(2)}`);
  const store = createImageStore(dir, { maxBytes: 64 * 1024, maxUnpackedBytes: 256 * 1024, maxEntries: 50 });
  const error = await t.throwsAsync(store.put(archive, new Date()));
  t.true(error instanceof AppError);
  t.regex(error!.message, message);
  t.deepEqual(await readdir(dir).catch(() => []), [], 'nothing is stored');
});

test('a body that is not gzip is refused', refuses, Buffer.from('hello'), /not a gzip archive/);
test(
  'a path climbing out of the folder is refused',
  refuses,
  makeTarGz([
    { path: 'package.json', body: pkg() },
    { path: 'server.js', body: '' },
    { path: '../evil.js', body: 'x' },
  ]),
  /outside the app folder/,
);
test('an absolute path is refused', refuses, makeTarGz([{ path: '/etc/cron.d/x', body: 'x' }]), /outside the app folder/);
test(
  'a link pointing out of the folder is refused',
  refuses,
  makeTarGz([
    { path: 'package.json', body: pkg() },
    { path: 'server.js', body: '' },
    { path: 'data', type: 'SymbolicLink', linkpath: '../../etc' },
  ]),
  /points outside the app folder/,
);
test('a device entry is refused', refuses, makeTarGz([{ path: 'null', type: 'CharacterDevice' }]), /only files, folders and links/);
test('an archive without package.json is refused', refuses, makeTarGz([{ path: 'server.js', body: '' }]), /no package.json/);
test(
  'a start script that is not node <file> is refused',
  refuses,
  makeTarGz([
    { path: 'package.json', body: pkg('npm run build && node server.js') },
    { path: 'server.js', body: '' },
  ]),
  /"start" script of the form/,
);
test(
  'a start script naming a missing file is refused',
  refuses,
  makeTarGz([{ path: 'package.json', body: pkg('node main.js') }]),
  /not a file of the archive/,
);
test('package.json that is not JSON is refused', refuses, makeTarGz([{ path: 'package.json', body: '{name' }]), /not valid JSON/);
test(
  'an archive that unpacks past the limit is refused',
  refuses,
  makeTarGz([
    { path: 'package.json', body: pkg() },
    { path: 'server.js', body: Buffer.alloc(300 * 1024) },
  ]),
  /unpacks to more than/,
);
