/**
 * What the Cloud Tasks and BigQuery drivers send, checked against the official
 * request schemas the gcloud SDK ships (testing/sdk-schema.ts), and the
 * BigQuery location reaching the query request (the fake answers a job run in
 * another location as BigQuery does: 404 Not found: Dataset).
 */
import test from 'ava';
import { OAuth2Client } from 'google-auth-library';
import { createBigQuerySource } from '../shared/billing/bigquery.ts';
import { parseBillingConfig } from '../shared/billing/config.ts';
import { createCostSource } from '../shared/billing/index.ts';
import { createQueue } from '../shared/queue/client.ts';
import { startBigQueryFake, type ExportRow } from '../testing/fakes/bigquery-fake.ts';
import { loadSchema, schemaProblems, type Schema } from '../testing/sdk-schema.ts';
import { startCloudTasksServer } from '../emulators/cloud-tasks/server.ts';

const schemas = { cloudtasks: loadSchema('cloudtasks', 'v2'), bigquery: loadSchema('bigquery', 'v2') };
const missing = Object.entries(schemas)
  .filter(([, s]) => !s)
  .map(([api]) => api);
const withSdk = missing.length ? test.skip : test;
if (missing.length)
  console.log(
    `skipping the schema checks: no generated messages for ${missing.join(', ')} under the gcloud SDK (install google-cloud-cli, or set GCLOUD_SDK_ROOT)`,
  );

const TABLE = 'billing-proj.billing_export.gcp_billing_export_v1_010101_F0FFF0_10X10X';
const rows: ExportRow[] = [
  {
    usage_start_time: '2024-05-01T10:00:00Z',
    service: { description: 'Cloud Run' },
    labels: [{ key: 'tenantplane-tenant-id', value: 't-a' }],
    cost: 2,
    currency: 'EUR',
    credits: [],
  },
];

function authClient() {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: 'fake-access-token', expiry_date: Date.now() + 3600_000 });
  return client;
}

async function costs(source: ReturnType<typeof createBigQuerySource>) {
  const out = [];
  for await (const row of source.rows({ from: '2024-05-01', to: '2024-05-02' })) out.push(row);
  return out;
}

// Cloud Tasks

withSdk('the task the queue client creates is a Cloud Tasks v2 Task with an HttpRequest and OidcToken the API defines', async (t) => {
  const server = await startCloudTasksServer({ log: () => {} });
  const queue = createQueue({
    projectId: 'schema-test',
    tasks: { location: 'europe-west1', secret: 's3cret', serviceAccount: 'tp-tasks@schema-test.iam.gserviceaccount.com' } as never,
    emulators: { tasks: server.endpoint },
    functionsUrl: 'https://europe-west1-schema-test.cloudfunctions.net/{name}',
  });
  t.teardown(async () => {
    await queue.close();
    await server.close();
  });
  const client = await queue.client();
  await client.createQueue({ parent: 'projects/schema-test/locations/europe-west1', queue: { name: queue.queuePath('provision') } });
  const sent: any[] = [];
  const create = client.createTask.bind(client);
  client.createTask = ((request: any, ...rest: any[]) => {
    sent.push(request);
    return (create as any)(request, ...rest);
  }) as typeof client.createTask;
  await queue.enqueue('provision', {
    fn: 'provision',
    path: '/tasks/provision',
    payload: { tenantId: 't1' },
    name: 'op-1',
    scheduleTime: new Date(),
    dispatchDeadlineSeconds: 600,
  });
  t.is(sent.length, 1);
  t.deepEqual(schemaProblems(schemas.cloudtasks as Schema, 'Task', sent[0].task), []);
  t.deepEqual(sent[0].task.httpRequest.oidcToken, {
    serviceAccountEmail: 'tp-tasks@schema-test.iam.gserviceaccount.com',
    audience: 'https://europe-west1-schema-test.cloudfunctions.net/provision',
  });
  t.is(sent[0].task.httpRequest.url, 'https://europe-west1-schema-test.cloudfunctions.net/provision/tasks/provision');
  t.regex(
    schemaProblems(schemas.cloudtasks as Schema, 'Task', { httpRequest: { url: 'u', oidcToken: { serviceAccount: 'x' } } })[0],
    /unknown field httpRequest\.oidcToken\.serviceAccount/,
  );
});

// BigQuery

withSdk('the billing query is a BigQuery v2 QueryRequest the API defines, carrying the configured location', async (t) => {
  const fake = await startBigQueryFake({ table: TABLE, rows, location: 'EU' });
  t.teardown(fake.close);
  const source = createBigQuerySource({
    projectId: 'billing-proj',
    table: TABLE,
    apiEndpoint: fake.url,
    location: 'EU',
    authClient: authClient(),
  });
  t.is((await costs(source)).length, 1);
  const posted = fake.requests.filter((r) => r.method === 'POST');
  t.true(posted.length >= 1);
  for (const request of posted) {
    const message = request.path.endsWith('/queries') ? 'QueryRequest' : 'Job';
    t.deepEqual(schemaProblems(schemas.bigquery as Schema, message, request.body), [], `${request.method} ${request.path}`);
    const location = message === 'QueryRequest' ? (request.body as any).location : (request.body as any).jobReference?.location;
    t.is(location, 'EU');
  }
});

test('a billing query without the dataset location fails as BigQuery fails it, naming the dataset', async (t) => {
  const fake = await startBigQueryFake({ table: TABLE, rows, location: 'EU' });
  t.teardown(fake.close);
  const source = createBigQuerySource({ projectId: 'billing-proj', table: TABLE, apiEndpoint: fake.url, authClient: authClient() });
  await t.throwsAsync(costs(source), { message: /Not found: Dataset billing-proj:billing_export was not found in location US/ });
});

test('BILLING_EXPORT_LOCATION reaches the query the configured cost source sends', async (t) => {
  const fake = await startBigQueryFake({ table: TABLE, rows, location: 'EU' });
  t.teardown(fake.close);
  const env = { BILLING_SOURCE: 'bigquery', BILLING_EXPORT_TABLE: TABLE, BILLING_EXPORT_LOCATION: 'EU', BIGQUERY_API_ENDPOINT: fake.url };
  const billing = parseBillingConfig(env, { mode: 'production', publicUrl: 'https://tp.example' } as never);
  const source = createCostSource({ projectId: 'billing-proj', billing }, undefined as never, { authClient: authClient() });
  t.is((await costs(source as ReturnType<typeof createBigQuerySource>)).length, 1);
  t.is((fake.requests.find((r) => r.method === 'POST')!.body as any).location, 'EU');
});
