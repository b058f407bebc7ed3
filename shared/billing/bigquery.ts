/**
 * The production cost source (R-BILL-1): the Cloud Billing standard usage cost
 * export in BigQuery, read with one parameterized query through @google-cloud/bigquery.
 *
 * Schema followed (docs: billing/docs/how-to/export-data-bigquery-tables/standard-usage):
 * table `gcp_billing_export_v1_<BILLING_ACCOUNT_ID>` with `service.description` STRING,
 * `usage_start_time` TIMESTAMP, `labels` ARRAY<STRUCT<key STRING, value STRING>>,
 * `cost` FLOAT, `currency` STRING, `credits` ARRAY<STRUCT<name STRING, amount FLOAT,
 * full_name STRING, id STRING, type STRING>> (credit amounts are negative, so cost
 * plus credits is what is owed).
 */
import type { BigQuery } from '@google-cloud/bigquery';
import { DriverError } from '../errors.ts';
import { EXPORT_TABLE_PATTERN, TENANT_LABEL, type CostRow, type CostSource, type DayRange } from './types.ts';

export interface BigQuerySourceOptions {
  /** Project that runs (and pays for) the query job. */
  projectId: string;
  /** `project.dataset.gcp_billing_export_v1_XXXXXX_XXXXXX_XXXXXX` (BILLING_EXPORT_TABLE). */
  table: string;
  /** REST endpoint override, e.g. the local fake `http://127.0.0.1:PORT` (default: Google's). */
  apiEndpoint?: string;
  /** Dataset location when it is not inferred from the table (e.g. `EU`). */
  location?: string;
  /** Credentials override (tests pass a static-token client); default Application Default Credentials. */
  authClient?: unknown;
}

/**
 * Sums cost plus credits per UTC day, tenant label value and service. The table
 * name cannot be a query parameter, so it is checked against a strict pattern
 * and quoted; every value (label key, days) is a named parameter. Rows without
 * the tenant label come back with a NULL tenant_id and are kept (GROUP BY keeps NULL groups).
 */
export function buildCostQuery(table: string): string {
  if (!EXPORT_TABLE_PATTERN.test(table)) {
    throw new DriverError(
      'bigquery',
      'not_configured',
      `billing export table "${table}" is not project.dataset.table (example: my-project.billing.gcp_billing_export_v1_010101_F0FFF0_10X10X)`,
    );
  }
  return [
    'WITH costs AS (',
    '  SELECT',
    '    DATE(usage_start_time) AS day,',
    '    (SELECT l.value FROM UNNEST(labels) AS l WHERE l.key = @label LIMIT 1) AS tenant_id,',
    '    service.description AS service,',
    '    currency,',
    '    cost + IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0) AS amount',
    `  FROM \`${table}\``,
    '  WHERE DATE(usage_start_time) BETWEEN @from AND @to',
    ')',
    "SELECT FORMAT_DATE('%F', day) AS day, tenant_id, service, currency, SUM(amount) AS amount",
    'FROM costs',
    'GROUP BY day, tenant_id, service, currency',
    'ORDER BY day, tenant_id, service',
  ].join('\n');
}

/** The BigQuery source; the client is created on first use. */
export function createBigQuerySource(options: BigQuerySourceOptions): CostSource {
  const query = buildCostQuery(options.table);
  let client: Promise<{ bigquery: BigQuery; date: (day: string) => unknown }> | undefined;
  const getClient = () =>
    (client ??= (async () => {
      const { BigQuery } = await import('@google-cloud/bigquery');
      // A plain string typed DATE is sent without a value by the client; BigQuery.date() keeps it.
      const date = (day: string) => BigQuery.date(day);
      const bigquery = new BigQuery({
        projectId: options.projectId,
        apiEndpoint: options.apiEndpoint,
        location: options.location,
        ...(options.authClient ? { authClient: options.authClient as never } : {}),
      });
      return { bigquery, date };
    })());

  return {
    name: 'bigquery',
    rows: (range: DayRange) => failuresNamed(queryRows(range)),
  };

  async function* queryRows(range: DayRange): AsyncIterable<CostRow> {
    const { bigquery, date } = await getClient();
    // DATE parameters: the days travel as typed values, never inside the SQL text.
    const stream = bigquery.createQueryStream({
      query,
      params: { label: TENANT_LABEL, from: date(range.from), to: date(range.to) },
      types: { label: 'STRING', from: 'DATE', to: 'DATE' },
      // The client reads the location per query (jobs.query's QueryRequest.location);
      // the constructor's location never reaches that request, and a job run
      // outside the dataset's location fails with "Not found: Dataset".
      ...(options.location ? { location: options.location } : {}),
    });
    // No maxResults here: the stream reads it as a cap on ALL rows; pages follow pageToken at the server's size.
    for await (const row of stream as AsyncIterable<Record<string, unknown>>) {
      yield {
        day: String(row.day),
        tenantId: typeof row.tenant_id === 'string' && row.tenant_id ? row.tenant_id : null,
        service: typeof row.service === 'string' && row.service ? row.service : 'Unknown service',
        currency: String(row.currency ?? 'USD'),
        amount: Number(row.amount ?? 0),
      };
    }
  }
}

/** Rows as they come; a failing query or an unreachable BigQuery becomes a `failed` DriverError naming it (503 at the edge). */
async function* failuresNamed<T>(rows: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* rows;
  } catch (error) {
    if (error instanceof DriverError) throw error;
    throw new DriverError('bigquery', 'failed', `bigquery: the cost query failed: ${(error as Error).message}`, { cause: error });
  }
}
