/**
 * The REST (JSON/HTTP) surface of the same API, transcoded per
 * google.api.http rules: path variables and query parameters fill request
 * fields, the body fills `*` or the named field; responses are proto3 JSON
 * (enums as names, or integers when `$alt=json;enum-encoding=int` asks, as
 * the client's REST mode does). Errors use the Google JSON error shape.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serializer, type protobuf } from 'google-gax';
import { ApiError, toApiError } from './api-error.ts';
import { UNIMPLEMENTED_METHODS, type TasksApi } from './api.ts';
import { buildRoutes, type Route } from './http-rules.ts';
import { loadTasksProtos, OBJECT_OPTIONS, SERVICE_NAME } from './protos.ts';

// System parameters that never map to request fields.
const SYSTEM_PARAMS = new Set([
  '$alt',
  'alt',
  'key',
  'fields',
  '$fields',
  'prettyPrint',
  'access_token',
  'callback',
  'quotaUser',
  'upload_protocol',
  'uploadType',
  '$.xgafv',
  'oauth_token',
]);
const camel = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const INT_TYPES = /^(u?int|s?fixed|sint)(32|64)$|^(float|double)$/;

/** Rewrites snake_case keys to the camelCase field names, leaving map keys alone. */
function normalizeKeys(type: protobuf.Type, json: unknown): unknown {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return json;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const name = camel(key);
    const field = type.fields[name];
    if (!field) {
      out[name] = value;
      continue;
    }
    const sub = field.resolve().resolvedType;
    const isMessage = sub && 'fields' in sub && !field.map;
    if (isMessage && field.repeated && Array.isArray(value)) out[name] = value.map((v) => normalizeKeys(sub as protobuf.Type, v));
    else if (isMessage) out[name] = normalizeKeys(sub as protobuf.Type, value);
    else out[name] = value;
  }
  return out;
}

/** Sets a dotted field path, coercing a query-string value to the field's JSON type. */
function setField(type: protobuf.Type, target: Record<string, unknown>, path: string, value: string, fromQuery: boolean): void {
  const parts = path.split('.').map(camel);
  let current = target;
  let currentType: protobuf.Type | undefined = type;
  for (const [index, part] of parts.entries()) {
    const field: protobuf.Field | undefined = currentType?.fields[part];
    if (index === parts.length - 1) {
      let coerced: unknown = value;
      if (fromQuery && field) {
        const resolved = field.resolve().resolvedType;
        if (resolved && 'values' in resolved && /^-?\d+$/.test(value)) coerced = Number(value);
        else if (INT_TYPES.test(field.type)) coerced = Number(value);
        else if (field.type === 'bool') coerced = value === 'true';
      }
      if (field?.repeated) current[part] = [...((current[part] as unknown[]) ?? []), coerced];
      else current[part] = coerced;
      return;
    }
    current = (current[part] ??= {}) as Record<string, unknown>;
    const next: protobuf.Type | protobuf.Enum | null | undefined = field?.resolve().resolvedType;
    currentType = next && 'fields' in next ? (next as protobuf.Type) : undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.httpStatus, { error: { code: error.httpStatus, message: error.message, status: error.status } });
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError('INVALID_ARGUMENT', `Invalid JSON payload received: ${(error as Error).message}`);
  }
}

/** Decodes one REST request into the RPC name and its request object. */
async function decodeRequest(
  routes: Route[],
  req: IncomingMessage,
): Promise<{ route: Route; request: Record<string, unknown>; numericEnums: boolean }> {
  const url = new URL(req.url ?? '/', 'http://local');
  const path = decodeURIComponent(url.pathname);
  const method = (req.method ?? 'GET').toUpperCase();
  let match: RegExpExecArray | null = null;
  const route = routes.find((r) => r.httpMethod === method && (match = r.pattern.exec(path)) !== null);
  if (!route || !match) {
    throw new ApiError(
      'NOT_FOUND',
      `No ${SERVICE_NAME} REST method matches ${method} ${url.pathname}; paths look like /v2/projects/PROJECT/locations/LOCATION/queues.`,
    );
  }
  const body = route.body ? await readBody(req) : {};
  let json: Record<string, unknown> = {};
  if (route.body === '*') json = normalizeKeys(route.requestType, body) as Record<string, unknown>;
  else if (route.body) {
    const field = route.requestType.fields[camel(route.body)];
    const sub = field?.resolve().resolvedType;
    json[camel(route.body)] = sub && 'fields' in sub ? normalizeKeys(sub as protobuf.Type, body) : body;
  }
  for (const [key, value] of url.searchParams) if (!SYSTEM_PARAMS.has(key)) setField(route.requestType, json, key, value, true);
  route.variables.forEach((variable, index) => setField(route.requestType, json, variable, (match as RegExpExecArray)[index + 1], false));
  const alt = url.searchParams.get('$alt') ?? url.searchParams.get('alt') ?? '';
  let message: protobuf.Message;
  try {
    message = serializer.fromProto3JSON(route.requestType, json as never) ?? route.requestType.create();
  } catch (error) {
    throw new ApiError('INVALID_ARGUMENT', `Invalid JSON payload for ${route.requestType.fullName.slice(1)}: ${(error as Error).message}`);
  }
  const request = route.requestType.toObject(message, OBJECT_OPTIONS) as Record<string, unknown>;
  return { route, request, numericEnums: /enum-encoding=int/.test(alt) };
}

/** Starts the REST server for the API on host:port (0 = a free port). */
export async function startRestServer(api: TasksApi, host: string, port: number): Promise<{ server: Server; port: number }> {
  const { root } = loadTasksProtos();
  const routes = buildRoutes(root.lookupService(SERVICE_NAME));
  const server = createServer((req, res) => {
    void (async () => {
      try {
        const { route, request, numericEnums } = await decodeRequest(routes, req);
        if (UNIMPLEMENTED_METHODS.includes(route.rpc)) {
          throw new ApiError('UNIMPLEMENTED', `${route.rpc} is not implemented by the local Cloud Tasks server: it does not model IAM.`);
        }
        const result = await (api as unknown as Record<string, (r: unknown) => Promise<Record<string, unknown>>>)[route.rpc](request);
        const message = route.responseType.fromObject(result);
        sendJson(res, 200, serializer.toProto3JSON(message, { numericEnums }));
      } catch (error) {
        sendError(res, toApiError(error));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
