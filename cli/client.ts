/**
 * The REST client of the CLI: JSON requests with the bearer token, API errors
 * turned into CliErrors carrying the API's message and code, and tenants named
 * by id or by name (names are resolved by listing the caller's tenants).
 */
import { isTenantId, type Tenant } from '../shared/tenants/types.ts';
import type { Session } from './credentials.ts';
import { CliError } from './errors.ts';

export interface ApiClient {
  readonly url: string;
  request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** POSTs bytes (an image archive) instead of JSON; answers like `request`. */
  upload<T = Record<string, unknown>>(path: string, body: Uint8Array, contentType: string): Promise<T>;
  /**
   * A raw authorized GET of a stream; the caller reads the body. It goes to the
   * api function's own URL (`streams.api` of `GET /api/config`), because Hosting
   * would hand over a stream only once it is complete.
   */
  open(path: string, headers?: Record<string, string>, signal?: AbortSignal): Promise<Response>;
  /** Every tenant the caller can see, following pagination. */
  listTenants(): Promise<Tenant[]>;
  /** A tenant by id (`t-…`) or by name. */
  resolveTenant(idOrName: string): Promise<Tenant>;
}

/**
 * Builds the CLI's API client on a signed-in session (its URL and token).
 * `fetchFn` is injected so tests answer requests without a server. A token
 * the server rejects is refreshed once when the session can, since the
 * platform may have restarted or the user's role changed.
 */
export function createClient(session: Session, fetchFn: typeof fetch = fetch): ApiClient {
  let streamBase: Promise<string> | undefined;
  /** Where streams are opened, asked once per run; a platform that does not say (older than STREAM_URL) streams from its own URL. */
  function streamUrl(): Promise<string> {
    streamBase ??= (async () => {
      const res = await send('/api/config', {}, true, session.url, false);
      if (!res.ok) throw toCliError(res.status, await res.json().catch(() => ({})), res.headers.get('x-request-id'));
      const config = (await res.json().catch(() => ({}))) as { streams?: { api?: string } };
      return (config.streams?.api ?? session.url).replace(/\/+$/, '');
    })().catch((err) => {
      streamBase = undefined;
      throw err;
    });
    return streamBase;
  }

  async function send(path: string, init: RequestInit, refreshed = false, base = session.url, signed = true): Promise<Response> {
    const headers = new Headers(init.headers);
    if (signed) headers.set('Authorization', `Bearer ${await session.token(refreshed)}`);
    // The audit trail records which path a change came through (R-AUDIT-1).
    headers.set('X-Tenantplane-Client', 'cli');
    try {
      const res = await fetchFn(base + path, { ...init, headers });
      // A token the server no longer accepts (the platform restarted, a role changed): refresh once and retry.
      if (res.status === 401 && signed && !refreshed && session.canRefresh) {
        await res.body?.cancel();
        return send(path, init, true, base);
      }
      return res;
    } catch (err) {
      if (err instanceof CliError) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `Cannot reach the API at ${base} (${cause?.code ?? cause?.message ?? (err as Error).message}); is it running? Set the URL with \`tenantplane login --url\` or TENANTPLANE_URL.`,
        'unreachable',
      );
    }
  }

  /** The JSON answer of a request, or its §9 error as a CliError. */
  async function answer<T>(pending: Promise<Response>): Promise<T> {
    const res = await pending;
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new CliError(
        `The API answered ${res.status} with a body that is not JSON; is ${session.url} a tenantplane API?`,
        'bad_response',
        res.status,
      );
    }
    if (!res.ok) throw toCliError(res.status, parsed, res.headers.get('x-request-id'));
    return parsed as T;
  }

  const client: ApiClient = {
    url: session.url,
    request<T>(method: string, path: string, body?: unknown): Promise<T> {
      return answer<T>(
        send(path, {
          method,
          headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
    },
    upload<T>(path: string, body: Uint8Array, contentType: string): Promise<T> {
      return answer<T>(send(path, { method: 'POST', headers: { 'Content-Type': contentType }, body: new Blob([new Uint8Array(body)]) }));
    },
    async open(path, headers = {}, signal) {
      const res = await send(path, { headers, signal }, false, await streamUrl());
      if (!res.ok) {
        const parsed = await res.json().catch(() => ({}));
        throw toCliError(res.status, parsed, res.headers.get('x-request-id'));
      }
      return res;
    },
    async listTenants() {
      const all: Tenant[] = [];
      let pageToken: string | undefined;
      do {
        const q = new URLSearchParams({ pageSize: '200', ...(pageToken ? { pageToken } : {}) });
        const page = await client.request<{ tenants: Tenant[]; nextPageToken?: string }>('GET', `/api/v1/tenants?${q}`);
        all.push(...page.tenants);
        pageToken = page.nextPageToken;
      } while (pageToken);
      return all;
    },
    async resolveTenant(idOrName) {
      if (isTenantId(idOrName)) return (await client.request<{ tenant: Tenant }>('GET', `/api/v1/tenants/${idOrName}`)).tenant;
      const name = idOrName.trim().toLowerCase();
      const found = (await client.listTenants()).filter((t) => t.name === name);
      if (found.length === 0)
        throw new CliError(`No tenant with the id or name "${idOrName}"; \`tenantplane tenants list\` shows yours.`, 'not_found', 404);
      if (found.length > 1)
        throw new CliError(`Several tenants are named "${name}" (${found.map((t) => t.id).join(', ')}); use the id.`, 'conflict', 409);
      return found[0];
    },
  };
  return client;
}

/** The §9 error body as a CliError: the API's message, its code, and for a 500 the request id to quote. */
function toCliError(status: number, body: unknown, requestId: string | null): CliError {
  const error = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })?.error;
  let message = error?.message ?? `The API answered HTTP ${status}.`;
  if (status === 401) message += ' Run `tenantplane login` to sign in again.';
  const fields = error?.details?.fields as Record<string, string> | undefined;
  if (fields && !message.includes(Object.keys(fields)[0] ?? '\0'))
    message += ` (${Object.entries(fields)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')})`;
  if (status >= 500 && requestId) message += ` (request id ${requestId})`;
  return new CliError(message, error?.code ?? `http_${status}`, status);
}
