/**
 * Releases in production shape: with Artifact Registry (its fake, which checks
 * who asks), a release names a tag and is created with the digest the tag
 * points to then; a later push to the tag leaves the release as it was.
 */
import test from 'ava';
import { ensureRepository, grantOnRepository, repositoryName } from '../shared/gcp/artifact-registry.ts';
import { createGcpClients } from '../shared/gcp/identity.ts';
import { FAKE_PLATFORM_SERVICE_ACCOUNT, startCloudRunFake, type CloudRunFake } from '../testing/fakes/cloud-run-fake.ts';
import { fakeGoogleClientOptions } from '../testing/fakes/google-auth.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { makeNodeApp } from '../testing/tar.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

process.env.METADATA_SERVER_DETECTION ??= 'none';

let fake: CloudRunFake;
let stack: TestStack;
let admin: TestUser;
const IMAGE = 'us-central1-docker.pkg.dev/tp-test/tp-releases/shop';

test.before(async () => {
  fake = await startCloudRunFake();
  const gcp = createGcpClients(fakeGoogleClientOptions(fake.url));
  stack = await startTestStack({
    env: {
      REGISTRY_DRIVER: 'artifact-registry',
      REGISTRY: 'us-central1-docker.pkg.dev/tp-test',
      REGISTRY_TOKEN_MINTER: FAKE_PLATFORM_SERVICE_ACCOUNT,
    },
    deps: { gcp },
  });
  admin = await createTestUser(stack.deps, { role: 'admin' });
  const repository = repositoryName('tp-test', 'us-central1', 'tp-releases');
  await ensureRepository(gcp.rest, repository, {});
  await grantOnRepository(gcp.rest, repository, [
    { role: 'roles/artifactregistry.writer', member: `serviceAccount:${FAKE_PLATFORM_SERVICE_ACCOUNT}` },
  ]);
});
test.after.always(async () => {
  await stack?.close();
  await fake?.close();
});

const post = (json: unknown) => stack.fetch('/api/v1/releases', { method: 'POST', token: admin.token, json });

test('a release resolves its tag to the digest pushed, and a later push to the tag does not change it', async (t) => {
  const digest = fake.artifactRegistry.push('fake-access-token', `${IMAGE}:v2`);
  const res = await post({ name: 'v2', image: `${IMAGE}:v2`, notes: 'second' });
  t.is(res.status, 201);
  const { release } = await res.json();
  t.like(release, { name: 'v2', image: `${IMAGE}@${digest}`, digest, source: `${IMAGE}:v2`, notes: 'second', createdBy: admin.email });
  fake.artifactRegistry.push('fake-access-token', `${IMAGE}:v2`);
  const list = await (await stack.fetch('/api/v1/releases', { token: admin.token })).json();
  t.is(list.releases.find((r: { name: string }) => r.name === 'v2').image, `${IMAGE}@${digest}`);
});

test('a tag that was never pushed, or an image outside the registry, is a 400 and creates nothing', async (t) => {
  const missing = await post({ name: 'v9', image: `${IMAGE}:v9` });
  t.is(missing.status, 400);
  t.regex((await missing.json()).error.message, /has no image/);
  const elsewhere = await post({ name: 'v8', image: 'docker.io/library/nginx:latest' });
  t.is(elsewhere.status, 400);
  const list = await (await stack.fetch('/api/v1/releases', { token: admin.token })).json();
  t.false(list.releases.some((r: { name: string }) => r.name === 'v9' || r.name === 'v8'));
});

test('local image archives are refused with 501 when images live in Artifact Registry', async (t) => {
  const res = await stack.fetch('/api/v1/images', {
    method: 'POST',
    token: admin.token,
    headers: { 'content-type': 'application/gzip' },
    body: new Blob([new Uint8Array(makeNodeApp({ version: '1.0.0' }))]),
  });
  t.is(res.status, 501);
  t.like((await res.json()).error, { code: 'not_supported' });
});
