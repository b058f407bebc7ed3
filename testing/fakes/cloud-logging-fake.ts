/**
 * Cloud Logging API v2 `entries.list`, enough for a runtime driver, served by
 * the Cloud Run fake. Follows:
 * - https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/list:
 *   `POST /v2/entries:list` with `{resourceNames, filter, orderBy, pageSize, pageToken}`;
 *   `resourceNames` required; `orderBy` only `"timestamp asc"` (default) or
 *   `"timestamp desc"`; `pageSize` default 50, at most 1000; the answer is
 *   `{entries, nextPageToken}` and a page may hold fewer entries than asked while
 *   a `nextPageToken` says more exist.
 * - https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry
 *   (`logName` with the log id URL-encoded, `resource {type, labels}`, `textPayload` |
 *   `jsonPayload` | `httpRequest`, `timestamp`, `receiveTimestamp`, `severity`, `insertId`).
 * - https://cloud.google.com/logging/docs/view/logging-query-language: comparisons
 *   joined by `AND`. Only the comparisons below are understood; anything else answers
 *   400 INVALID_ARGUMENT as the real API does for a filter it cannot parse, so a
 *   driver sending a wrong filter fails its tests instead of silently matching.
 * - Cloud Run's logs: resource type `cloud_run_revision` with labels `service_name`,
 *   `revision_name`, `location`, `configuration_name`, `project_id`; log ids
 *   `run.googleapis.com/stdout`, `…/stderr`, `…/requests`, `…/varlog/system`.
 */
import { googleError } from './google-rest.ts';
import type { FakeResponse, RecordedRequest } from './http-server.ts';

/** A stored LogEntry in its REST JSON form. */
export interface FakeLogEntry {
  logName: string;
  resource: { type: string; labels: Record<string, string> };
  timestamp: string;
  receiveTimestamp: string;
  severity: string;
  insertId: string;
  textPayload?: string;
  jsonPayload?: Record<string, unknown>;
  httpRequest?: Record<string, unknown>;
}

export interface CloudLoggingFakeOptions {
  /** Largest page the fake returns whatever `pageSize` asks, to exercise paging (default 1000). */
  maxPageSize?: number;
  /** Projects whose logs the caller may not read: PERMISSION_DENIED. */
  deniedProjects?: string[];
}

type Predicate = (entry: FakeLogEntry) => boolean;

const COMPARISON = /^(resource\.type|resource\.labels\.[a-z_]+|logName|severity|timestamp)\s*(=|>=|<=|>|<)\s*"([^"]*)"$/;
const SEVERITIES = ['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'];

/** Compiles the supported subset of the Logging query language; throws with the offending term. */
export function parseLogFilter(filter: string): Predicate {
  const terms = filter.trim() ? filter.split(/\s+AND\s+/) : [];
  const checks = terms.map((raw): Predicate => {
    const term = raw.trim();
    const m = COMPARISON.exec(term);
    if (!m) throw new Error(`Unparseable filter: unsupported or malformed comparison '${term}'`);
    const [, field, op, value] = m;
    if (field === 'timestamp') {
      const at = Date.parse(value);
      if (Number.isNaN(at)) throw new Error(`Unparseable filter: invalid timestamp "${value}"`);
      return (e) => compare(Date.parse(e.timestamp), at, op);
    }
    if (field === 'severity') {
      const rank = SEVERITIES.indexOf(value);
      if (rank < 0) throw new Error(`Unparseable filter: unknown severity "${value}"`);
      return (e) => compare(SEVERITIES.indexOf(e.severity), rank, op);
    }
    if (op !== '=') throw new Error(`Unparseable filter: operator ${op} is not supported for ${field} by this fake`);
    if (field === 'resource.type') return (e) => e.resource.type === value;
    if (field === 'logName') return (e) => e.logName === value;
    const label = field.slice('resource.labels.'.length);
    return (e) => e.resource.labels[label] === value;
  });
  return (entry) => checks.every((check) => check(entry));
}

function compare(a: number, b: number, op: string): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a < b;
  }
}

/** In-memory Cloud Logging. `handle` answers undefined for paths it does not own. */
export function createCloudLoggingState(options: CloudLoggingFakeOptions = {}) {
  const entries: FakeLogEntry[] = [];
  const maxPage = options.maxPageSize ?? 1000;
  let sequence = 0;

  /** Stores an entry as Cloud Logging would receive it from a Cloud Run instance. */
  function write(entry: Omit<FakeLogEntry, 'insertId' | 'receiveTimestamp' | 'timestamp'> & { timestamp?: string }): FakeLogEntry {
    sequence += 1;
    const now = new Date().toISOString();
    const stored = {
      ...entry,
      timestamp: entry.timestamp ?? now,
      receiveTimestamp: now,
      insertId: `${Date.now().toString(36)}${String(sequence).padStart(6, '0')}`,
    };
    entries.push(stored);
    return stored;
  }

  function handle(request: RecordedRequest): FakeResponse | undefined {
    if (request.path !== '/v2/entries:list') return undefined;
    if (request.method !== 'POST') return googleError('NOT_FOUND', `No route for ${request.method} ${request.path}`);
    const body = (request.body ?? {}) as {
      resourceNames?: string[];
      filter?: string;
      orderBy?: string;
      pageSize?: number;
      pageToken?: string;
    };
    const names = body.resourceNames ?? [];
    if (names.length === 0) return googleError('INVALID_ARGUMENT', 'resourceNames: at least one resource name is required.');
    const projects: string[] = [];
    for (const name of names) {
      const m = /^projects\/([^/]+)$/.exec(name);
      if (!m)
        return googleError(
          'INVALID_ARGUMENT',
          `resourceNames: unsupported resource name "${name}" (this fake knows projects/[PROJECT_ID]).`,
        );
      if (options.deniedProjects?.includes(m[1]))
        return googleError('PERMISSION_DENIED', `The caller does not have permission to read logs of ${name}.`);
      projects.push(m[1]);
    }
    const orderBy = (body.orderBy ?? 'timestamp asc').trim();
    if (orderBy !== 'timestamp asc' && orderBy !== 'timestamp desc') {
      return googleError('INVALID_ARGUMENT', `orderBy: only "timestamp asc" and "timestamp desc" are permitted, got "${orderBy}".`);
    }
    const pageSize = body.pageSize ?? 50;
    if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > 1000)
      return googleError('INVALID_ARGUMENT', `pageSize must be between 0 and 1000, got ${pageSize}.`);
    let matches: Predicate;
    try {
      matches = parseLogFilter(body.filter ?? '');
    } catch (error) {
      return googleError('INVALID_ARGUMENT', (error as Error).message);
    }
    // The token binds the query it continues, as the real API refuses a token with a changed query.
    const query = JSON.stringify([names, body.filter ?? '', orderBy]);
    let offset = 0;
    if (body.pageToken) {
      const decoded = decodeToken(body.pageToken);
      if (!decoded || decoded.query !== query)
        return googleError('INVALID_ARGUMENT', 'pageToken is invalid or belongs to a different query.');
      offset = decoded.offset;
    }
    const selected = entries
      .filter((e) => projects.some((p) => e.logName.startsWith(`projects/${p}/logs/`)) && matches(e))
      .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp) || a.insertId.localeCompare(b.insertId));
    if (orderBy === 'timestamp desc') selected.reverse();
    const page = selected.slice(offset, offset + Math.min(pageSize || 50, maxPage));
    const next = offset + page.length;
    return {
      status: 200,
      body: {
        ...(page.length ? { entries: page } : {}),
        ...(next < selected.length ? { nextPageToken: encodeToken({ query, offset: next }) } : {}),
      },
    };
  }

  return { entries, write, handle };
}

function encodeToken(token: { query: string; offset: number }): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string): { query: string; offset: number } | undefined {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    return typeof token.query === 'string' && Number.isInteger(token.offset) ? token : undefined;
  } catch {
    return undefined;
  }
}
