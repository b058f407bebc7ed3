/**
 * A recording stand-in for the Google Cloud REST APIs the operator scripts
 * reach through the real gcloud: one HTTP server that is every API's endpoint
 * (`CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>=http://<api>.tp.test/`) and, as an
 * HTTP proxy (`CLOUDSDK_PROXY_*`), also takes the regional hosts gcloud derives
 * from them (`europe-west1-run.tp.test`) without /etc/hosts entries.
 *
 * It keeps the resources it is given and answers with the documented shapes:
 * resources as created, lists under their collection's name, done
 * long-running operations carrying the resource, IAM policies with etags, and
 * errors as https://cloud.google.com/apis/design/errors describes them
 * (404 NOT_FOUND for a missing resource, 409 ALREADY_EXISTS for a second
 * create). Every request is recorded with its host, method, path, query and
 * JSON body, so tests assert on what gcloud really sent.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { gcloudApiRoutes, type Cloud } from './recorder-apis.ts';

export interface RecordedCall {
  /** API host as gcloud addressed it, e.g. `cloudtasks.tp.test` or `europe-west1-run.tp.test`. */
  host: string;
  method: string;
  path: string;
  query: URLSearchParams;
  body: any;
  status: number;
}

export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const STATUS: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  UNIMPLEMENTED: 501,
};

/** The documented error body. */
export function apiError(status: keyof typeof STATUS, message: string): Answer {
  const code = STATUS[status];
  return { status: code, body: { error: { code, message, status } } };
}

/** A completed google.longrunning.Operation carrying `response`. */
export function doneOperation(parent: string, response: unknown, metadata: Record<string, unknown> = {}): Answer {
  return { status: 200, body: { name: `${parent}/operations/op-${randomUUID().slice(0, 8)}`, done: true, metadata, response } };
}

export interface Recorder {
  url: string;
  port: number;
  calls: RecordedCall[];
  cloud: Cloud;
  /** Calls that change something (not GET, not get-IAM-policy), as `METHOD host/path`. */
  mutations(): RecordedCall[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Starts the recorder on 127.0.0.1; `hostingHealth` is what GET /api/health answers on the hosting host. */
export async function startRecorder(
  options: { projectId: string; projectNumber?: string; hostingHealth?: number } = { projectId: 'tp-real' },
): Promise<Recorder> {
  const calls: RecordedCall[] = [];
  const routes = gcloudApiRoutes({
    projectId: options.projectId,
    projectNumber: options.projectNumber ?? '246813579',
    hostingHealth: options.hostingHealth ?? 200,
  });
  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      // A proxy request carries the absolute URL; a direct one only the path.
      const url = new URL(req.url ?? '/', /^https?:\/\//.test(req.url ?? '') ? undefined : `http://${req.headers.host}`);
      const text = raw.toString('utf8');
      let body: any = text;
      if ((req.headers['content-type'] ?? '').includes('json') && text) {
        try {
          body = JSON.parse(text);
        } catch {
          /* kept as text */
        }
      }
      const call: RecordedCall = {
        host: url.hostname,
        method: req.method ?? 'GET',
        path: decodeURIComponent(url.pathname),
        query: url.searchParams,
        body,
        status: 0,
      };
      let answer: Answer;
      try {
        answer =
          routes.handle(call, raw) ?? apiError('UNIMPLEMENTED', `The recorder has no route for ${call.method} ${call.host}${call.path}`);
      } catch (error) {
        answer = { status: 500, body: { error: { code: 500, message: String((error as Error).stack), status: 'INTERNAL' } } };
      }
      call.status = answer.status;
      calls.push(call);
      const payload = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json; charset=UTF-8', ...answer.headers });
      res.end(payload);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    cloud: routes.cloud,
    mutations: () => calls.filter((c) => c.method !== 'GET' && !c.path.endsWith(':getIamPolicy') && !c.path.endsWith(':access')),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
