import test from 'ava';
import { startCloudRunFake } from '../../../testing/fakes/cloud-run-fake.ts';
import { fakeGoogleClientOptions } from '../../../testing/fakes/google-auth.ts';
import type { RecordedRequest } from '../../../testing/fakes/http-server.ts';
import { loadSchema, schemaProblems, type Schema } from '../../../testing/sdk-schema.ts';
import { createCloudRunDriver } from './index.ts';
import { serviceIdOf } from './resources.ts';
import type { EnvironmentRef, EnvironmentSpec } from '../types.ts';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const PROJECT = 'tp-test';
const REGION = 'europe-west1';
const ref: EnvironmentRef = { ownerId: 'owner-1', tenantId: 'acme', env: 'live' };
const spec = (overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec => ({
  ...ref,
  image: 'us-docker.pkg.dev/cloudrun/container/hello',
  memoryMb: 512,
  vars: { APP_MODE: 'demo' },
  secrets: { JWT_SECRET: 'jwt-value' },
  labels: { plan: 'pro' },
  ...overrides,
});
const serviceName = `projects/${PROJECT}/locations/${REGION}/services/${serviceIdOf(ref)}`;

// The official schemas, as the gcloud SDK ships them; without the SDK these tests say why they skip.
const schemas = { run: loadSchema('run', 'v2'), secretmanager: loadSchema('secretmanager', 'v1'), iam: loadSchema('iam', 'v1') };
const missing = Object.entries(schemas)
  .filter(([, s]) => !s)
  .map(([api]) => api);
const withSdk = missing.length ? test.skip : test;
if (missing.length)
  console.log(
    `skipping the schema checks: no generated messages for ${missing.join(', ')} under the gcloud SDK (install google-cloud-cli, or set GCLOUD_SDK_ROOT)`,
  );

/** The request message each mutation the driver sends is, per the API's REST mapping. */
const ROUTES: [method: string, path: RegExp, api: keyof typeof schemas, message: string][] = [
  ['POST', /^\/v2\/projects\/[^/]+\/locations\/[^/]+\/services$/, 'run', 'GoogleCloudRunV2Service'],
  ['PATCH', /^\/v2\/projects\/[^/]+\/locations\/[^/]+\/services\/[^/]+$/, 'run', 'GoogleCloudRunV2Service'],
  ['POST', /^\/v1\/projects\/[^/]+\/secrets$/, 'secretmanager', 'Secret'],
  ['POST', /^\/v1\/projects\/[^/]+\/secrets\/[^/]+:addVersion$/, 'secretmanager', 'AddSecretVersionRequest'],
  ['POST', /^\/v1\/projects\/[^/]+\/secrets\/[^/]+:setIamPolicy$/, 'secretmanager', 'SetIamPolicyRequest'],
  ['POST', /^\/v1\/projects\/[^/]+\/serviceAccounts$/, 'iam', 'CreateServiceAccountRequest'],
  ['POST', /^\/v1\/projects\/[^/]+\/serviceAccounts\/[^/]+:setIamPolicy$/, 'iam', 'SetIamPolicyRequest'],
];

function problemsOf(requests: RecordedRequest[]): string[] {
  const problems: string[] = [];
  for (const request of requests) {
    if (request.method === 'GET' || request.method === 'DELETE' || /:getIamPolicy$/.test(request.path)) continue;
    const route = ROUTES.find(([method, path]) => method === request.method && path.test(request.path));
    if (!route) {
      problems.push(`${request.method} ${request.path}: no schema mapping in this test (add the route)`);
      continue;
    }
    const [, , api, message] = route;
    problems.push(
      ...schemaProblems(schemas[api] as Schema, message, request.body ?? {}).map(
        (p) => `${request.method} ${request.path} ${message}: ${p}`,
      ),
    );
  }
  return problems;
}

async function withDriver(
  run: (fake: Awaited<ReturnType<typeof startCloudRunFake>>, driver: ReturnType<typeof createCloudRunDriver>) => Promise<void>,
) {
  const fake = await startCloudRunFake({ readyDelayMs: 20 });
  const driver = createCloudRunDriver({
    projectId: PROJECT,
    region: REGION,
    clientOptions: fakeGoogleClientOptions(fake.url),
    pollIntervalMs: 20,
  });
  try {
    await run(fake, driver);
  } finally {
    await driver.close?.();
    await fake.close();
  }
}

// Bodies against the official schema

withSdk(
  'every request the Cloud Run driver sends through a tenant life is a message the API defines, with its required fields',
  async (t) => {
    await withDriver(async (fake, driver) => {
      await driver.ensureInfrastructure(spec());
      await driver.deploy(spec());
      await driver.waitReady(ref, { timeoutMs: 10_000 });
      await driver.suspend(ref);
      await driver.resume(ref);
      await driver.restart(ref);
      await driver.deploy(spec({ vars: { APP_MODE: 'live' } }));
      const sent = fake.requests.filter((r) => r.method !== 'GET');
      t.true(sent.filter((r) => r.path.startsWith('/v2/')).length >= 5, 'create, deploy, suspend, resume, restart reached Cloud Run');
      t.deepEqual(problemsOf(fake.requests), []);
    });
  },
);

withSdk('the schema check catches a field the API does not define and a required field left out', (t) => {
  const run = schemas.run as Schema;
  t.deepEqual(
    schemaProblems(run, 'GoogleCloudRunV2Service', {
      template: { containers: [{ image: 'x', resources: { limits: { memory: '512Mi' }, cpuIdle: true } }] },
    }),
    [],
  );
  t.regex(
    schemaProblems(run, 'GoogleCloudRunV2Service', { template: { containers: [{ image: 'x', resources: { cpuIdel: true } }] } })[0],
    /unknown field template\.containers\[0\]\.resources\.cpuIdel/,
  );
  t.regex(
    schemaProblems(run, 'GoogleCloudRunV2Service', { template: { containers: [{ env: [] }] } })[0],
    /missing required field template\.containers\[0\]\.image/,
  );
  t.regex(schemaProblems(run, 'GoogleCloudRunV2Service', { labels: {} }).join(), /missing required field template/);
  t.regex(
    schemaProblems(run, 'GoogleCloudRunV2Service', { template: { containers: [{ image: 'x', env: [{ value: 'v' }] }] } })[0],
    /missing required field template\.containers\[0\]\.env\[0\]\.name/,
  );
});

// CPU allocation

test('deploy, suspend, resume and restart all send cpuIdle true, so CPU is allocated only during requests', async (t) => {
  await withDriver(async (fake, driver) => {
    await driver.ensureInfrastructure(spec());
    await driver.deploy(spec());
    await driver.waitReady(ref, { timeoutMs: 10_000 });
    for (const change of ['suspend', 'resume', 'restart'] as const) {
      await driver[change]!(ref);
      t.false(fake.cpuAlwaysAllocated(serviceName), `after ${change}`);
    }
    const updates = fake.requests.filter((r) => r.path.startsWith('/v2/') && (r.method === 'POST' || r.method === 'PATCH'));
    for (const update of updates) {
      for (const container of (update.body as any).template.containers)
        t.is(container.resources?.cpuIdle, true, `${update.method} ${update.path}`);
    }
  });
});

test('the fake records a service sent with resources but without cpuIdle as CPU always allocated', async (t) => {
  const fake = await startCloudRunFake({ readyDelayMs: 10 });
  t.teardown(fake.close);
  const body = {
    template: { containers: [{ image: 'us-docker.pkg.dev/cloudrun/container/hello', resources: { limits: { memory: '512Mi' } } }] },
  };
  const created = await fetch(`${fake.url}/v2/projects/p/locations/r/services?serviceId=billed`, {
    method: 'POST',
    headers: { authorization: 'Bearer fake-access-token', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  t.is(created.status, 200);
  t.true(fake.cpuAlwaysAllocated('projects/p/locations/r/services/billed'));
});

// Names and labels Cloud Run refuses

async function createRaw(fake: Awaited<ReturnType<typeof startCloudRunFake>>, id: string, service: object) {
  const response = await fetch(`${fake.url}/v2/projects/p/locations/r/services?serviceId=${id}`, {
    method: 'POST',
    headers: { authorization: 'Bearer fake-access-token', 'content-type': 'application/json' },
    body: JSON.stringify(service),
  });
  return { status: response.status, body: (await response.json()) as { error?: { status: string; message: string } } };
}

test('the fake refuses the env names Cloud Run reserves, duplicates, and labels or annotations it does not allow, as the API does', async (t) => {
  const fake = await startCloudRunFake();
  t.teardown(fake.close);
  const withEnv = (env: object[]) => ({ template: { containers: [{ image: 'us-docker.pkg.dev/cloudrun/container/hello', env }] } });
  for (const name of ['PORT', 'K_SERVICE', 'K_REVISION', 'K_CONFIGURATION']) {
    const answer = await createRaw(fake, `reserved-${name.toLowerCase().replace('_', '-')}`, withEnv([{ name, value: '1' }]));
    t.is(answer.status, 400, name);
    t.regex(answer.body.error!.message, new RegExp(`reserved env names were provided: ${name}\\b`));
  }
  t.regex(
    (
      await createRaw(
        fake,
        'dup',
        withEnv([
          { name: 'A', value: '1' },
          { name: 'A', value: '2' },
        ]),
      )
    ).body.error!.message,
    /Duplicate env var name A/,
  );
  t.regex(
    (await createRaw(fake, 'both', withEnv([{ name: 'A', value: '1', valueSource: { secretKeyRef: { secret: 's', version: 'latest' } } }])))
      .body.error!.message,
    /mutually exclusive/,
  );
  t.regex(
    (await createRaw(fake, 'label', { labels: { Plan: 'Pro' }, ...withEnv([]) })).body.error!.message,
    /Invalid label key "Plan" in labels/,
  );
  t.regex(
    (await createRaw(fake, 'tlabel', { template: { labels: { plan: 'Pro' }, containers: [{ image: 'x' }] } })).body.error!.message,
    /label value "Pro" of "plan" in template\.labels/,
  );
  t.regex(
    (await createRaw(fake, 'annot', { annotations: { 'run.googleapis.com/ingress': 'all' }, ...withEnv([]) })).body.error!.message,
    /system annotation run\.googleapis\.com\/ingress/,
  );
  t.is(
    (
      await createRaw(
        fake,
        'fine',
        withEnv([
          { name: 'PORT_NUMBER', value: '1' },
          { name: 'K_OTHER', value: '2' },
        ]),
      )
    ).status,
    200,
  );
});

test('a tenant secret named like a reserved Cloud Run variable never reaches a revision: the deploy is refused', async (t) => {
  await withDriver(async (_fake, driver) => {
    await driver.ensureInfrastructure(spec());
    const error = await t.throwsAsync(driver.deploy(spec({ secrets: { PORT: '9999' } })));
    t.regex(error!.message, /reserved env names were provided: PORT/);
  });
});
