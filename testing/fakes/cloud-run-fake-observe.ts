/**
 * What Cloud Run sends to Cloud Logging and Cloud Monitoring, for the Cloud Run
 * fake: each simulated request to a serving service writes the request log entry
 * Cloud Run writes (`run.googleapis.com/requests`, with `httpRequest`) and counts
 * toward `request_count`; tests add container output with `writeLog`. The
 * services' instance is taken to start when their latest rollout became ready
 * (`terminalCondition.lastTransitionTime`), which is when Cloud Run starts one.
 */
import { createCloudLoggingState, type CloudLoggingFakeOptions, type FakeLogEntry } from './cloud-logging-fake.ts';
import { createCloudMonitoringState, type CloudMonitoringFakeOptions } from './cloud-monitoring-fake.ts';
import type { FakeResponse, RecordedRequest } from './http-server.ts';

type Json = Record<string, any>;

export interface CloudRunObserveOptions {
  logging?: CloudLoggingFakeOptions;
  monitoring?: CloudMonitoringFakeOptions;
  /** Utilization fractions the monitoring fake reports for every serving service (default cpu 0.25, memory 0.5). */
  utilization?: { cpu: number; memory: number };
}

/** Logging and Monitoring state over the Cloud Run fake's `services`, served on the same fake server. */
export function createCloudRunObservability(
  services: Map<string, Json>,
  isServing: (service: Json) => boolean,
  options: CloudRunObserveOptions = {},
  /** The revision serving the service's traffic (full name); default its latest ready one. */
  trafficRevision: (service: Json) => string | undefined = (service) => service.latestReadyRevision,
) {
  const logging = createCloudLoggingState(options.logging);
  /** Requests served, per service: when, by which revision, with which status. */
  const requestTimes = new Map<string, { at: number; revision: string; status: number }[]>();
  const utilization = options.utilization ?? { cpu: 0.25, memory: 0.5 };

  function labelsOf(service: Json): { project: string; region: string; serviceId: string; revision: string } {
    const [, project, , region, , serviceId] = (service.name as string).split('/');
    return {
      project,
      region,
      serviceId,
      revision:
        String(trafficRevision(service) ?? '')
          .split('/')
          .pop() ?? '',
    };
  }

  function resourceOf(service: Json) {
    const { project, region, serviceId, revision } = labelsOf(service);
    return {
      type: 'cloud_run_revision',
      labels: { project_id: project, service_name: serviceId, revision_name: revision, location: region, configuration_name: serviceId },
    };
  }

  const monitoring = createCloudMonitoringState(
    () =>
      [...services.values()].filter(isServing).map((service) => ({
        ...labelsOf(service),
        since: Date.parse(service.terminalCondition?.lastTransitionTime ?? service.updateTime),
        requests: requestTimes.get(service.name) ?? [],
        revisionOf: (entry: { revision: string }) => entry.revision,
        ...utilization,
      })),
    options.monitoring,
  );

  return {
    logEntries: logging.entries,

    /**
     * A request to `url`: served (logged and counted, by the revision taking the traffic, with `status`,
     * default 200) when the service is serving; true when it was.
     */
    request(url: string, path = '/', status = 200): boolean {
      const service = [...services.values()].find((s) => s.uri === url.replace(/\/$/, ''));
      if (!service || !isServing(service)) return false;
      const times = requestTimes.get(service.name) ?? [];
      times.push({ at: Date.now(), revision: labelsOf(service).revision, status });
      requestTimes.set(service.name, times);
      logging.write({
        logName: `projects/${labelsOf(service).project}/logs/run.googleapis.com%2Frequests`,
        resource: resourceOf(service),
        severity: 'INFO',
        httpRequest: { requestMethod: 'GET', requestUrl: `${service.uri}${path}`, status, latency: '0.004s', protocol: 'HTTP/1.1' },
      });
      return true;
    },

    /** Container output of the service `serviceName` (full resource name) as Cloud Run forwards it. */
    writeLog(
      serviceName: string,
      line: { stream: 'stdout' | 'stderr'; text?: string; json?: Json; timestamp?: string; severity?: string },
    ): FakeLogEntry {
      const service = services.get(serviceName);
      if (!service) throw new Error(`writeLog: no service ${serviceName}`);
      return logging.write({
        logName: `projects/${labelsOf(service).project}/logs/run.googleapis.com%2F${line.stream}`,
        resource: resourceOf(service),
        severity: line.severity ?? (line.stream === 'stderr' ? 'ERROR' : 'DEFAULT'),
        timestamp: line.timestamp,
        ...(line.json ? { jsonPayload: line.json } : { textPayload: line.text ?? '' }),
      });
    },

    handle(request: RecordedRequest): FakeResponse | undefined {
      return logging.handle(request) ?? monitoring.handle(request);
    },
  };
}
