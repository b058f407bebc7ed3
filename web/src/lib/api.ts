/** JSON calls to the platform API with the signed-in user's ID token. */
import { getIdToken } from './auth.ts';
import { streamBase } from './config.ts';
import { errorFromResponse, networkError } from './errors.ts';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  json?: unknown;
  /** Public endpoints (signup, activate, config) send no token. */
  anonymous?: boolean;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /**
   * Send it to this function's own URL instead of this page's origin. Streams
   * need it: Hosting buffers its rewrites' answers until they are complete.
   */
  via?: 'api' | 'chat';
}

/** Sends a request with `Authorization: Bearer <ID token>`; retries once with a refreshed token on 401. */
export async function send(path: string, options: RequestOptions = {}, refreshed = false): Promise<Response> {
  // The audit trail records which path a change came through (R-AUDIT-1).
  const headers: Record<string, string> = { Accept: 'application/json', 'X-Tenantplane-Client': 'web', ...options.headers };
  if (options.json !== undefined) headers['Content-Type'] = 'application/json';
  if (!options.anonymous) headers.Authorization = `Bearer ${await getIdToken(refreshed)}`;
  const base = options.via ? await streamBase(options.via) : '';
  let res: Response;
  try {
    res = await fetch(base + path, {
      method: options.method ?? (options.json === undefined ? 'GET' : 'POST'),
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      signal: options.signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw networkError();
  }
  // A token revoked or a role changed since the last refresh: one retry with a fresh token.
  if (res.status === 401 && !options.anonymous && !refreshed) return send(path, options, true);
  return res;
}

/** Like `send`, and returns the parsed JSON body; a non-2xx answer throws an ApiError with the server's message. */
export async function api<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
  const res = await send(path, options);
  if (!res.ok) throw await errorFromResponse(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}
