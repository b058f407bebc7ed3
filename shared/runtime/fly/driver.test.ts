import test from 'ava';
import { testDriverConformance } from '../../../testing/driver-conformance.ts';
import { startFlyFake, type FlyFake } from '../../../testing/fakes/fly-fake.ts';
import { createFlyDriver, flyAppName, type FlyDriverOptions } from './index.ts';
import { DriverError, type EnvironmentRef, type EnvironmentSpec, type RuntimeDriver } from '../types.ts';

function makeSpec(ref: EnvironmentRef, overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return {
    ...ref,
    image: `registry.fly.io/tenants:tenant-${ref.tenantId}`,
    memoryMb: 512,
    vars: { SITE: 'wordpress' },
    secrets: { DB_PASSWORD: 'pw-value' },
    labels: { 'tenantplane-tenant-id': ref.tenantId, 'tenantplane-env': ref.env },
    ...overrides,
  };
}

function createDriver(fake: FlyFake, extra: Partial<FlyDriverOptions> = {}): RuntimeDriver {
  return createFlyDriver({
    apiToken: fake.token,
    orgSlug: 'acme',
    region: 'ams',
    baseUrl: fake.url,
    graphqlUrl: `${fake.url}/graphql`,
    ...extra,
  });
}

// Conformance

testDriverConformance(test, {
  name: 'fly',
  flags: { logs: false, metrics: false, restart: true, volumes: true },
  async create() {
    const fake = await startFlyFake();
    const driver = createDriver(fake);
    return {
      driver,
      makeSpec,
      reachable: async (url) => fake.isServing(url),
      countInstances: async (ref) =>
        [...(fake.apps.get(`tp-${ref.tenantId}-${ref.env}`)?.machines.values() ?? [])].filter((m) => m.state === 'started').length,
      // A machine runs as its app (the app's secrets, its OIDC tokens): find the app whose machine carries this environment's labels.
      identityOf: async (ref) => appHolding(fake, ref) ?? '',
      async cleanup() {
        await driver.close?.();
        await fake.close();
      },
    };
  },
});

function appHolding(fake: FlyFake, ref: EnvironmentRef): string | undefined {
  for (const [name, entry] of fake.apps) {
    for (const machine of entry.machines.values()) {
      const labels = machine.config?.metadata ?? {};
      if (labels['tenantplane-tenant-id'] === ref.tenantId && labels['tenantplane-env'] === ref.env) return name;
    }
  }
  return undefined;
}

// Driver specifics

async function withFake(run: (fake: FlyFake, driver: RuntimeDriver) => Promise<void>, extra?: Partial<FlyDriverOptions>) {
  const fake = await startFlyFake();
  const driver = createDriver(fake, extra);
  try {
    await run(fake, driver);
  } finally {
    await driver.close?.();
    await fake.close();
  }
}

const ref: EnvironmentRef = { ownerId: 'o1', tenantId: 'blog7', env: 'live' };

test.serial('infrastructure creates the app, a volume, shared IPv4 and IPv6, a certificate and the secrets', async (t) => {
  await withFake(
    async (fake, driver) => {
      const { url } = await driver.ensureInfrastructure(makeSpec(ref));
      t.is(url, 'https://tp-blog7-live.sites.example.test');
      const createApp = fake.requests.find((r) => r.method === 'POST' && r.path === '/v1/apps')!;
      t.deepEqual(createApp.body, { app_name: 'tp-blog7-live', org_slug: 'acme' });
      const app = fake.apps.get('tp-blog7-live')!;
      t.deepEqual(
        [...app.volumes.values()].map((v) => [v.name, v.region, v.size_gb]),
        [['data', 'ams', 1]],
      );
      t.deepEqual(app.ips.map((ip) => ip.type).sort(), ['shared_v4', 'v6']);
      t.deepEqual(
        app.certificates.map((c) => c.hostname),
        ['tp-blog7-live.sites.example.test'],
      );
      t.is(app.secrets.get('DB_PASSWORD'), 'pw-value');
      await driver.ensureInfrastructure(makeSpec(ref));
      t.is(app.ips.length, 2, 'a repeated step allocates nothing new');
      t.is(app.certificates.length, 1);
      t.is(app.volumes.size, 1);
    },
    { customDomain: 'sites.example.test' },
  );
});

test.serial('the machine runs the image with the memory, labels as metadata, the volume and http services', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.ensureInfrastructure(makeSpec(ref));
    await driver.deploy(makeSpec(ref, { memoryMb: 1024 }));
    const create = fake.requests.find((r) => r.method === 'POST' && r.path === '/v1/apps/tp-blog7-live/machines')!;
    const config = (create.body as any).config;
    t.is(config.image, 'registry.fly.io/tenants:tenant-blog7');
    t.is(config.guest.memory_mb, 1024);
    t.like(config.metadata, { 'tenantplane-tenant-id': 'blog7', 'tenantplane-env': 'live' });
    t.is(config.mounts[0].path, '/data');
    t.deepEqual(
      config.services[0].ports.map((p: any) => p.port),
      [80, 443],
    );
    t.false(JSON.stringify(config).includes('pw-value'), 'secrets go to app secrets, not the machine config');
    t.true(fake.requests.some((r) => r.method === 'GET' && r.path.endsWith('/wait') && r.query.get('state') === 'started'));
  });
});

test.serial('suspend stops and resume starts the same machine', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.ensureInfrastructure(makeSpec(ref));
    await driver.deploy(makeSpec(ref));
    const [machine] = fake.apps.get('tp-blog7-live')!.machines.values();
    await driver.suspend(ref);
    t.is(machine.state, 'stopped');
    await driver.resume(ref);
    t.is(machine.state, 'started');
    const paths = fake.requests.filter((r) => r.method === 'POST').map((r) => r.path);
    t.true(paths.includes(`/v1/apps/tp-blog7-live/machines/${machine.id}/stop`));
    t.true(paths.includes(`/v1/apps/tp-blog7-live/machines/${machine.id}/start`));
  });
});

test.serial('destroy force-destroys the machine, then the volume, then the app', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.ensureInfrastructure(makeSpec(ref));
    await driver.deploy(makeSpec(ref));
    await driver.destroy(ref);
    const deletes = fake.requests.filter((r) => r.method === 'DELETE');
    t.deepEqual(
      deletes.map((r) => r.path.replace(/[0-9a-f]{14}|vol_[0-9a-f]{16}/g, 'ID')),
      ['/v1/apps/tp-blog7-live/machines/ID', '/v1/apps/tp-blog7-live/volumes/ID', '/v1/apps/tp-blog7-live'],
    );
    t.is(deletes[0].query.get('force'), 'true');
    t.false(fake.apps.has('tp-blog7-live'));
  });
});

test.serial('a rejected token becomes a DriverError that says what the API answered', async (t) => {
  await withFake(
    async (_fake, driver) => {
      const error = await t.throwsAsync(() => driver.ensureInfrastructure(makeSpec(ref)), { instanceOf: DriverError });
      t.regex(error!.message, /401/);
    },
    { apiToken: 'wrong' },
  );
});

// Configuration

// Runtime identity

test.serial('two tenants of one owner get two apps, each holding only its own secrets', async (t) => {
  await withFake(async (fake, driver) => {
    const a: EnvironmentRef = { ownerId: 'o1', tenantId: 't-aaaaaaaaaa', env: 'demo' };
    const b: EnvironmentRef = { ...a, tenantId: 't-bbbbbbbbbb' };
    await driver.ensureInfrastructure(makeSpec(a, { secrets: { APP_SECRET: 'secret-of-a' } }));
    await driver.deploy(makeSpec(a, { secrets: { APP_SECRET: 'secret-of-a' } }));
    await driver.ensureInfrastructure(makeSpec(b, { secrets: { APP_SECRET: 'secret-of-b' } }));
    await driver.deploy(makeSpec(b, { secrets: { APP_SECRET: 'secret-of-b' } }));
    t.is(appHolding(fake, a), 'tp-t-aaaaaaaaaa-demo');
    t.is(appHolding(fake, b), 'tp-t-bbbbbbbbbb-demo');
    t.is(fake.apps.get('tp-t-aaaaaaaaaa-demo')!.secrets.get('APP_SECRET'), 'secret-of-a');
    t.is(fake.apps.get('tp-t-bbbbbbbbbb-demo')!.secrets.get('APP_SECRET'), 'secret-of-b');
  });
});

test('app names keep clean ids as they are and never fold two other ids onto one name', (t) => {
  t.is(flyAppName('tp', { ownerId: 'o', tenantId: 't-abcdefghij', env: 'live' }), 'tp-t-abcdefghij-live');
  t.is(flyAppName('tp', { ownerId: 'o', tenantId: 'my-project', env: 'api' }), 'tp-my-project-api');
  const folded = [
    { tenantId: 'Shop', env: 'demo' },
    { tenantId: 'shop', env: 'demo' },
    { tenantId: 'sh_op', env: 'demo' },
    { tenantId: 'sh.op', env: 'demo' },
    { tenantId: 'shop-demo', env: 'x-live' },
    { tenantId: 'shop-demo-x', env: 'live' },
    { tenantId: 'a'.repeat(70), env: 'demo' },
    { tenantId: `${'a'.repeat(70)}b`, env: 'demo' },
  ].map((r) => flyAppName('tp', { ownerId: 'o', ...r }));
  t.is(new Set(folded).size, folded.length);
  for (const name of folded) t.regex(name, /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
});

test('missing apiToken, orgSlug or region is named in a not_configured error', (t) => {
  for (const key of ['apiToken', 'orgSlug', 'region'] as const) {
    const options = { apiToken: 't', orgSlug: 'o', region: 'ams', [key]: undefined };
    const error = t.throws(() => createFlyDriver(options as never), { instanceOf: DriverError });
    t.regex(error!.message, new RegExp(`"${key}"`));
    t.is((error as DriverError).code, 'not_configured');
  }
});
