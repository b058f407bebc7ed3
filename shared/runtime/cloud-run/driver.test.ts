import test from 'ava';
import { testDriverConformance } from '../../../testing/driver-conformance.ts';
import { startCloudRunFake, type CloudRunFake } from '../../../testing/fakes/cloud-run-fake.ts';
import { fakeGoogleClientOptions } from '../../../testing/fakes/google-auth.ts';
import { CLOUD_RUN_PLACEHOLDER_IMAGE, createCloudRunDriver } from './index.ts';
import { secretIdOf, serviceIdOf } from './resources.ts';
import { tenantServiceAccountEmail } from '../../gcp/names.ts';
import { DriverError, type EnvironmentRef, type EnvironmentSpec, type RuntimeDriver } from '../types.ts';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const PROJECT = 'tp-test';
const REGION = 'europe-west1';

function makeSpec(ref: EnvironmentRef, overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return {
    ...ref,
    image: `europe-docker.pkg.dev/${PROJECT}/tenants/app:tenant-${ref.tenantId}`,
    memoryMb: 512,
    vars: { APP_MODE: 'demo' },
    secrets: { JWT_SECRET: 'jwt-value', DATABASE_URL: 'postgres://db/x' },
    labels: { 'tenantplane-tenant-id': ref.tenantId, 'tenantplane-env': ref.env, plan: 'Pro' },
    ...overrides,
  };
}

function createDriver(fake: CloudRunFake): RuntimeDriver {
  return createCloudRunDriver({ projectId: PROJECT, region: REGION, clientOptions: fakeGoogleClientOptions(fake.url), pollIntervalMs: 50 });
}

// Conformance

testDriverConformance(test, {
  name: 'cloud-run',
  flags: { logs: true, metrics: true, restart: true, volumes: false },
  async create() {
    const fake = await startCloudRunFake();
    const driver = createDriver(fake);
    return {
      driver,
      makeSpec,
      // A served request is also what Cloud Run logs and counts, so the logs and metrics cases see it.
      reachable: async (url) => fake.request(url),
      countInstances: async (ref) =>
        [...fake.services.values()].filter((s) => s.name.endsWith(`/${serviceIdOf(ref)}`) && fake.isServing(s.uri)).length,
      // The identity Cloud Run runs the revisions as, read from the fake's service.
      identityOf: async (ref) => [...fake.services.values()].find((s) => s.name.endsWith(`/${serviceIdOf(ref)}`))?.template?.serviceAccount,
      async cleanup() {
        await driver.close?.();
        await fake.close();
      },
    };
  },
});

// Driver specifics: each test gets its own fake so recorded requests are its own.

async function withFake(
  run: (fake: CloudRunFake, driver: RuntimeDriver) => Promise<void>,
  options?: Parameters<typeof startCloudRunFake>[0],
) {
  const fake = await startCloudRunFake(options);
  const driver = createDriver(fake);
  try {
    await run(fake, driver);
  } finally {
    await driver.close?.();
    await fake.close();
  }
}

const ref: EnvironmentRef = { ownerId: 'owner-1', tenantId: 'acme', env: 'live' };

test.serial('the service shell runs the placeholder image, is labelled, and scales from zero', async (t) => {
  await withFake(async (fake, driver) => {
    const { url } = await driver.ensureInfrastructure(makeSpec(ref));
    t.is(url, `https://tp-acme-live-123456789012.${REGION}.run.app`);
    const create = fake.requests.find((r) => r.method === 'POST' && r.path === `/v2/projects/${PROJECT}/locations/${REGION}/services`)!;
    t.is(create.query.get('serviceId'), 'tp-acme-live');
    const body = create.body as any;
    t.is(body.template.containers[0].image, CLOUD_RUN_PLACEHOLDER_IMAGE);
    t.is(body.template.scaling.minInstanceCount ?? 0, 0);
    t.like(body.labels, { 'tenantplane-tenant-id': 'acme', 'tenantplane-env': 'live', plan: 'pro' });
    t.is((await driver.status(ref)).state, 'provisioning');
  });
});

test.serial('deploy references each secret from Secret Manager at version latest and sets the memory limit', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.deploy(makeSpec(ref, { memoryMb: 1024 }));
    const service = fake.services.get(`projects/${PROJECT}/locations/${REGION}/services/tp-acme-live`)!;
    const container = service.template.containers[0];
    t.is(container.resources.limits.memory, '1024Mi');
    t.deepEqual(
      container.env.find((e: any) => e.name === 'JWT_SECRET'),
      {
        name: 'JWT_SECRET',
        valueSource: { secretKeyRef: { secret: 'tp-tenant-acme-live-jwt_secret', version: 'latest' } },
      },
    );
    t.deepEqual(
      container.env.find((e: any) => e.name === 'APP_MODE'),
      { name: 'APP_MODE', value: 'demo' },
    );
    t.false(JSON.stringify(service).includes('jwt-value'), 'secret values never appear in the service');
    const secret = fake.secrets.get(`projects/${PROJECT}/secrets/tp-tenant-acme-live-jwt_secret`)!;
    t.like(secret.labels, { 'tenantplane-tenant-id': 'acme', 'tenantplane-env': 'live' });
    t.is(Buffer.from(secret.versions[0].data, 'base64').toString(), 'jwt-value');
  });
});

test.serial('a secret gets a new version only when its value changes, and that rolls a new revision', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.deploy(makeSpec(ref));
    const before =
      (await driver.waitReady(ref, { timeoutMs: 10_000 }),
      fake.services.get(`projects/${PROJECT}/locations/${REGION}/services/tp-acme-live`)!.latestReadyRevision);
    await driver.deploy(makeSpec(ref));
    const secret = () => fake.secrets.get(`projects/${PROJECT}/secrets/tp-tenant-acme-live-jwt_secret`)!;
    t.is(secret().versions.length, 1);
    t.is(fake.services.get(`projects/${PROJECT}/locations/${REGION}/services/tp-acme-live`)!.latestCreatedRevision, before);
    await driver.deploy(makeSpec(ref, { secrets: { JWT_SECRET: 'rotated', DATABASE_URL: 'postgres://db/x' } }));
    t.is(secret().versions.length, 2);
    t.not(fake.services.get(`projects/${PROJECT}/locations/${REGION}/services/tp-acme-live`)!.latestCreatedRevision, before);
  });
});

test.serial('suspend closes ingress and sets manual scaling to zero instances; resume restores both', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.deploy(makeSpec(ref));
    await driver.suspend(ref);
    const name = `projects/${PROJECT}/locations/${REGION}/services/tp-acme-live`;
    t.is(fake.services.get(name)!.ingress, 'INGRESS_TRAFFIC_INTERNAL_ONLY');
    t.like(fake.services.get(name)!.scaling, { scalingMode: 'MANUAL', manualInstanceCount: 0 });
    await driver.resume(ref);
    t.is(fake.services.get(name)!.ingress, 'INGRESS_TRAFFIC_ALL');
    t.like(fake.services.get(name)!.scaling, { scalingMode: 'AUTOMATIC' });
    t.is(fake.services.get(name)!.scaling.manualInstanceCount, undefined);
  });
});

test.serial('destroy deletes the service and every secret of the environment only', async (t) => {
  await withFake(async (fake, driver) => {
    const other: EnvironmentRef = { ...ref, env: 'test' };
    await driver.deploy(makeSpec(ref));
    await driver.deploy(makeSpec(other));
    await driver.destroy(ref);
    t.is(fake.services.size, 1);
    t.deepEqual([...fake.secrets.keys()].map((k) => k.split('/').pop()).sort(), [
      'tp-tenant-acme-test-database_url',
      'tp-tenant-acme-test-jwt_secret',
    ]);
  });
});

test.serial('a revision that cannot start makes deploy fail and status report failed with the reason', async (t) => {
  const image = 'europe-docker.pkg.dev/tp-test/tenants/app:missing';
  await withFake(
    async (_fake, driver) => {
      const error = await t.throwsAsync(() => driver.deploy(makeSpec(ref, { image })));
      t.true(error instanceof DriverError);
      t.regex(error!.message, /not found/);
      const status = await driver.status(ref);
      t.is(status.state, 'failed');
      t.regex(status.message ?? '', /not found/);
    },
    { missingImages: [image] },
  );
});

// Identities

/** What code running as `member` gets when it reads a secret's latest version. */
async function readSecretAs(fake: CloudRunFake, member: string, secretId: string): Promise<number> {
  const token = `runtime-${Math.random().toString(16).slice(2)}`;
  fake.callers.issue(token, member, Date.now() + 60_000);
  const res = await fetch(`${fake.url}/v1/projects/${PROJECT}/secrets/${secretId}/versions/latest:access`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return res.status;
}

test.serial("each tenant runs as its own service account, which reads its own secrets and no other tenant's", async (t) => {
  await withFake(async (fake, driver) => {
    const beta: EnvironmentRef = { ownerId: 'owner-2', tenantId: 'beta', env: 'live' };
    for (const r of [ref, beta]) {
      await driver.ensureInfrastructure(makeSpec(r));
      await driver.deploy(makeSpec(r));
      await driver.waitReady(r, { timeoutMs: 10_000 });
    }
    const accountOf = (r: EnvironmentRef) =>
      fake.services.get(`projects/${PROJECT}/locations/${REGION}/services/${serviceIdOf(r)}`)!.template.serviceAccount;
    t.is(accountOf(ref), tenantServiceAccountEmail(PROJECT, 'acme'));
    t.is(accountOf(beta), tenantServiceAccountEmail(PROJECT, 'beta'));
    t.true(fake.iam.exists(accountOf(ref)) && fake.iam.exists(accountOf(beta)));
    const [acme, other] = [`serviceAccount:${accountOf(ref)}`, `serviceAccount:${accountOf(beta)}`];
    t.is(await readSecretAs(fake, acme, secretIdOf(ref, 'JWT_SECRET')), 200);
    t.is(await readSecretAs(fake, acme, secretIdOf(beta, 'JWT_SECRET')), 403);
    t.is(await readSecretAs(fake, other, secretIdOf(ref, 'DATABASE_URL')), 403);
    t.is(await readSecretAs(fake, other, secretIdOf(beta, 'DATABASE_URL')), 200);
    // Every secret grants its accessor role to exactly one account: its tenant's.
    for (const secret of fake.secrets.values()) {
      const members = secret.policy.bindings.filter((b) => b.role === 'roles/secretmanager.secretAccessor').flatMap((b) => b.members);
      t.deepEqual(members, [secret.labels['tenantplane-tenant-id'] === 'acme' ? acme : other], secret.name);
    }
  });
});

test.serial(
  'Cloud Run refuses a service whose account does not exist and fails a revision whose account cannot read its secrets',
  async (t) => {
    await withFake(async (fake, driver) => {
      const res = await fetch(`${fake.url}/v2/projects/${PROJECT}/locations/${REGION}/services?serviceId=tp-ghost-live`, {
        method: 'POST',
        headers: { authorization: 'Bearer fake-access-token', 'content-type': 'application/json' },
        body: JSON.stringify({
          template: { serviceAccount: `tp-ghost@${PROJECT}.iam.gserviceaccount.com`, containers: [{ image: CLOUD_RUN_PLACEHOLDER_IMAGE }] },
        }),
      });
      t.is(res.status, 400);
      t.regex((await res.json()).error.message, /does not exist/);

      await driver.deploy(makeSpec(ref));
      await driver.waitReady(ref, { timeoutMs: 10_000 });
      fake.secrets.get(`projects/${PROJECT}/secrets/${secretIdOf(ref, 'JWT_SECRET')}`)!.policy.bindings = [];
      await t.throwsAsync(() => driver.restart!(ref).then(() => driver.waitReady(ref, { timeoutMs: 10_000 })), {
        message: /SECRETS_ACCESS_CHECK_FAILED/,
      });
    });
  },
);

// Names and configuration

test('service ids fit the Cloud Run rules even for long names', (t) => {
  const id = serviceIdOf({ ownerId: 'o', tenantId: 'a'.repeat(30), env: 'environment-with-a-long-name' });
  t.true(id.length <= 49);
  t.regex(id, /^[a-z]([a-z0-9-]*[a-z0-9])?$/);
});

test('a missing projectId or region is named in a not_configured error', (t) => {
  const error = t.throws(() => createCloudRunDriver({ region: REGION } as never), { instanceOf: DriverError });
  t.is((error as DriverError).code, 'not_configured');
  t.regex(error!.message, /"projectId"/);
  t.throws(() => createCloudRunDriver({ projectId: PROJECT } as never), { message: /"region"/ });
});

// Updates by revision

/** Traffic targets as the API names them (the client sends the enum as its number, 2, on the wire). */
const trafficOf = (list: { type: unknown; revision: string; percent: number }[]) =>
  list.map((x) => ({ ...x, type: x.type === 2 ? 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION' : x.type }));

test.serial(
  'an update creates its revision with the traffic pinned to the old one, and moves the traffic only once it is ready',
  async (t) => {
    const image = 'europe-docker.pkg.dev/tp-test/tenants/app:missing';
    await withFake(
      async (fake, driver) => {
        const name = `projects/${PROJECT}/locations/${REGION}/services/tp-acme-live`;
        await driver.ensureInfrastructure(makeSpec(ref));
        await driver.deploy(makeSpec(ref, { image: 'europe-docker.pkg.dev/tp-test/tenants/app:v1' }));
        const { url } = await driver.waitReady(ref, { timeoutMs: 10_000 });
        const v1 = fake.services.get(name)!.trafficStatuses[0].revision as string;
        t.regex(v1, /^tp-acme-live-r[0-9a-f]{10}$/);

        // A revision that cannot start: it gets no traffic, v1 keeps serving, and the driver says so.
        fake.requests.length = 0;
        const error = await t.throwsAsync(() => driver.deploy(makeSpec(ref, { image })));
        t.regex(error!.message, new RegExp(`not found.*the traffic stays on revision ${v1}`));
        t.true(fake.isServing(url!));
        t.deepEqual(fake.services.get(name)!.traffic, [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: v1, percent: 100 }]);
        t.like(await driver.status(ref), { state: 'running', ready: true, image: 'europe-docker.pkg.dev/tp-test/tenants/app:v1' });
        const patches = fake.requests.filter((r) => r.method === 'PATCH').map((r) => r.body as Record<string, any>);
        t.is(patches.length, 1, 'no traffic move for a revision that never got ready');
        t.deepEqual(trafficOf(patches[0].traffic), [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: v1, percent: 100 }]);

        // A good one: created pinned to v1, its Ready condition read, then the traffic moved.
        fake.requests.length = 0;
        await driver.deploy(makeSpec(ref, { image: 'europe-docker.pkg.dev/tp-test/tenants/app:v2' }));
        const v2 = fake.services.get(name)!.template.revision as string;
        const calls = fake.requests
          .filter((r) => r.method === 'PATCH' || r.path.includes('/revisions/'))
          .map((r) => `${r.method} ${r.path.includes('/revisions/') ? 'revision' : 'service'}`);
        t.deepEqual(calls.slice(-3), ['PATCH service', 'GET revision', 'PATCH service']);
        const [create, move] = fake.requests.filter((r) => r.method === 'PATCH').map((r) => r.body as Record<string, any>);
        t.is(create.template.revision, v2);
        t.deepEqual(trafficOf(create.traffic), [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: v1, percent: 100 }]);
        t.deepEqual(trafficOf(move.traffic), [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: v2, percent: 100 }]);
        t.like(await driver.status(ref), { state: 'running', ready: true, image: 'europe-docker.pkg.dev/tp-test/tenants/app:v2' });

        // Rollback to v1: the traffic moves back to its revision; nothing is rebuilt.
        const revisions = fake.revisions.size;
        await driver.deploy(makeSpec(ref, { image: 'europe-docker.pkg.dev/tp-test/tenants/app:v1' }));
        t.is(fake.revisions.size, revisions, 'no new revision for a rollback');
        t.deepEqual(fake.services.get(name)!.traffic, [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: v1, percent: 100 }]);
        t.like(await driver.status(ref), { state: 'running', ready: true, image: 'europe-docker.pkg.dev/tp-test/tenants/app:v1' });
        // The same deploy again changes nothing of the traffic.
        await driver.deploy(makeSpec(ref, { image: 'europe-docker.pkg.dev/tp-test/tenants/app:v1' }));
        t.is(fake.revisions.size, revisions);
      },
      { missingImages: [image] },
    );
  },
);

test.serial('metrics count the 5xx answers of the serving revision as errors, for the rollout health gate', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.ensureInfrastructure(makeSpec(ref));
    await driver.deploy(makeSpec(ref));
    const { url } = await driver.waitReady(ref, { timeoutMs: 10_000 });
    for (let i = 0; i < 12; i++) fake.request(url!, '/', i < 9 ? 503 : 200);
    const metrics = await driver.metrics!(ref);
    t.is(metrics.requests, 12);
    t.is(metrics.errors, 9);
  });
});
