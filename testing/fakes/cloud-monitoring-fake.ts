/**
 * Cloud Monitoring API v3 `projects.timeSeries.list` for Cloud Run's built-in
 * metrics, served by the Cloud Run fake. Follows:
 * - https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/list:
 *   `GET /v3/{name=projects/*}/timeSeries?filter=&interval.startTime=&interval.endTime=&pageSize=&pageToken=`;
 *   `filter` and `interval.endTime` required; the filter names exactly one metric type;
 *   only series with points inside the interval are returned; the answer is
 *   `{timeSeries: [{metric, resource, metricKind, valueType, points}], nextPageToken}`
 *   with each series' points newest first.
 * - https://cloud.google.com/monitoring/api/v3/filters (`metric.type = "…" AND resource.labels.x = "…"`);
 *   other comparisons answer 400 INVALID_ARGUMENT, so a wrong driver filter fails its test.
 * - https://cloud.google.com/monitoring/api/metrics_gcp (run.googleapis.com):
 *   `container/cpu/utilizations` and `container/memory/utilizations` (DELTA DISTRIBUTION,
 *   fraction of the allocated CPU / memory), `request_count` (DELTA INT64, labels
 *   `response_code`, `response_code_class`), `container/instance_count` (GAUGE INT64,
 *   label `state` active|idle); resource `cloud_run_revision`; sampled every 60 s.
 * Points are derived from what the Cloud Run fake serves: one instance from the time
 * the service last became serving, one request per simulated request, and a fixed
 * utilization per service chosen by the test. Not modelled: aggregation, MQL, sampling delay.
 */
import { googleError } from './google-rest.ts';
import type { FakeResponse, RecordedRequest } from './http-server.ts';

/** What the monitoring fake needs to know about a service that is serving. */
export interface ServingService {
  project: string;
  region: string;
  serviceId: string;
  revision: string;
  /** Epoch ms when its current instance started. */
  since: number;
  /** Each request it served: when, by which revision (short name), with which HTTP status. */
  requests: { at: number; revision: string; status: number }[];
  /** Utilization fractions reported for it. */
  cpu: number;
  memory: number;
}

export interface CloudMonitoringFakeOptions {
  /** Series per page at most, to exercise paging (default 1000). */
  maxPageSize?: number;
  /** Projects whose metrics the caller may not read: PERMISSION_DENIED. */
  deniedProjects?: string[];
}

const KINDS: Record<string, { metricKind: string; valueType: string }> = {
  'run.googleapis.com/container/cpu/utilizations': { metricKind: 'DELTA', valueType: 'DISTRIBUTION' },
  'run.googleapis.com/container/memory/utilizations': { metricKind: 'DELTA', valueType: 'DISTRIBUTION' },
  'run.googleapis.com/request_count': { metricKind: 'DELTA', valueType: 'INT64' },
  'run.googleapis.com/container/instance_count': { metricKind: 'GAUGE', valueType: 'INT64' },
};
const TERM = /^(metric\.type|resource\.type|resource\.labels\.[a-z_]+|metric\.labels\.[a-z_]+)\s*=\s*"([^"]*)"$/;
const MINUTE = 60_000;

type Json = Record<string, any>;

/** Monitoring over the services `listServing` reports. `handle` answers undefined for paths it does not own. */
export function createCloudMonitoringState(listServing: () => ServingService[], options: CloudMonitoringFakeOptions = {}) {
  function seriesOf(s: ServingService, type: string, start: number, end: number): Json[] {
    const resource = {
      type: 'cloud_run_revision',
      labels: {
        project_id: s.project,
        service_name: s.serviceId,
        revision_name: s.revision,
        location: s.region,
        configuration_name: s.serviceId,
      },
    };
    // One-minute windows from the instance start up to now, as Cloud Run samples every 60 s.
    const windows: [number, number][] = [];
    for (let from = s.since; from < end; from += MINUTE) windows.push([from, Math.min(from + MINUTE, end)]);
    const inside = windows.filter(([from, to]) => to >= start && from <= end);
    const iso = (ms: number) => new Date(ms).toISOString();
    const point = (from: number, to: number, value: Json) => ({
      interval: type.endsWith('instance_count') ? { startTime: iso(to), endTime: iso(to) } : { startTime: iso(from), endTime: iso(to) },
      value,
    });
    let points: Json[];
    if (type.endsWith('instance_count')) {
      points = [...inside.map(([from]) => point(from, from, { int64Value: '1' })), point(end, end, { int64Value: '1' })].filter(
        (p) => Date.parse(p.interval.endTime) >= start,
      );
    } else if (type.endsWith('request_count')) {
      // One series per revision and response code, as Cloud Run labels request_count (`response_code`, `response_code_class`).
      const groups = new Map<string, { revision: string; status: number; times: number[] }>();
      for (const r of s.requests) {
        const key = `${r.revision} ${r.status}`;
        const group = groups.get(key) ?? { revision: r.revision, status: r.status, times: [] };
        group.times.push(r.at);
        groups.set(key, group);
      }
      return [...groups.values()].flatMap((g) => {
        const counted = inside
          .map(([from, to]) => [from, to, g.times.filter((at) => at >= from && at < to + 1).length] as const)
          .filter(([, , n]) => n > 0)
          .map(([from, to, n]) => point(from, to, { int64Value: String(n) }));
        if (counted.length === 0) return [];
        return [
          {
            metric: { type, labels: { response_code: String(g.status), response_code_class: `${String(g.status)[0]}xx` } },
            resource: { ...resource, labels: { ...resource.labels, revision_name: g.revision } },
            ...KINDS[type],
            points: counted.reverse(),
          },
        ];
      });
    } else {
      const mean = type.includes('/cpu/') ? s.cpu : s.memory;
      points = inside.map(([from, to]) => point(from, to, { distributionValue: { count: '1', mean, sumOfSquaredDeviation: 0 } }));
    }
    if (points.length === 0) return [];
    const labels = type.endsWith('instance_count') ? { state: 'active' } : {};
    return [{ metric: { type, labels }, resource, ...KINDS[type], points: points.reverse() }];
  }

  function handle(request: RecordedRequest): FakeResponse | undefined {
    const m = /^\/v3\/projects\/([^/]+)\/timeSeries$/.exec(request.path);
    if (!m) return undefined;
    if (request.method !== 'GET') return googleError('NOT_FOUND', `No route for ${request.method} ${request.path}`);
    const project = m[1];
    if (options.deniedProjects?.includes(project))
      return googleError('PERMISSION_DENIED', `Permission monitoring.timeSeries.list denied on projects/${project}.`);
    const q = request.query;
    const filter = q.get('filter');
    if (!filter) return googleError('INVALID_ARGUMENT', 'Field filter had an invalid value: a filter is required.');
    const end = Date.parse(q.get('interval.endTime') ?? '');
    if (Number.isNaN(end)) return googleError('INVALID_ARGUMENT', 'Field interval.endTime had an invalid value: it is required.');
    const start = q.get('interval.startTime') ? Date.parse(q.get('interval.startTime')!) : end;
    if (Number.isNaN(start) || start > end)
      return googleError('INVALID_ARGUMENT', 'Field interval.startTime had an invalid value: it must not be after interval.endTime.');
    for (const key of q.keys()) {
      if (key.startsWith('aggregation.') || key.startsWith('secondaryAggregation.'))
        return googleError('INVALID_ARGUMENT', `This fake does not implement ${key}; the driver reads raw points.`);
    }
    const wanted: Record<string, string> = {};
    for (const raw of filter.split(/\s+AND\s+/)) {
      const t = TERM.exec(raw.trim());
      if (!t) return googleError('INVALID_ARGUMENT', `Field filter had an invalid value of "${filter}": cannot parse '${raw.trim()}'.`);
      wanted[t[1]] = t[2];
    }
    const type = wanted['metric.type'];
    if (!type)
      return googleError('INVALID_ARGUMENT', `Field filter had an invalid value of "${filter}": it must specify a single metric type.`);
    if (!KINDS[type]) return { status: 200, body: {} };
    const series = listServing()
      .filter((s) => s.project === project)
      .flatMap((s) => seriesOf(s, type, start, end))
      .filter((s) => Object.entries(wanted).every(([key, value]) => key === 'metric.type' || lookup(s, key) === value));
    const pageSize = Math.min(Number(q.get('pageSize')) || 100_000, options.maxPageSize ?? 1000);
    const offset = q.get('pageToken') ? Number(Buffer.from(q.get('pageToken')!, 'base64url').toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0) return googleError('INVALID_ARGUMENT', 'pageToken is invalid.');
    const page = series.slice(offset, offset + pageSize);
    const next = offset + page.length < series.length ? Buffer.from(String(offset + page.length)).toString('base64url') : undefined;
    return { status: 200, body: { ...(page.length ? { timeSeries: page } : {}), ...(next ? { nextPageToken: next } : {}), unit: '' } };
  }

  return { handle };
}

function lookup(series: Json, key: string): string | undefined {
  if (key === 'resource.type') return series.resource.type;
  if (key.startsWith('resource.labels.')) return series.resource.labels[key.slice(16)];
  if (key.startsWith('metric.labels.')) return series.metric.labels[key.slice(14)];
  return undefined;
}
