/**
 * A fake of the BigQuery v2 REST API, just the calls @google-cloud/bigquery makes
 * to run a query and page through its results, answering from fixture rows of the
 * Cloud Billing export. Follows the documented shapes of:
 * - jobs.query `POST /bigquery/v2/projects/{projectId}/queries` (QueryRequest:
 *   `query`, `useLegacySql`, `parameterMode`, `queryParameters[{name, parameterType:{type},
 *   parameterValue:{value}}]`, `maxResults`) → QueryResponse `{kind: "bigquery#queryResponse",
 *   jobReference{projectId, jobId, location}, jobComplete, schema{fields[{name,type,mode}]},
 *   rows[{f:[{v}]}], totalRows (string), pageToken, totalBytesProcessed, cacheHit}`.
 *   With `pendingPolls` the job first answers `jobComplete: false` without rows.
 * - jobs.getQueryResults `GET /bigquery/v2/projects/{projectId}/queries/{jobId}?pageToken=&maxResults=`
 *   → GetQueryResultsResponse (same fields, kind `bigquery#getQueryResultsResponse`).
 * - jobs.insert `POST /bigquery/v2/projects/{projectId}/jobs` (configuration.query with the same
 *   fields, the client's jobReference.jobId kept, `configuration.dryRun` not kept), jobs.get → Job
 *   `{kind: "bigquery#job", id, jobReference, configuration, status{state}, statistics}`, and
 *   jobs.list → JobList `{kind: "bigquery#jobList", jobs[{id, jobReference, state, …}]}`.
 * - Values in rows are strings (FLOAT too) or null, as the REST API sends them; errors are
 *   `{error: {code, message, status, errors: [{reason: "invalidQuery", ...}]}}`.
 * - `parameterMode` is optional, as documented: named parameters are taken without it (bq sends
 *   none); POSITIONAL with @name parameters is refused.
 * - datasets, tables and tabledata for the one table: see bigquery-catalog.ts (`bq ls`, `bq show`, `bq head`).
 * It CHECKS what it receives: a Standard SQL query over the configured export table that
 * unnests labels and credits and groups, whose every `@param` is supplied as a named
 * parameter of the right type, with no date written into the SQL text. It then evaluates
 * that one query shape over the fixture rows itself.
 */
import { createBigQueryCatalog } from './bigquery-catalog.ts';
import { checkBearer } from './google-rest.ts';
import { randomHex, startFakeServer, type FakeResponse, type RecordedRequest, type RunningFake } from './http-server.ts';

/** One row of the billing export table, the fields the cost query reads. */
export interface ExportRow {
  usage_start_time: string;
  service: { description: string };
  labels: { key: string; value: string }[];
  cost: number;
  currency: string;
  credits: { name: string; amount: number }[];
}

export interface BigQueryFakeOptions {
  /** The only table the fake knows: `project.dataset.table`. */
  table: string;
  rows: ExportRow[];
  /** getQueryResults calls answered `jobComplete: false` before the job completes (default 0). */
  pendingPolls?: number;
  /** Page size when the request sets no maxResults (default 1000). */
  defaultPageSize?: number;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** The export dataset's location, e.g. `EU`: a job run elsewhere is 404 "Not found: Dataset", as BigQuery answers. Default: any. */
  location?: string;
}

export interface BigQueryFake extends RunningFake {
  /** Every query text and its parameters as received, in order. */
  queries: { sql: string; params: Record<string, { type: string; value: string }> }[];
  /** Replaces the fixture rows (e.g. a later run of the export). */
  setRows(rows: ExportRow[]): void;
}

const SCHEMA = {
  fields: [
    { name: 'day', type: 'STRING', mode: 'NULLABLE' },
    { name: 'tenant_id', type: 'STRING', mode: 'NULLABLE' },
    { name: 'service', type: 'STRING', mode: 'NULLABLE' },
    { name: 'currency', type: 'STRING', mode: 'NULLABLE' },
    { name: 'amount', type: 'FLOAT', mode: 'NULLABLE' },
  ],
};

interface Job {
  projectId: string;
  jobId: string;
  rows: (string | null)[][];
  pollsLeft: number;
  firstPageSize: number;
  /** The configuration jobs.insert received, echoed by jobs.get as the API does. */
  configuration?: Record<string, any>;
  created: number;
}

function invalid(message: string, status = 400): FakeResponse {
  return {
    status,
    body: {
      error: {
        code: status,
        message,
        status: status === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT',
        errors: [{ message, domain: 'global', reason: status === 404 ? 'notFound' : 'invalidQuery' }],
      },
    },
  };
}

/** Starts the fake; point the client at it with `apiEndpoint: fake.url`. */
export async function startBigQueryFake(options: BigQueryFakeOptions): Promise<BigQueryFake> {
  let fixture = options.rows;
  const jobs = new Map<string, Job>();
  const queries: BigQueryFake['queries'] = [];
  const pageSizeDefault = options.defaultPageSize ?? 1000;

  /** Validates the query and its parameters the way BigQuery would reject them; returns an error or the params. */
  function check(request: Record<string, any>): FakeResponse | Record<string, { type: string; value: string }> {
    const sql = String(request.query ?? '');
    if (request.useLegacySql !== false) return invalid('The fake only runs Standard SQL: set useLegacySql to false.');
    if (/'\d{4}-\d{2}-\d{2}|"\d{4}-\d{2}-\d{2}|\bDATE\s*'/i.test(sql))
      return invalid('Dates must be query parameters (@from, @to), not literals in the SQL text.');
    const table = /FROM\s+`([^`]+)`/i.exec(sql)?.[1];
    if (!table)
      return invalid(
        `The BigQuery fake evaluates only the billing cost query over \`${options.table}\`; it cannot run this query (no table).`,
      );
    if (table !== options.table)
      return invalid(`Not found: Table ${table.replace('.', ':')} was not found in location ${options.location ?? 'US'}`, 404);
    for (const part of [/UNNEST\(labels\)/i, /UNNEST\(credits\)/i, /\bcost\b/, /service\.description/, /usage_start_time/, /GROUP BY/i]) {
      if (!part.test(sql)) return invalid(`The fake expects the billing cost query; it has no ${part.source}.`);
    }
    const params: Record<string, { type: string; value: string }> = {};
    // parameterMode is optional (QueryRequest/JobConfigurationQuery): named parameters are taken without it, as bq sends them.
    const mode =
      request.parameterMode === undefined || request.parameterMode === null ? undefined : String(request.parameterMode).toUpperCase();
    if (mode !== undefined && mode !== 'NAMED' && mode !== 'POSITIONAL')
      return invalid(`Invalid value for parameterMode: "${request.parameterMode}"; expected NAMED or POSITIONAL.`);
    if (mode === 'POSITIONAL' && /@\w/.test(sql)) return invalid('Query has named parameters (@name) but parameterMode is POSITIONAL.');
    if ((request.queryParameters ?? []).some((p: { name?: string }) => !p.name) && mode !== 'POSITIONAL')
      return invalid('Positional (unnamed) query parameters need parameterMode POSITIONAL.');
    for (const p of request.queryParameters ?? []) params[p.name] = { type: p.parameterType?.type, value: p.parameterValue?.value };
    for (const name of new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]))) {
      if (!params[name]) return invalid(`Query parameter '${name}' not found at [1:1]`);
    }
    for (const name of ['from', 'to']) {
      if (!params[name]) return invalid(`The cost query must filter days with the @${name} parameter.`);
      if (params[name].type !== 'DATE' || !/^\d{4}-\d{2}-\d{2}$/.test(params[name].value ?? ''))
        return invalid(`Parameter @${name} must be a DATE written YYYY-MM-DD.`);
    }
    if (params.label?.type !== 'STRING') return invalid('Parameter @label must be a STRING.');
    queries.push({ sql, params });
    return params;
  }

  /** The one query shape, evaluated over the fixture: sum of cost + credits per day, label value, service, currency. */
  function evaluate(params: Record<string, { type: string; value: string }>): (string | null)[][] {
    const sums = new Map<string, { key: (string | null)[]; amount: number }>();
    for (const row of fixture) {
      const day = row.usage_start_time.slice(0, 10);
      if (day < params.from.value || day > params.to.value) continue;
      const tenant = row.labels.find((l) => l.key === params.label.value)?.value ?? null;
      const amount = row.cost + row.credits.reduce((s, c) => s + c.amount, 0);
      const key = [day, tenant, row.service.description, row.currency];
      const id = JSON.stringify(key);
      const entry = sums.get(id) ?? { key, amount: 0 };
      entry.amount += amount;
      sums.set(id, entry);
    }
    const order = (v: string | null) => v ?? '';
    return [...sums.values()]
      .sort((a, b) => a.key.map(order).join('\u0000').localeCompare(b.key.map(order).join('\u0000')))
      .map((e) => [...e.key, String(e.amount)]);
  }

  function startJob(projectId: string, request: Record<string, any>, location: string | undefined, jobId?: string): Job | FakeResponse {
    const [project, dataset] = options.table.split('.');
    if (options.location && (location ?? 'US') !== options.location)
      return invalid(`Not found: Dataset ${project}:${dataset} was not found in location ${location ?? 'US'}`, 404);
    const params = check(request);
    if ('status' in params && typeof params.status === 'number') return params as FakeResponse;
    const job: Job = {
      projectId,
      jobId: jobId ?? `job_${randomHex(16)}`,
      rows: evaluate(params as Record<string, { type: string; value: string }>),
      pollsLeft: options.pendingPolls ?? 0,
      firstPageSize: Number(request.maxResults) || pageSizeDefault,
      created: Date.now(),
    };
    jobs.set(job.jobId, job);
    return job;
  }

  function page(job: Job, kind: string, pageToken: string | null, maxResults: number): FakeResponse {
    const jobReference = { projectId: job.projectId, jobId: job.jobId, location: 'US' };
    if (job.pollsLeft > 0) {
      job.pollsLeft -= 1;
      return { status: 200, body: { kind, jobReference, jobComplete: false } };
    }
    const offset = pageToken
      ? Number(
          Buffer.from(pageToken, 'base64url')
            .toString('utf8')
            .replace(/^offset:/, ''),
        )
      : 0;
    if (!Number.isInteger(offset) || offset < 0 || offset > job.rows.length) return invalid(`Invalid page token "${pageToken}".`);
    const slice = job.rows.slice(offset, offset + maxResults);
    const next = offset + slice.length;
    return {
      status: 200,
      body: {
        kind,
        etag: randomHex(12),
        schema: SCHEMA,
        jobReference,
        totalRows: String(job.rows.length),
        ...(next < job.rows.length ? { pageToken: Buffer.from(`offset:${next}`).toString('base64url') } : {}),
        rows: slice.map((values) => ({ f: values.map((v) => ({ v })) })),
        totalBytesProcessed: String(fixture.length * 200),
        jobComplete: true,
        cacheHit: false,
      },
    };
  }

  /** The Job resource (jobs.insert, jobs.get): reference, echoed configuration, DONE status and query statistics. */
  function jobResource(job: Job): Record<string, any> {
    const location = options.location ?? 'US';
    const time = String(job.created);
    return {
      kind: 'bigquery#job',
      etag: randomHex(12),
      id: `${job.projectId}:${location}.${job.jobId}`,
      selfLink: `/bigquery/v2/projects/${job.projectId}/jobs/${job.jobId}?location=${location}`,
      jobReference: { projectId: job.projectId, jobId: job.jobId, location },
      configuration: { jobType: 'QUERY', ...job.configuration },
      status: { state: 'DONE' },
      statistics: {
        creationTime: time,
        startTime: time,
        endTime: time,
        totalBytesProcessed: String(fixture.length * 200),
        query: {
          totalBytesProcessed: String(fixture.length * 200),
          totalBytesBilled: '10485760',
          cacheHit: false,
          statementType: 'SELECT',
        },
      },
    };
  }

  const catalog = createBigQueryCatalog(options.table, () => fixture, options.location ?? 'US');
  const fake = await startFakeServer(
    (req: RecordedRequest) => {
      const denied = checkBearer(req);
      if (denied) return denied;
      const body = (req.body ?? {}) as Record<string, any>;
      let m = /^\/bigquery\/v2\/projects\/([^/]+)\/queries$/.exec(req.path);
      if (m && req.method === 'POST') {
        const job = startJob(m[1], body, body.location);
        if (!('jobId' in job)) return job;
        return page(job, 'bigquery#queryResponse', null, job.firstPageSize);
      }
      m = /^\/bigquery\/v2\/projects\/([^/]+)\/queries\/([^/]+)$/.exec(req.path);
      if (m && req.method === 'GET') {
        const job = jobs.get(m[2]);
        if (!job) return invalid(`Not found: Job ${m[1]}:${m[2]}`, 404);
        // startIndex (zero-based row) is the other documented way to page, which bq uses.
        const startIndex = req.query.get('startIndex');
        const pageToken = req.query.get('pageToken') ?? (startIndex ? Buffer.from(`offset:${startIndex}`).toString('base64url') : null);
        return page(job, 'bigquery#getQueryResultsResponse', pageToken, Number(req.query.get('maxResults')) || pageSizeDefault);
      }
      m = /^\/bigquery\/v2\/projects\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(req.path);
      if (m) {
        if (req.method === 'GET' && !m[2]) {
          // jobs.list: this project's jobs, newest first, in the list's short form.
          const listed = [...jobs.values()]
            .filter((j) => j.projectId === m![1])
            .reverse()
            .map((j) => {
              const { kind, id, jobReference, configuration, status, statistics } = jobResource(j);
              return { kind, id, jobReference, state: status.state, configuration, status, statistics };
            });
          return { status: 200, body: { kind: 'bigquery#jobList', etag: randomHex(12), jobs: listed } };
        }
        const existing = m[2] ? jobs.get(m[2]) : undefined;
        if (req.method === 'POST' && !m[2] && body.jobReference?.jobId && jobs.has(body.jobReference.jobId)) {
          const message = `Already Exists: Job ${m[1]}:${body.jobReference.jobId}`;
          return {
            status: 409,
            body: { error: { code: 409, message, status: 'ALREADY_EXISTS', errors: [{ message, domain: 'global', reason: 'duplicate' }] } },
          };
        }
        const job =
          req.method === 'POST' && !m[2]
            ? startJob(m[1], body.configuration?.query ?? {}, body.jobReference?.location, body.jobReference?.jobId)
            : existing;
        if (!job) return invalid(`Not found: Job ${m[1]}:${m[2]}`, 404);
        if (!('jobId' in job)) return job;
        if (req.method === 'POST') job.configuration = body.configuration;
        // A dry run validates and estimates without keeping a job (JobConfiguration.dryRun).
        if (req.method === 'POST' && body.configuration?.dryRun) jobs.delete(job.jobId);
        return { status: 200, body: jobResource(job) };
      }
      return catalog(req) ?? invalid(`The BigQuery fake does not implement ${req.method} ${req.path}.`, 404);
    },
    { port: options.port },
  );
  return { ...fake, queries, setRows: (rows) => void (fixture = rows) };
}
