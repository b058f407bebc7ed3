/**
 * Local images through the API and the CLI (R-REL-1): an admin publishes an
 * app folder, gets its content-addressed name, and bad archives are refused
 * with a §9 error that stores nothing.
 */
import test from 'ava';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCliHome, type CliHome } from '../cli/cli-test-kit.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { makeTarGz } from '../testing/tar.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

let stack: TestStack;
let admin: TestUser;
let user: TestUser;
let cli: CliHome;
let folder: string;

test.before(async () => {
  stack = await startTestStack();
  [admin, user] = await Promise.all([createTestUser(stack.deps, { role: 'admin' }), createTestUser(stack.deps)]);
  cli = createCliHome();
  const login = await cli.run(['login', '--url', stack.url, '--token', admin.token]);
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  folder = await mkdtemp(join(tmpdir(), 'tp-app-'));
  await writeFile(
    join(folder, 'package.json'),
    JSON.stringify({ name: 'hello-app', version: '1.2.3', scripts: { start: 'node src/main.js' } }),
  );
  await mkdir(join(folder, 'src'));
  await writeFile(join(folder, 'src', 'main.js'), 'console.log("hi")');
});
test.after.always(async () => {
  cli?.remove();
  await rm(folder, { recursive: true, force: true });
  await stack?.close();
});

const imagesOnDisk = async () => (await readdir(join(stack.dataDir, 'images', 'sha256')).catch(() => [])).length;

test.serial('images push publishes a folder and answers its content-addressed name; pushing it again answers the same', async (t) => {
  const first = await cli.run(['images', 'push', folder]);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout.trim(), /^local\/hello-app@sha256:[a-f0-9]{64}$/);
  const again = await cli.run(['images', 'push', folder]);
  t.is(again.stdout, first.stdout);
  const list = await cli.run(['images', 'list', '--json']);
  t.deepEqual(
    JSON.parse(list.stdout).images.map((i: { image: string; version: string }) => [i.image, i.version]),
    [[first.stdout.trim(), '1.2.3']],
  );
});

test.serial('a bad archive is a 400 naming the problem, and nothing is stored', async (t) => {
  const before = await imagesOnDisk();
  const res = await stack.fetch('/api/v1/images', {
    method: 'POST',
    token: admin.token,
    headers: { 'content-type': 'application/gzip' },
    body: new Blob([
      new Uint8Array(
        makeTarGz([
          { path: 'package.json', body: '{}' },
          { path: '../../escape.js', body: 'x' },
        ]),
      ),
    ]),
  });
  t.is(res.status, 400);
  t.like((await res.json()).error, { code: 'validation_failed' });
  const notGzip = await stack.fetch('/api/v1/images', {
    method: 'POST',
    token: admin.token,
    headers: { 'content-type': 'application/gzip' },
    body: 'plain',
  });
  t.is(notGzip.status, 400);
  t.is(await imagesOnDisk(), before);
});

test.serial('only admins publish images', async (t) => {
  const res = await stack.fetch('/api/v1/images', {
    method: 'POST',
    token: user.token,
    headers: { 'content-type': 'application/gzip' },
    body: new Blob([new Uint8Array(makeTarGz([{ path: 'package.json', body: '{}' }]))]),
  });
  t.is(res.status, 403);
  const push = await cli.run(['images', 'push', join(folder, 'missing')]);
  t.is(push.code, 1);
  t.regex(push.stderr, /is not a folder/);
});
