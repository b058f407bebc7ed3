/**
 * Logs and metrics of a Cloud Run service: Cloud Logging `entries.list` through
 * `@google-cloud/logging` (`Logging#getEntries`) and Cloud Monitoring
 * `timeSeries.list` through `@google-cloud/monitoring` (`MetricServiceClient`).
 * Both clients speak gRPC in production and REST (`fallback: true`) against
 * the test fakes; they are created on first use.
 */
import type { EnvironmentMetrics, LogLine, LogQuery } from '../types.ts';

/** Where a service's logs and metrics live. */
export interface CloudRunTarget {
  projectId: string;
  region: string;
  serviceId: string;
}

/** The Logging client surface used here (`Logging` of @google-cloud/logging v11). */
export interface LoggingLike {
  getEntries(request: object): Promise<[LogEntryLike[], unknown, { nextPageToken?: string | null } | undefined, ...unknown[]]>;
}
/** An `Entry` as `getEntries` returns it: payload in `data`, the rest of the LogEntry in `metadata`. */
export interface LogEntryLike {
  data?: unknown;
  metadata: { timestamp?: unknown; logName?: string | null; severity?: unknown; httpRequest?: Record<string, unknown> | null };
}
/** The Monitoring client surface used here. */
export interface MetricClientLike {
  listTimeSeries(request: object, options?: object): Promise<[TimeSeriesLike[], ...unknown[]]>;
}
export interface TimeSeriesLike {
  metric?: { labels?: Record<string, string> | null } | null;
  points?:
    | {
        interval?: { startTime?: TimestampLike | null; endTime?: TimestampLike | null } | null;
        value?: { int64Value?: unknown; doubleValue?: number | null; distributionValue?: { mean?: number | null } | null } | null;
      }[]
    | null;
}
type TimestampLike = { seconds?: unknown; nanos?: number | null } | string;

/** Cloud Logging keeps `_Default` bucket logs 30 days: with no `since`, that is the whole history. */
const RETENTION_MS = 30 * 24 * 3600 * 1000;
/** Cloud Run samples every 60 s and publishes with up to 3 min delay: newer gaps are not a stop. */
const SAMPLE_GRACE_MS = 4 * 60_000;
/** How far back metrics look for the instance start and its requests. */
const METRICS_WINDOW_MS = 24 * 3600 * 1000;

/** The Logging query language filter for one service's entries at or after `since`. */
export function buildLogFilter(target: CloudRunTarget, since: string): string {
  return [
    'resource.type="cloud_run_revision"',
    `resource.labels.service_name="${target.serviceId}"`,
    `resource.labels.location="${target.region}"`,
    `timestamp>="${since}"`,
  ].join(' AND ');
}

/**
 * The newest `limit` lines (default 100, max 1000) at or after `since`, oldest
 * first. Asks newest-first and follows `nextPageToken`, because a page may
 * hold fewer entries than `pageSize` while more exist.
 */
export async function readServiceLogs(
  logging: LoggingLike,
  target: CloudRunTarget,
  query: LogQuery = {},
  now = Date.now(),
): Promise<LogLine[]> {
  const limit = Math.max(0, Math.min(query.limit ?? 100, 1000));
  if (limit === 0) return [];
  const since = query.since ? new Date(Date.parse(query.since)).toISOString() : new Date(now - RETENTION_MS).toISOString();
  const filter = buildLogFilter(target, since);
  const lines: LogLine[] = [];
  let pageToken: string | undefined;
  do {
    const [entries, , response] = await logging.getEntries({
      resourceNames: [`projects/${target.projectId}`],
      filter,
      orderBy: 'timestamp desc',
      pageSize: limit - lines.length,
      autoPaginate: false,
      ...(pageToken ? { pageToken } : {}),
    });
    for (const entry of entries) if (lines.length < limit) lines.push(toLogLine(entry));
    pageToken = response?.nextPageToken || undefined;
  } while (pageToken && lines.length < limit);
  return lines.reverse();
}

/** One LogEntry as a driver log line: container output keeps its stream; Cloud Run's own entries are `system`. */
export function toLogLine(entry: LogEntryLike): LogLine {
  const { timestamp, logName, httpRequest } = entry.metadata;
  const logId = decodeURIComponent((logName ?? '').split('/logs/')[1] ?? '');
  const stream =
    logId.endsWith('/stdout') || logId === 'stdout' ? 'stdout' : logId.endsWith('/stderr') || logId === 'stderr' ? 'stderr' : 'system';
  return { time: toIso(timestamp), stream, text: textOf(entry.data, httpRequest) };
}

function textOf(data: unknown, http: Record<string, unknown> | null | undefined): string {
  if (typeof data === 'string') return data;
  if (data && typeof data === 'object') {
    const message = (data as { message?: unknown }).message;
    return typeof message === 'string' ? message : JSON.stringify(data);
  }
  if (http) return `${http.requestMethod ?? ''} ${http.requestUrl ?? ''} ${http.status ?? ''}`.trim();
  return '';
}

function toIso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return new Date(Date.parse(value)).toISOString();
  if (value && typeof value === 'object' && 'seconds' in value) return new Date(toMs(value as TimestampLike)).toISOString();
  return new Date(0).toISOString();
}

function toMs(value: TimestampLike | null | undefined): number {
  if (!value) return Number.NaN;
  if (typeof value === 'string') return Date.parse(value);
  return Number(value.seconds ?? 0) * 1000 + Math.floor((value.nanos ?? 0) / 1e6);
}

/** The Cloud Run metric types read, from the documented run.googleapis.com list. */
export const CLOUD_RUN_METRICS = {
  cpu: 'run.googleapis.com/container/cpu/utilizations',
  memory: 'run.googleapis.com/container/memory/utilizations',
  requests: 'run.googleapis.com/request_count',
  instances: 'run.googleapis.com/container/instance_count',
} as const;

/** The Monitoring filter for one metric of one service (the API allows one metric type per call). */
export function buildMetricFilter(target: CloudRunTarget, metricType: string): string {
  return `metric.type="${metricType}" AND resource.type="cloud_run_revision" AND resource.labels.service_name="${target.serviceId}" AND resource.labels.location="${target.region}"`;
}

/**
 * Current resource use of the service, derived from raw points of the last 24 h:
 * - `cpu` = mean of the newest `cpu/utilizations` point × the CPU limit (utilization is a fraction of the allocated vCPUs);
 * - `memoryBytes` = mean of the newest `memory/utilizations` point × the memory limit (Cloud Run publishes no absolute memory);
 * - `uptimeSeconds` = now − the start of the unbroken run of `instance_count` > 0 points ending now; 0 when the newest is older than 4 min;
 * - `requests` = sum of `request_count` since that start (within the window);
 * - `errors` = the same over the series whose `response_code_class` is `5xx` (the rollout's error-rate gate);
 * - `sampledAt` = end of the newest utilization point, else now.
 * An instance that is stopped reports 0 for cpu, memory and uptime.
 */
export async function readServiceMetrics(
  client: MetricClientLike,
  target: CloudRunTarget,
  limits: { memoryBytes: number; cpus: number },
  now = Date.now(),
): Promise<EnvironmentMetrics> {
  const interval = { startTime: { seconds: Math.floor((now - METRICS_WINDOW_MS) / 1000) }, endTime: { seconds: Math.ceil(now / 1000) } };
  const list = async (type: string) => {
    const [series] = await client.listTimeSeries(
      { name: `projects/${target.projectId}`, filter: buildMetricFilter(target, type), interval, view: 'FULL' },
      { autoPaginate: true },
    );
    return series.flatMap((s) => s.points ?? []).sort((a, b) => toMs(b.interval?.endTime) - toMs(a.interval?.endTime));
  };
  let failedPoints: Awaited<ReturnType<typeof list>> = [];
  const [cpu, memory, requests, instances] = await Promise.all([
    list(CLOUD_RUN_METRICS.cpu),
    list(CLOUD_RUN_METRICS.memory),
    (async () => {
      // request_count is one series per response code; the 5xx ones are the errors.
      const [series] = await client.listTimeSeries(
        { name: `projects/${target.projectId}`, filter: buildMetricFilter(target, CLOUD_RUN_METRICS.requests), interval, view: 'FULL' },
        { autoPaginate: true },
      );
      failedPoints = series.filter((s) => s.metric?.labels?.response_code_class === '5xx').flatMap((s) => s.points ?? []);
      return series.flatMap((s) => s.points ?? []).sort((a, b) => toMs(b.interval?.endTime) - toMs(a.interval?.endTime));
    })(),
    list(CLOUD_RUN_METRICS.instances),
  ]);

  const count = (p: (typeof instances)[number]) => Number(p.value?.int64Value ?? p.value?.doubleValue ?? 0);
  const newest = instances[0];
  let start: number | undefined;
  if (newest && count(newest) > 0 && now - toMs(newest.interval?.endTime) <= SAMPLE_GRACE_MS) {
    start = toMs(newest.interval?.endTime);
    // Walk back (points are newest first) while instances ran and no sample is missing.
    for (const point of instances) {
      const at = toMs(point.interval?.endTime);
      if (count(point) <= 0 || start - at > SAMPLE_GRACE_MS) break;
      start = Math.min(start, toMs(point.interval?.startTime) || at);
    }
  }
  const running = start !== undefined;
  const fresh = (points: typeof cpu) => (running ? (points[0]?.value?.distributionValue?.mean ?? 0) : 0);
  const sumSince = (points: typeof requests) =>
    points
      .filter((p) => start === undefined || toMs(p.interval?.endTime) >= start)
      .reduce((sum, p) => sum + Number(p.value?.int64Value ?? 0), 0);
  const requestCount = sumSince(requests);
  const sampled = toMs(cpu[0]?.interval?.endTime ?? memory[0]?.interval?.endTime);
  return {
    cpu: fresh(cpu) * limits.cpus,
    memoryBytes: Math.round(fresh(memory) * limits.memoryBytes),
    requests: requestCount,
    errors: sumSince(failedPoints),
    uptimeSeconds: running ? Math.max(0, Math.round((now - start!) / 1000)) : 0,
    sampledAt: new Date(Number.isNaN(sampled) ? now : sampled).toISOString(),
  };
}

/** Memory and CPU limits of a Cloud Run container (`resources.limits`: `512Mi`, `1Gi`; `1`, `2000m`); Cloud Run's defaults when unset. */
export function limitsOf(container: { resources?: { limits?: Record<string, string> | null } | null } | undefined): {
  memoryBytes: number;
  cpus: number;
} {
  const limits = container?.resources?.limits ?? {};
  const mem = /^(\d+(?:\.\d+)?)(Mi|Gi|M|G)?$/.exec(limits.memory ?? '512Mi');
  const unit = { Mi: 2 ** 20, Gi: 2 ** 30, M: 1e6, G: 1e9 }[(mem?.[2] ?? 'Mi') as 'Mi'];
  const cpu = /^(\d+(?:\.\d+)?)(m)?$/.exec(limits.cpu ?? '1');
  return { memoryBytes: mem ? Number(mem[1]) * unit : 512 * 2 ** 20, cpus: cpu ? Number(cpu[1]) / (cpu[2] ? 1000 : 1) : 1 };
}

/**
 * The Logging and Monitoring clients, created on first use. `Logging` needs the
 * project id up front or it asks the metadata server for one.
 */
export function createObserveClients(
  projectId: string,
  loggingOptions: Record<string, unknown>,
  monitoringOptions: Record<string, unknown>,
) {
  let logging: Promise<LoggingLike & { loggingService?: { close(): Promise<void> } }> | undefined;
  let monitoring: Promise<MetricClientLike & { close(): Promise<void> }> | undefined;
  return {
    logging() {
      logging ??= import('@google-cloud/logging').then(
        (mod: any) => new (mod.Logging ?? mod.default.Logging)({ projectId, ...loggingOptions }),
      );
      return logging;
    },
    monitoring() {
      monitoring ??= import('@google-cloud/monitoring').then(
        (mod: any) => new (mod.MetricServiceClient ?? mod.default.MetricServiceClient)(monitoringOptions),
      );
      return monitoring;
    },
    async close() {
      const [l, m] = [logging, monitoring];
      logging = monitoring = undefined;
      await Promise.all([l?.then((c) => c.loggingService?.close()), m?.then((c) => c.close())]);
    },
  };
}
