/**
 * The real bq CLI against the BigQuery fake: the billing cost query with named
 * parameters and no parameterMode (bq sends none; the API documents it as
 * optional), `ls` of projects, jobs, datasets and tables, `show` of the dataset and the table,
 * and `head` of the table. bq comes with the gcloud SDK; without it these tests
 * are skipped, saying so. bq's own state (gcloud config, .bigqueryrc) lives in a
 * temporary folder, never the user's home.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCostQuery } from '../shared/billing/bigquery.ts';
import { startBigQueryFake, type BigQueryFake } from '../testing/fakes/bigquery-fake.ts';
import { findOnPath } from '../scripts/dev/find-on-path.ts';
import { SAMPLE_BILLING_TABLE, sampleBillingRows } from '../scripts/fake.ts';
import { findSdk, startGcloudForkserver } from '../scripts/real-gcloud/harness.ts';

const DISCOVERY = '/usr/lib/google-cloud-sdk/platform/bq/discovery_next/bigquery.json';
const bqPath = findOnPath('bq');
const missing = !bqPath ? 'bq is not on PATH' : !existsSync(DISCOVERY) ? `bq's discovery document ${DISCOVERY} is missing` : undefined;
// Serial: each bq run costs a second or more of CPU, and several at once on a busy machine outlast ava's timeout.
const withBq = missing ? test.skip : test.serial;
if (missing) console.log(`skipping the bq tests: ${missing} (bq comes with the gcloud SDK: apt-get install google-cloud-cli)`);

const home = mkdtempSync(join(tmpdir(), 'bq-fake-'));
const bigqueryrc = join(home, 'bigqueryrc');
writeFileSync(bigqueryrc, '');
const [PROJECT, DATASET, TABLE] = SAMPLE_BILLING_TABLE.split('.');

let fake: BigQueryFake;
/** bq asks gcloud for its configuration and token three times a run: the warm gcloud answers them. */
const gcloudSocket = join(home, 'gcloud.sock');
let warmGcloud: { bin: string; close(): void } | undefined;
test.before(async () => {
  fake = await startBigQueryFake({ table: SAMPLE_BILLING_TABLE, rows: sampleBillingRows() });
  const sdk = findSdk();
  if (!missing && 'root' in sdk) warmGcloud = await startGcloudForkserver(sdk, gcloudSocket);
});
test.after.always(async () => {
  await fake?.close();
  warmGcloud?.close();
  rmSync(home, { recursive: true, force: true });
});

/** Runs bq against the fake with a token and its own config folder; resolves with exit code and output. */
function bq(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    HOME: home,
    CLOUDSDK_CONFIG: join(home, 'gcloud'),
    CLOUDSDK_AUTH_ACCESS_TOKEN: 'any',
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
    ...(warmGcloud && { PATH: `${warmGcloud.bin}:${process.env.PATH}`, TP_GCLOUD_FORKSERVER: gcloudSocket }),
  };
  const flags = [
    `--api=${fake.url}`,
    `--discovery_file=${DISCOVERY}`,
    `--bigqueryrc=${bigqueryrc}`,
    `--project_id=${PROJECT}`,
    '--format=json',
  ];
  return new Promise((resolve) => {
    execFile(bqPath!, [...flags, ...args], { env, timeout: 100_000 }, (error, stdout, stderr) => {
      const killed = error && (error as { killed?: boolean }).killed ? `bq ${args[0]} was killed after 100 s\n` : '';
      resolve({ code: error ? Number((error as { code?: unknown }).code) || 1 : 0, stdout, stderr: killed + stderr });
    });
  });
}

// Query

withBq('bq query runs the billing cost query with named parameters and no parameterMode', async (t) => {
  const r = await bq([
    'query',
    '--nouse_legacy_sql',
    '--parameter=from:DATE:2024-05-01',
    '--parameter=to:DATE:2024-05-02',
    '--parameter=label:STRING:tenantplane-tenant-id',
    buildCostQuery(SAMPLE_BILLING_TABLE),
  ]);
  t.is(r.code, 0, r.stdout + r.stderr);
  const rows = JSON.parse(r.stdout) as Record<string, string | null>[];
  t.deepEqual(
    rows.map((row) => [row.day, row.tenant_id, row.service, Number(row.amount)]),
    [
      ['2024-05-01', null, 'Networking', 4],
      ['2024-05-01', 't-aaaaaaaaaa', 'Cloud Run', 8],
      ['2024-05-01', 't-bbbbbbbbbb', 'Cloud Run', 3],
      ['2024-05-02', 't-aaaaaaaaaa', 'Cloud Storage', 0.25],
    ],
  );
  const insert = fake.requests.find((req) => req.method === 'POST' && req.path.endsWith('/jobs'));
  t.is((insert?.body as any)?.configuration?.query?.parameterMode, undefined, 'bq sent no parameterMode, and the fake took the query');
  const jobs = await bq(['ls', '-j']);
  t.is(jobs.code, 0, jobs.stdout + jobs.stderr);
  t.deepEqual(
    JSON.parse(jobs.stdout).map((j: any) => [j.jobReference.jobId, j.state]),
    [[(insert!.body as any).jobReference.jobId, 'DONE']],
    'the job bq named is listed',
  );
});

test('SQL the fake cannot evaluate fails with a message saying so, not a made-up answer', async (t) => {
  // Checked over HTTP rather than through bq: each bq run costs seconds of CPU.
  const r = await fetch(`${fake.url}/bigquery/v2/projects/${PROJECT}/queries`, {
    method: 'POST',
    headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'SELECT 1', useLegacySql: false }),
  });
  t.is(r.status, 400);
  t.regex((await r.json()).error.message, /evaluates only the billing cost query/);
});

// Catalog

withBq('bq ls lists the project, its dataset, and the table inside it', async (t) => {
  const [projects, datasets, tables] = await Promise.all([bq(['ls', '-p']), bq(['ls']), bq(['ls', DATASET])]);
  t.is(projects.code, 0, projects.stdout + projects.stderr);
  t.deepEqual(
    JSON.parse(projects.stdout).map((p: any) => p.projectReference.projectId),
    [PROJECT],
  );
  t.is(datasets.code, 0, datasets.stdout + datasets.stderr);
  t.deepEqual(
    JSON.parse(datasets.stdout).map((d: any) => d.datasetReference),
    [{ projectId: PROJECT, datasetId: DATASET }],
  );
  t.is(tables.code, 0, tables.stdout + tables.stderr);
  t.deepEqual(
    JSON.parse(tables.stdout).map((d: any) => [d.tableReference.tableId, d.type]),
    [[TABLE, 'TABLE']],
  );
});

withBq('bq show describes the dataset and the table with its schema, and a missing table is not found', async (t) => {
  const [dataset, table] = await Promise.all([bq(['show', DATASET]), bq(['show', `${DATASET}.${TABLE}`])]);
  t.is(dataset.code, 0, dataset.stdout + dataset.stderr);
  t.is(JSON.parse(dataset.stdout).id, `${PROJECT}:${DATASET}`);
  t.is(table.code, 0, table.stdout + table.stderr);
  const shown = JSON.parse(table.stdout);
  t.is(shown.numRows, String(sampleBillingRows().length));
  t.deepEqual(
    shown.schema.fields.map((f: any) => `${f.name}:${f.type}:${f.mode}`),
    [
      'service:RECORD:NULLABLE',
      'usage_start_time:TIMESTAMP:NULLABLE',
      'labels:RECORD:REPEATED',
      'cost:FLOAT:NULLABLE',
      'currency:STRING:NULLABLE',
      'credits:RECORD:REPEATED',
    ],
  );
  const absent = await fetch(`${fake.url}/bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables/nope`, {
    headers: { authorization: 'Bearer any' },
  });
  t.is(absent.status, 404);
  t.regex((await absent.json()).error.message, /Not found: Table/);
});

withBq('bq head reads the first rows with records and repeated fields decoded', async (t) => {
  const r = await bq(['head', '-n', '2', `${DATASET}.${TABLE}`]);
  t.is(r.code, 0, r.stdout + r.stderr);
  const rows = JSON.parse(r.stdout);
  t.is(rows.length, 2);
  t.deepEqual(rows[0].service, { description: 'Cloud Run' });
  t.deepEqual(rows[0].labels, [{ key: 'tenantplane-tenant-id', value: 't-aaaaaaaaaa' }]);
  t.deepEqual(rows[0].credits, [{ name: 'credit-0', amount: '-2' }]);
  t.is(rows[0].cost, '10');
  t.regex(String(rows[0].usage_start_time), /^2024-05-01 10:00:00/);
});
