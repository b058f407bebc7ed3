/** Every resources driver against the conformance suite, with real servers: PostgreSQL, the storage emulator, the Cloud SQL fake. */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testResourceDriver, type ResourceHarness } from '../../testing/resource-conformance.ts';
import { startTenantData, type TenantData } from '../../testing/tenant-data.ts';
import { startCloudSqlFake, type CloudSqlFake } from '../../testing/fakes/cloud-sql-fake.ts';
import { allocatePort } from '../../testing/ports.ts';
import { createResources, RESOURCE_DRIVER_NAMES } from './index.ts';
import { ResourceError } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'tp-resources-'));
let data: TenantData;
let cloudSql: CloudSqlFake;
// Both suites' before hooks run at once: one set of servers for both.
let starting: Promise<TenantData> | undefined;
const dataServers = async () => (data = await (starting ??= startTenantData(dir)));

async function putObject(bucket: string, name: string, body: string) {
  const res = await fetch(`${data.storageUrl}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${data.storageToken}`, 'content-type': 'text/plain' },
    body,
  });
  if (!res.ok) throw new Error(`upload answered ${res.status}`);
}

async function policyOf(name: string) {
  const res = await fetch(`${data.storageUrl}/storage/v1/b/${name}/iam`, { headers: { authorization: `Bearer ${data.storageToken}` } });
  if (res.status === 404) return undefined;
  return ((await res.json()) as { bindings: Array<{ role: string; members: string[] }> }).bindings;
}

async function bucketResource(name: string) {
  const res = await fetch(`${data.storageUrl}/storage/v1/b/${name}`, { headers: { authorization: `Bearer ${data.storageToken}` } });
  return res.status === 404 ? undefined : ((await res.json()) as Record<string, any>);
}

testResourceDriver(
  test,
  'local',
  async (): Promise<ResourceHarness> => {
    await dataServers();
    const driver = createResources({
      driver: 'local',
      local: {
        adminUrl: data.adminUrl,
        storageUrl: data.storageUrl,
        storageAdminToken: data.storageToken,
        projectId: 'demo-p',
        bucketPrefix: 'demo-p',
        backupDir: join(dir, 'backups'),
      },
    });
    return { driver, superuserUrl: data.adminUrl, bucketPolicy: policyOf, putObject, bucketResource };
  },
  async () => undefined,
);

testResourceDriver(
  test,
  'gcp',
  async (): Promise<ResourceHarness> => {
    await dataServers();
    cloudSql = await startCloudSqlFake({
      superuserUrl: data.adminUrl,
      project: 'demo-p',
      instance: 'tenants',
      port: await allocatePort(),
      storage: { url: data.storageUrl, token: data.storageToken },
    });
    const endpoint = (url: string) => {
      const u = new URL(url);
      return { apiEndpoint: u.hostname, port: u.port, protocol: 'http' };
    };
    const driver = createResources({
      driver: 'gcp',
      gcp: {
        instance: 'demo-p:us-central1:tenants',
        adminUrl: cloudSql.platformUrl,
        projectId: 'demo-p',
        location: 'us-central1',
        bucketPrefix: `gcp${randomBytes(3).toString('hex')}`,
        pollMs: 20,
        clientOptions: { ...endpoint(cloudSql.url), authClient: { getRequestHeaders: async () => ({ Authorization: 'Bearer platform' }) } },
        storageClientOptions: {
          ...endpoint(data.storageUrl),
          authClient: { getRequestHeaders: async () => ({ Authorization: `Bearer ${data.storageToken}` }) },
        },
      },
    });
    return { driver, superuserUrl: data.adminUrl, bucketPolicy: policyOf, putObject, bucketResource };
  },
  async () => {
    await cloudSql?.close();
    await data?.close();
    rmSync(dir, { recursive: true, force: true });
  },
);

// Platforms without data servers (a Kubernetes or Fly runtime with RESOURCES_DRIVER=none): the suite skips what the flags deny.
testResourceDriver(
  test,
  'none',
  async () => ({ driver: createResources({ driver: 'none' }), superuserUrl: '', bucketPolicy: async () => undefined }),
  async () => undefined,
);

test('an unknown driver is named with the valid ones; a driver names its missing option', (t) => {
  const unknown = t.throws(() => createResources({ driver: 'mysql' }), { instanceOf: ResourceError });
  t.regex(unknown.message, /"local", "gcp", "none"/);
  t.deepEqual([...RESOURCE_DRIVER_NAMES], ['local', 'gcp', 'none']);
  t.regex(t.throws(() => createResources({ driver: 'local', local: {} })).message, /options\.adminUrl/);
  t.regex(t.throws(() => createResources({ driver: 'gcp', gcp: {} })).message, /options\.instance/);
});

test('the none driver says it has nothing and fakes nothing', async (t) => {
  const none = createResources({ driver: 'none' });
  t.deepEqual(none.flags, { database: false, bucket: false, backups: false });
  await t.throwsAsync(none.ensureDatabase({ tenantId: 't-aaaaaaaaaa', env: 'live' }, {}), { message: /not_supported|no resources driver/ });
});

test('the Cloud SQL fake refuses a body the SDK schema does not know, and calls without a token', async (t) => {
  await dataServers();
  const fake = await startCloudSqlFake({ superuserUrl: data.adminUrl, project: 'demo-p', instance: 'schema', port: await allocatePort() });
  t.teardown(() => fake.close());
  const users = `${fake.url}/sql/v1beta4/projects/demo-p/instances/schema/users`;
  const post = (body: unknown, headers: Record<string, string> = { authorization: 'Bearer platform' }) =>
    fetch(users, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const misspelt = await post({ name: 'tp_schema_probe', pasword: 'x' });
  t.is(misspelt.status, 400);
  t.regex(JSON.stringify(await misspelt.json()), /INVALID_ARGUMENT/);
  t.is((await post({ name: 'tp_schema_probe', password: 'x' }, {})).status, 401);
});

test('the Cloud SQL fake exports and imports as long operations: PENDING, then DONE, a missing bucket fails inside the operation', async (t) => {
  await dataServers();
  const fake = await startCloudSqlFake({
    superuserUrl: data.adminUrl,
    project: 'demo-p',
    instance: 'ops',
    port: await allocatePort(),
    storage: { url: data.storageUrl, token: data.storageToken },
    // Held PENDING long enough that the second export below surely arrives while the first is in progress.
    pendingMs: 3000,
  });
  t.teardown(() => fake.close());
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${fake.url}/sql/v1beta4/projects/demo-p/${path}`, {
      method,
      headers: { authorization: 'Bearer platform', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const done = async (op: Record<string, any>) => {
    for (let i = 0; op.status !== 'DONE'; i++) {
      if (i > 3000) throw new Error('operation never finished');
      await new Promise((r) => setTimeout(r, 20));
      op = (await call('GET', `operations/${op.name}`)).body;
    }
    return op;
  };
  const exportTo = (uri: string, databases = ['postgres']) =>
    call('POST', 'instances/ops/export', { exportContext: { kind: 'sql#exportContext', fileType: 'SQL', uri, databases } });
  const missing = await exportTo('gs://no-such-bucket-ops/x.sql');
  t.is(missing.status, 200);
  t.is(missing.body.status, 'PENDING', 'answered before the work runs');
  t.is(missing.body.operationType, 'EXPORT');
  t.is((await exportTo('gs://no-such-bucket-ops/y.sql')).status, 409, 'one export or import at a time on an instance');
  t.regex(JSON.stringify((await done(missing.body)).error), /no-such-bucket-ops|404/);
  t.is((await exportTo('gs://b/x.sql', ['postgres', 'template1'])).status, 400, 'PostgreSQL exports one database');
  t.is((await exportTo('gs://b/x.sql', ['tp_no_such_db'])).status, 404);
  t.is(
    (await call('POST', 'instances/ops/import', { importContext: { kind: 'sql#importContext', fileType: 'SQL', uri: 'gs://b/x.sql' } }))
      .status,
    400,
    'PostgreSQL imports name their database',
  );
  t.is((await call('POST', 'instances/ops/export', { exportContext: { fileType: 'SQL', uri: 'gs://b/x', databasez: [] } })).status, 400);
});
