/**
 * The catalog side of the BigQuery fake: the one dataset and table it holds (the
 * Cloud Billing export table it is started with), so `bq ls`, `bq show` and
 * `bq head` work. Follows the documented BigQuery v2 REST shapes
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2):
 * - projects.list `GET /projects` → ProjectList `{kind: "bigquery#projectList", etag, projects[{kind,
 *   id, numericId, projectReference{projectId}, friendlyName}], totalItems}`: the table's project.
 * - datasets.list `GET /projects/{p}/datasets` → DatasetList `{kind: "bigquery#datasetList",
 *   etag, datasets[{kind, id: "p:d", datasetReference{projectId, datasetId}, location}]}`
 *   (no `datasets` field when there are none).
 * - datasets.get `GET /projects/{p}/datasets/{d}` → Dataset `{kind: "bigquery#dataset", etag, id,
 *   selfLink, datasetReference, access[], creationTime, lastModifiedTime (ms as strings),
 *   location, type: "DEFAULT"}`.
 * - tables.list `GET …/datasets/{d}/tables` → TableList `{kind: "bigquery#tableList", etag,
 *   tables[{kind, id: "p:d.t", tableReference, type: "TABLE", creationTime}], totalItems}`.
 * - tables.get `GET …/tables/{t}` → Table `{kind: "bigquery#table", etag, id, selfLink,
 *   tableReference, schema{fields[{name, type, mode, fields}]}, numRows, numBytes, creationTime,
 *   lastModifiedTime, type, location}`.
 * - tabledata.list `GET …/tables/{t}/data?maxResults&pageToken&startIndex` → TableDataList
 *   `{kind: "bigquery#tableDataList", etag, totalRows, pageToken, rows[{f[{v}]}]}` where a RECORD
 *   is `{v: {f: [...]}}`, a REPEATED field `{v: [{v: …}]}`, numbers strings, and a TIMESTAMP
 *   seconds since the epoch as a string (microseconds with `formatOptions.useInt64Timestamp`).
 * The table's schema is the subset of the standard billing export schema the fixture rows hold.
 */
import type { FakeResponse, RecordedRequest } from './http-server.ts';
import type { ExportRow } from './bigquery-fake.ts';

type Json = Record<string, any>;

/** The export table's schema: the documented fields of the billing export that the fixture rows carry. */
export const EXPORT_SCHEMA = {
  fields: [
    { name: 'service', type: 'RECORD', mode: 'NULLABLE', fields: [{ name: 'description', type: 'STRING', mode: 'NULLABLE' }] },
    { name: 'usage_start_time', type: 'TIMESTAMP', mode: 'NULLABLE' },
    {
      name: 'labels',
      type: 'RECORD',
      mode: 'REPEATED',
      fields: [
        { name: 'key', type: 'STRING', mode: 'NULLABLE' },
        { name: 'value', type: 'STRING', mode: 'NULLABLE' },
      ],
    },
    { name: 'cost', type: 'FLOAT', mode: 'NULLABLE' },
    { name: 'currency', type: 'STRING', mode: 'NULLABLE' },
    {
      name: 'credits',
      type: 'RECORD',
      mode: 'REPEATED',
      fields: [
        { name: 'name', type: 'STRING', mode: 'NULLABLE' },
        { name: 'amount', type: 'FLOAT', mode: 'NULLABLE' },
      ],
    },
  ],
};

function notFound(message: string): FakeResponse {
  return {
    status: 404,
    body: { error: { code: 404, message, status: 'NOT_FOUND', errors: [{ message, domain: 'global', reason: 'notFound' }] } },
  };
}

/** One field's value in the REST row encoding. */
function cell(field: Json, value: unknown, int64Timestamps: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (field.mode === 'REPEATED')
    return (value as unknown[]).map((item) => ({ v: cell({ ...field, mode: 'NULLABLE' }, item, int64Timestamps) }));
  if (field.type === 'RECORD')
    return { f: (field.fields as Json[]).map((sub) => ({ v: cell(sub, (value as Json)[sub.name], int64Timestamps) })) };
  if (field.type === 'TIMESTAMP') {
    const ms = Date.parse(String(value));
    return int64Timestamps ? String(ms * 1000) : String(ms / 1000);
  }
  return String(value);
}

/** Serves the catalog calls for `table` (`project.dataset.table`) in `location`; undefined for other paths. */
export function createBigQueryCatalog(table: string, rows: () => ExportRow[], location: string) {
  const [projectId, datasetId, tableId] = table.split('.');
  const created = String(Date.now());
  const datasetReference = { projectId, datasetId };
  const tableReference = { projectId, datasetId, tableId };
  const etag = () => Buffer.from(String(rows().length)).toString('base64');
  const base = '/bigquery/v2';

  return function handle(req: RecordedRequest): FakeResponse | undefined {
    if (req.method === 'GET' && req.path === `${base}/projects`) {
      return {
        status: 200,
        body: {
          kind: 'bigquery#projectList',
          etag: etag(),
          projects: [
            {
              kind: 'bigquery#project',
              id: projectId,
              numericId: '100000000001',
              projectReference: { projectId },
              friendlyName: projectId,
            },
          ],
          totalItems: 1,
        },
      };
    }
    const m = /^\/bigquery\/v2\/projects\/([^/]+)\/datasets(?:\/([^/]+)(?:\/tables(?:\/([^/]+)(\/data)?)?)?)?$/.exec(req.path);
    if (!m || req.method !== 'GET') return undefined;
    const [, project, dataset, tableName, data] = m;
    const isTables = req.path.includes('/tables');
    if (!dataset) {
      if (project !== projectId) return { status: 200, body: { kind: 'bigquery#datasetList', etag: etag() } };
      return {
        status: 200,
        body: {
          kind: 'bigquery#datasetList',
          etag: etag(),
          datasets: [{ kind: 'bigquery#dataset', id: `${projectId}:${datasetId}`, datasetReference, location: location }],
        },
      };
    }
    if (project !== projectId || dataset !== datasetId) return notFound(`Not found: Dataset ${project}:${dataset}`);
    if (!isTables) {
      return {
        status: 200,
        body: {
          kind: 'bigquery#dataset',
          etag: etag(),
          id: `${projectId}:${datasetId}`,
          selfLink: `${base}/projects/${projectId}/datasets/${datasetId}`,
          datasetReference,
          access: [
            { role: 'OWNER', specialGroup: 'projectOwners' },
            { role: 'READER', specialGroup: 'projectReaders' },
          ],
          creationTime: created,
          lastModifiedTime: created,
          location: location,
          type: 'DEFAULT',
        },
      };
    }
    if (!tableName) {
      return {
        status: 200,
        body: {
          kind: 'bigquery#tableList',
          etag: etag(),
          tables: [
            { kind: 'bigquery#table', id: `${projectId}:${datasetId}.${tableId}`, tableReference, type: 'TABLE', creationTime: created },
          ],
          totalItems: 1,
        },
      };
    }
    if (tableName !== tableId) return notFound(`Not found: Table ${projectId}:${datasetId}.${tableName}`);
    const all = rows();
    if (!data) {
      return {
        status: 200,
        body: {
          kind: 'bigquery#table',
          etag: etag(),
          id: `${projectId}:${datasetId}.${tableId}`,
          selfLink: `${base}/projects/${projectId}/datasets/${datasetId}/tables/${tableId}`,
          tableReference,
          schema: EXPORT_SCHEMA,
          numRows: String(all.length),
          numBytes: String(all.length * 200),
          numLongTermBytes: '0',
          creationTime: created,
          lastModifiedTime: created,
          type: 'TABLE',
          location: location,
        },
      };
    }
    const token = req.query.get('pageToken');
    const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) : Number(req.query.get('startIndex') ?? 0);
    const max = Number(req.query.get('maxResults') ?? 1000) || 1000;
    const int64 = req.query.get('formatOptions.useInt64Timestamp') === 'true';
    const slice = all.slice(start, start + max);
    const next = start + slice.length;
    return {
      status: 200,
      body: {
        kind: 'bigquery#tableDataList',
        etag: etag(),
        totalRows: String(all.length),
        ...(next < all.length ? { pageToken: Buffer.from(String(next)).toString('base64url') } : {}),
        rows: slice.map((row) => ({
          f: EXPORT_SCHEMA.fields.map((field) => ({ v: cell(field, (row as unknown as Json)[field.name], int64) })),
        })),
      },
    };
  };
}
