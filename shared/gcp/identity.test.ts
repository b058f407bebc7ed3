import test from 'ava';
import { parseConfig } from '../config.ts';
import { registryToken, resolveDeployImage, tenantImage } from '../tenants/registry.ts';
import { FAKE_PLATFORM_SERVICE_ACCOUNT, startCloudRunFake, type CloudRunFake } from '../../testing/fakes/cloud-run-fake.ts';
import { fakeGoogleClientOptions } from '../../testing/fakes/google-auth.ts';
import {
  createGcpClients,
  ensureTenantIdentity,
  removeTenantIdentity,
  tenantRepository,
  type GcpClients,
  type PlatformIdentities,
} from './identity.ts';
import { tenantServiceAccountEmail, tenantServiceAccountId } from './names.ts';
import { OAuth2Client } from 'google-auth-library';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const PROJECT = 'tp-test';
const A = 't-aaaaaaaaaaaaaaaa';
const B = 't-bbbbbbbbbbbbbbbb';
const config = parseConfig({
  TP_ENV: 'test',
  GCP_PROJECT_ID: PROJECT,
  GCP_REGION: 'europe-west1',
  REGISTRY_DRIVER: 'artifact-registry',
  REGISTRY_TOKEN_MINTER: FAKE_PLATFORM_SERVICE_ACCOUNT,
});
const platform: PlatformIdentities = {
  projectId: PROJECT,
  tokenMinter: FAKE_PLATFORM_SERVICE_ACCOUNT,
  deployer: 'tp-provisioner@tp-test.iam.gserviceaccount.com',
};

/** Clients that present `token` instead of the platform's, to act as another identity. */
function clientsWithToken(fake: CloudRunFake, token: string): GcpClients {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: token, expiry_date: Date.now() + 3600_000 });
  return createGcpClients({ ...fakeGoogleClientOptions(fake.url), authClient });
}

async function withCloud(run: (fake: CloudRunFake, gcp: GcpClients) => Promise<void>) {
  const fake = await startCloudRunFake();
  const gcp = createGcpClients(fakeGoogleClientOptions(fake.url));
  try {
    await run(fake, gcp);
  } finally {
    await gcp.close();
    await fake.close();
  }
}

const bindings = (policy: { bindings: { role: string; members: string[] }[] }) =>
  policy.bindings.flatMap((b) => b.members.map((m) => `${b.role} ${m}`)).sort();

// Identity

test.serial('the identity step run twice leaves one account, one repository and one binding of each role', async (t) => {
  await withCloud(async (fake, gcp) => {
    await ensureTenantIdentity(gcp.rest, platform, config.registry.host, A);
    const again = await ensureTenantIdentity(gcp.rest, platform, config.registry.host, A);
    t.is(again.serviceAccount, tenantServiceAccountEmail(PROJECT, A));
    t.deepEqual([...fake.iam.accounts.keys()], [`${tenantServiceAccountId(A)}@${PROJECT}.iam.gserviceaccount.com`]);
    t.deepEqual([...fake.artifactRegistry.repositories.keys()], [tenantRepository(config.registry.host, A).name]);
    t.deepEqual(bindings(fake.iam.accounts.get(again.serviceAccount)!.policy), [
      `roles/iam.serviceAccountTokenCreator serviceAccount:${FAKE_PLATFORM_SERVICE_ACCOUNT}`,
      'roles/iam.serviceAccountUser serviceAccount:tp-provisioner@tp-test.iam.gserviceaccount.com',
    ]);
    t.deepEqual(bindings(fake.artifactRegistry.repositories.get(again.repository)!.policy), [
      `roles/artifactregistry.reader serviceAccount:${FAKE_PLATFORM_SERVICE_ACCOUNT}`,
      `roles/artifactregistry.writer serviceAccount:${again.serviceAccount}`,
    ]);
    t.is(fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/serviceAccounts')).length, 1, 'looked up before creating');
  });
});

test.serial('removing the identity deletes the repository and the account, and can be repeated', async (t) => {
  await withCloud(async (fake, gcp) => {
    await ensureTenantIdentity(gcp.rest, platform, config.registry.host, A);
    await removeTenantIdentity(gcp.rest, platform, config.registry.host, A);
    await removeTenantIdentity(gcp.rest, platform, config.registry.host, A);
    t.is(fake.iam.accounts.size, 0);
    t.is(fake.artifactRegistry.repositories.size, 0);
  });
});

// Registry tokens

test.serial(
  "a registry token is minted for the tenant's own account, lives at most 15 minutes and pushes to its repository only",
  async (t) => {
    await withCloud(async (fake, gcp) => {
      for (const id of [A, B]) await ensureTenantIdentity(gcp.rest, platform, config.registry.host, id);
      const now = new Date();
      const answer = await registryToken(config, () => gcp, A, now);
      t.is(answer.username, 'oauth2accesstoken');
      t.is(answer.registry, 'europe-west1-docker.pkg.dev');
      t.is(`${answer.repository}:${answer.tag}`, tenantImage(config, A));
      t.not(answer.token, 'fake-access-token', "never the platform's own token");
      t.is(fake.callers.memberOfToken(answer.token), `serviceAccount:${tenantServiceAccountEmail(PROJECT, A)}`);
      t.true(Date.parse(answer.expiresAt) <= now.getTime() + 15 * 60_000 + 1000);
      const mint = fake.requests.find((r) => r.path.endsWith(':generateAccessToken'))!;
      t.is((mint.body as { lifetime: string }).lifetime, '900s');

      t.regex(fake.artifactRegistry.push(answer.token, tenantImage(config, A)), /^sha256:[a-f0-9]{64}$/);
      t.throws(() => fake.artifactRegistry.push(answer.token, tenantImage(config, B)), { message: /denied/ });
    });
  },
);

test.serial("a tenant's token can neither mint for another tenant nor manage accounts, repositories or policies", async (t) => {
  await withCloud(async (fake, gcp) => {
    for (const id of [A, B]) await ensureTenantIdentity(gcp.rest, platform, config.registry.host, id);
    const { token } = await registryToken(config, () => gcp, A, new Date());
    const asTenant = clientsWithToken(fake, token);
    try {
      await t.throwsAsync(() => asTenant.minter.mint(tenantServiceAccountEmail(PROJECT, B), 900), {
        message: /PERMISSION_DENIED|getAccessToken/,
      });
      await t.throwsAsync(() => ensureTenantIdentity(asTenant.rest, platform, config.registry.host, 't-cccccccccccccccc'), {
        message: /PERMISSION_DENIED/,
      });
      await t.throwsAsync(() => removeTenantIdentity(asTenant.rest, platform, config.registry.host, B), { message: /PERMISSION_DENIED/ });
    } finally {
      await asTenant.close();
    }
    t.is(fake.iam.accounts.size, 2);
  });
});

test.serial('the IAM Credentials fake refuses a lifetime over an hour and an account without the token creator grant', async (t) => {
  await withCloud(async (fake, gcp) => {
    await ensureTenantIdentity(gcp.rest, platform, config.registry.host, A);
    await t.throwsAsync(() => gcp.minter.mint(tenantServiceAccountEmail(PROJECT, A), 3601), { message: /lifetime/ });
    // Without a minter grant the platform itself cannot mint: the grant is what makes it work.
    await ensureTenantIdentity(gcp.rest, { projectId: PROJECT }, config.registry.host, B);
    await t.throwsAsync(() => registryToken(config, () => gcp, B, new Date()), { message: /not ready/ });
    t.is(fake.iam.accounts.size, 2);
  });
});

// Deploy images

test.serial('deploy resolves a pushed tag to its digest and refuses a tag that was never pushed', async (t) => {
  await withCloud(async (fake, gcp) => {
    await ensureTenantIdentity(gcp.rest, platform, config.registry.host, A);
    const { token } = await registryToken(config, () => gcp, A, new Date());
    const image = tenantImage(config, A, 'web', 'v1');
    const digest = fake.artifactRegistry.push(token, image);
    const resolved = await resolveDeployImage(config, () => gcp, A, image);
    t.is(resolved, `${config.registry.host}/tp-${A}/web@${digest}`);
    // A later push to the tag does not change what the resolved image names.
    fake.artifactRegistry.push(token, image);
    t.is(await resolveDeployImage(config, () => gcp, A, resolved), resolved);
    await t.throwsAsync(() => resolveDeployImage(config, () => gcp, A, tenantImage(config, A, 'web', 'v2')), { message: /push it first/ });
    await t.throwsAsync(() => resolveDeployImage(config, () => gcp, A, tenantImage(config, B, 'web', 'v1')), { message: /own repository/ });
  });
});

test('locally, with no registry, a deploy image stays as given and the token is a signed local one', async (t) => {
  const local = parseConfig({ TP_ENV: 'test', GCP_PROJECT_ID: PROJECT, GCP_REGION: 'europe-west1' });
  t.is(local.registry.driver, 'local');
  const noClients = () => {
    throw new Error('no Google client is used locally');
  };
  t.is(await resolveDeployImage(local, noClients, A, tenantImage(local, A)), tenantImage(local, A));
  const answer = await registryToken(local, noClients, A, new Date());
  t.is(`${answer.repository}:${answer.tag}`, tenantImage(local, A));
  t.is(answer.username, `tenant-${A}`);
});

test('account ids fit the IAM rule for tenant ids, short ids and long ids', (t) => {
  for (const id of [A, 'a', 'x'.repeat(80), 'cf-0a1b2c3d-12']) t.regex(tenantServiceAccountId(id), /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, id);
  t.is(tenantServiceAccountId(A), `tp-${A}`);
});
