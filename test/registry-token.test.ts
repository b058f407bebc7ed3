/**
 * The registry-token path end to end (issue #13): the API and the provision
 * worker against the IAM, IAM Credentials and Artifact Registry fakes, which
 * check which identity asks. Tenants run on the local runtime; only the
 * registry is Google's.
 */
import test from 'ava';
import { createGcpClients } from '../shared/gcp/identity.ts';
import { FAKE_PLATFORM_SERVICE_ACCOUNT, startCloudRunFake, type CloudRunFake } from '../testing/fakes/cloud-run-fake.ts';
import { fakeGoogleClientOptions } from '../testing/fakes/google-auth.ts';
import { readEvents, waitForEvent } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

process.env.METADATA_SERVER_DETECTION ??= 'none';

let fake: CloudRunFake;
let stack: TestStack;
let alice: TestUser;
let bob: TestUser;
const tenants: Record<string, string> = {};

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
  [alice, bob] = await Promise.all([createTestUser(stack.deps), createTestUser(stack.deps)]);
  for (const [who, user] of [
    ['alice', alice],
    ['bob', bob],
  ] as const) {
    const res = await stack.fetch('/api/v1/tenants', {
      method: 'POST',
      token: user.token,
      json: { name: `${who}-shop`, environments: ['live'] },
    });
    tenants[who] = (await res.json()).tenant.id;
  }
  for (const [who, user] of [
    ['alice', alice],
    ['bob', bob],
  ] as const)
    await waitForEvent(stack.streamUrl, tenants[who], user.token, ['tenant_ready', 'provisioning_failed'], 60_000);
});
test.after.always(async () => {
  for (const [who, user] of [
    ['alice', alice],
    ['bob', bob],
  ] as const) {
    if (!tenants[who]) continue;
    await stack.fetch(`/api/v1/tenants/${tenants[who]}`, { method: 'DELETE', token: user.token });
    await waitForEvent(stack.streamUrl, tenants[who], user.token, ['tenant_deleted'], 60_000).catch(() => undefined);
  }
  await stack?.close();
  await fake?.close();
});

const tokenFor = async (user: TestUser, id: string) => stack.fetch(`/api/v1/tenants/${id}/registry-token`, { token: user.token });

test.serial('provisioning gives the tenant its own service account and repository, announced as identity_ready', async (t) => {
  const events = await readEvents(stack.url, tenants.alice, alice.token);
  t.true(
    events.some((e) => e.type === 'identity_ready'),
    events.map((e) => e.type).join(', '),
  );
  const accounts = [...fake.iam.accounts.keys()];
  t.is(accounts.filter((a) => a.includes(tenants.alice.replace('t-', ''))).length, 1);
  t.is(accounts.filter((a) => a.includes(tenants.bob.replace('t-', ''))).length, 1);
});

test.serial(
  "the registry token is minted for the tenant's own account, lives at most 15 minutes and pushes to its own repository only",
  async (t) => {
    const res = await tokenFor(alice, tenants.alice);
    t.is(res.status, 200);
    const body = await res.json();
    t.is(body.username, 'oauth2accesstoken');
    t.not(body.token, 'fake-access-token', "never the platform's own token");
    t.true(Date.parse(body.expiresAt) - Date.now() <= 15 * 60_000 + 5_000);
    t.regex(body.repository, new RegExp(`/tp-${tenants.alice}/`));
    t.regex(fake.artifactRegistry.push(body.token, `${body.repository}:v1`), /^sha256:/);

    const bobs = await (await tokenFor(bob, tenants.bob)).json();
    t.throws(
      () => fake.artifactRegistry.push(body.token, `${bobs.repository}:v1`),
      { message: /denied/ },
      "alice's token cannot push to bob's repository",
    );
    t.is((await tokenFor(bob, tenants.alice)).status, 404, "bob cannot ask for alice's token");
  },
);

test.serial('a deploy runs the digest its tag pointed to, so a later push changes nothing that runs', async (t) => {
  const { token, repository } = await (await tokenFor(alice, tenants.alice)).json();
  const digest = fake.artifactRegistry.push(token, `${repository}:v2`);
  const res = await stack.fetch(`/api/v1/tenants/${tenants.alice}/deploy`, {
    method: 'POST',
    token: alice.token,
    json: { image: `${repository}:v2` },
  });
  t.is(res.status, 202, await res.clone().text());
  await waitForEvent(stack.streamUrl, tenants.alice, alice.token, ['deployed', 'deploy_failed'], 60_000);
  fake.artifactRegistry.push(token, `${repository}:v2`);
  const tenant = (await (await stack.fetch(`/api/v1/tenants/${tenants.alice}`, { token: alice.token })).json()).tenant;
  t.is(tenant.image, `${repository}@${digest}`);
  const unknownTag = await stack.fetch(`/api/v1/tenants/${tenants.alice}/deploy`, {
    method: 'POST',
    token: alice.token,
    json: { image: `${repository}:never-pushed` },
  });
  t.is(unknownTag.status, 400);
});
