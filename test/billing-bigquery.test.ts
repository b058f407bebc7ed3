import test from 'ava';
import { toAppError } from '../shared/errors.ts';
import { OAuth2Client } from 'google-auth-library';
import { buildCostQuery, createBigQuerySource } from '../shared/billing/bigquery.ts';
import type { CostRow } from '../shared/billing/types.ts';
import { startBigQueryFake, type BigQueryFake, type ExportRow } from '../testing/fakes/bigquery-fake.ts';
import { startFakeServer } from '../testing/fakes/http-server.ts';

const TABLE = 'billing-proj.billing_export.gcp_billing_export_v1_010101_F0FFF0_10X10X';

function row(day: string, tenant: string | null, service: string, cost: number, credits: number[] = []): ExportRow {
  return {
    usage_start_time: `${day}T10:00:00Z`,
    service: { description: service },
    labels: tenant
      ? [
          { key: 'goog-other', value: 'x' },
          { key: 'tenantplane-tenant-id', value: tenant },
        ]
      : [{ key: 'goog-other', value: 'x' }],
    cost,
    currency: 'USD',
    credits: credits.map((amount, i) => ({ name: `credit-${i}`, amount })),
  };
}

function authClient() {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: 'fake-access-token', expiry_date: Date.now() + 3600_000 });
  return client;
}

async function collect(iterable: AsyncIterable<CostRow>): Promise<CostRow[]> {
  const rows: CostRow[] = [];
  for await (const r of iterable) rows.push(r);
  return rows;
}

let fake: BigQueryFake;
test.before(async () => {
  const rows: ExportRow[] = [
    row('2024-05-01', 't-aaaaaaaaaa', 'Cloud Run', 10, [-2, -0.5]),
    row('2024-05-01', 't-aaaaaaaaaa', 'Cloud Run', 1),
    row('2024-05-01', 't-aaaaaaaaaa', 'Cloud Storage', 0.25),
    row('2024-05-01', 't-bbbbbbbbbb', 'Cloud Run', 3),
    row('2024-05-01', null, 'Networking', 4, [-1]),
    row('2024-05-02', 't-aaaaaaaaaa', 'Cloud Run', 7),
    row('2024-04-30', 't-aaaaaaaaaa', 'Cloud Run', 100),
  ];
  // Many tenants on one day so results span several pages.
  for (let i = 0; i < 120; i++) rows.push(row('2024-05-03', `t-p${String(i).padStart(9, '0')}`, 'Cloud Run', 1));
  fake = await startBigQueryFake({ table: TABLE, rows, pendingPolls: 1, defaultPageSize: 25 });
});
test.after.always(async () => {
  await fake?.close();
});

// The query

test('the table name is checked against a strict pattern, because it cannot be a parameter', (t) => {
  t.throws(() => buildCostQuery('proj.ds.t` WHERE 1=1; --'), { message: /not project\.dataset\.table/ });
  t.throws(() => buildCostQuery('just_a_table'), { message: /not project\.dataset\.table/ });
  t.regex(buildCostQuery(TABLE), /FROM `billing-proj\.billing_export\.gcp_billing_export_v1_010101_F0FFF0_10X10X`/);
});

test.serial('the real client sends one parameterized query with typed DATE parameters and no dates in the SQL', async (t) => {
  const source = createBigQuerySource({ projectId: 'billing-proj', table: TABLE, apiEndpoint: fake.url, authClient: authClient() });
  const before = fake.queries.length;
  await collect(source.rows({ from: '2024-05-01', to: '2024-05-01' }));
  t.is(fake.queries.length, before + 1);
  const { sql, params } = fake.queries.at(-1)!;
  t.deepEqual(params.from, { type: 'DATE', value: '2024-05-01' });
  t.deepEqual(params.to, { type: 'DATE', value: '2024-05-01' });
  t.deepEqual(params.label, { type: 'STRING', value: 'tenantplane-tenant-id' });
  t.notRegex(sql, /2024/);
  t.regex(sql, /cost \+ IFNULL\(\(SELECT SUM\(c\.amount\) FROM UNNEST\(credits\) AS c\), 0\)/);
});

// Rows

test('cost plus credits is summed per tenant and service, and rows without the label are kept as unattributed', async (t) => {
  const source = createBigQuerySource({ projectId: 'billing-proj', table: TABLE, apiEndpoint: fake.url, authClient: authClient() });
  const rows = await collect(source.rows({ from: '2024-05-01', to: '2024-05-02' }));
  const find = (day: string, tenant: string | null, service: string) =>
    rows.find((r) => r.day === day && r.tenantId === tenant && r.service === service);
  t.is(find('2024-05-01', 't-aaaaaaaaaa', 'Cloud Run')?.amount, 8.5);
  t.is(find('2024-05-01', 't-aaaaaaaaaa', 'Cloud Storage')?.amount, 0.25);
  t.is(find('2024-05-01', 't-bbbbbbbbbb', 'Cloud Run')?.amount, 3);
  t.is(find('2024-05-01', null, 'Networking')?.amount, 3);
  t.is(find('2024-05-02', 't-aaaaaaaaaa', 'Cloud Run')?.amount, 7);
  t.false(
    rows.some((r) => r.day === '2024-04-30'),
    'a day outside the range is not read',
  );
  t.true(rows.every((r) => r.currency === 'USD' && typeof r.amount === 'number'));
});

test.serial('results spanning several pages are all read, following pageToken', async (t) => {
  const source = createBigQuerySource({ projectId: 'billing-proj', table: TABLE, apiEndpoint: fake.url, authClient: authClient() });
  const pagesBefore = fake.requests.filter((r) => r.method === 'GET' && r.query.get('pageToken')).length;
  const rows = await collect(source.rows({ from: '2024-05-03', to: '2024-05-03' }));
  t.is(rows.length, 120);
  t.is(new Set(rows.map((r) => r.tenantId)).size, 120);
  const pages = fake.requests.filter((r) => r.method === 'GET' && r.query.get('pageToken')).length - pagesBefore;
  t.true(pages >= 4, `expected at least 4 follow-up pages, saw ${pages}`);
});

// The fake refuses what BigQuery would refuse

test('the fake rejects interpolated dates and missing parameters', async (t) => {
  const post = (body: unknown) =>
    fetch(`${fake.url}/bigquery/v2/projects/billing-proj/queries`, {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const interpolated = buildCostQuery(TABLE).replace('@from', "'2024-05-01'");
  const res1 = await post({ query: interpolated, useLegacySql: false, parameterMode: 'NAMED', queryParameters: [] });
  t.is(res1.status, 400);
  t.regex((await res1.json()).error.message, /must be query parameters/);
  const res2 = await post({
    query: buildCostQuery(TABLE),
    useLegacySql: false,
    parameterMode: 'NAMED',
    queryParameters: [{ name: 'label', parameterType: { type: 'STRING' }, parameterValue: { value: 'tenantplane-tenant-id' } }],
  });
  t.is(res2.status, 400);
  t.regex((await res2.json()).error.message, /Query parameter 'from' not found/);
});

test('a failing BigQuery call surfaces as an error naming bigquery (503 at the edge), not as an empty day', async (t) => {
  const broken = await startFakeServer(() => ({
    status: 403,
    body: { error: { code: 403, message: 'Access Denied: Table', status: 'PERMISSION_DENIED' } },
  }));
  try {
    const source = createBigQuerySource({ projectId: 'billing-proj', table: TABLE, apiEndpoint: broken.url, authClient: authClient() });
    const error = await t.throwsAsync(collect(source.rows({ from: '2024-05-01', to: '2024-05-01' })), { message: /Access Denied/ });
    t.like(error, { name: 'DriverError', driver: 'bigquery', code: 'failed' });
    const answer = toAppError(error);
    t.is(answer.status, 503);
    t.like(answer.toBody().error, { code: 'unavailable', details: { driver: 'bigquery' } });
    t.is(answer.headers['Retry-After'], '30');
  } finally {
    await broken.close();
  }
});
