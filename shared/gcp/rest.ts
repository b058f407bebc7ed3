/**
 * A small REST caller for the Google APIs without a lazily loadable Node client
 * here (IAM admin, Artifact Registry): the documented JSON over HTTPS with the
 * platform's credentials. It takes the same client options as the GAPIC
 * clients (`apiEndpoint`, `port`, `protocol`, `authClient`), so tests point it
 * at a local fake exactly as they point `@google-cloud/*` clients.
 */
import { openAsBlob } from 'node:fs';
import type { AuthClient } from 'google-auth-library';

/** A Google API error, from the documented body `{error: {code, message, status}}`. */
export class GoogleApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly status: string,
    message: string,
  ) {
    super(`${status}: ${message}`);
    this.name = 'GoogleApiError';
  }
}

/** True when `error` is a Google API error with that status (NOT_FOUND, ALREADY_EXISTS …). */
export const isStatus = (error: unknown, status: string) => error instanceof GoogleApiError && error.status === status;

export interface GoogleRest {
  /** Calls `https://<service>.googleapis.com/<path>` (or the configured endpoint) and returns the parsed JSON. */
  call<T = any>(service: string, method: string, path: string, body?: unknown): Promise<T>;
  /** GETs `path` and returns the raw bytes (e.g. a Cloud Storage object with `?alt=media`). */
  download(service: string, path: string): Promise<Buffer>;
  /** GETs `path` and returns the answer unread, so its body can be streamed on; an error status throws as `call` does. */
  stream(service: string, path: string): Promise<Response>;
  /** POSTs the file at `file` as the raw body (e.g. a Cloud Storage media upload), read from disk as it is sent; returns the parsed JSON. */
  upload<T = any>(service: string, path: string, file: string, contentType: string): Promise<T>;
}

/**
 * Builds a caller of Google REST APIs from GAPIC-style client options. With
 * no `authClient` given, it loads google-auth-library on the first call and
 * uses Application Default Credentials, so importing it costs nothing.
 */
export function createGoogleRest(clientOptions: Record<string, unknown> = {}): GoogleRest {
  let auth: Promise<Pick<AuthClient, 'getRequestHeaders'>> | undefined;
  function credentials() {
    auth ??= clientOptions.authClient
      ? Promise.resolve(clientOptions.authClient as AuthClient)
      : import('google-auth-library').then(({ GoogleAuth }) =>
          new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getClient(),
        );
    return auth;
  }
  const base = (service: string) =>
    clientOptions.apiEndpoint
      ? `${clientOptions.protocol ?? 'https'}://${clientOptions.apiEndpoint}${clientOptions.port ? `:${clientOptions.port}` : ''}`
      : `https://${service}.googleapis.com`;

  const headersFor = async (url: string) => new Headers((await (await credentials()).getRequestHeaders(url)) as HeadersInit);
  async function stream(service: string, path: string): Promise<Response> {
    const url = `${base(service)}/${path}`;
    const response = await fetch(url, { headers: await headersFor(url) });
    if (!response.ok) {
      const json = await response.json().catch(() => undefined);
      throw new GoogleApiError(response.status, json?.error?.status ?? `HTTP_${response.status}`, json?.error?.message ?? url);
    }
    return response;
  }

  return {
    stream,
    async download(service, path) {
      return Buffer.from(await (await stream(service, path)).arrayBuffer());
    },
    async upload(service, path, file, contentType) {
      const url = `${base(service)}/${path}`;
      const headers = await headersFor(url);
      headers.set('content-type', contentType);
      // A file-backed Blob: fetch sends it with its length, reading from disk as it goes.
      return answer(await fetch(url, { method: 'POST', headers, body: await openAsBlob(file) }));
    },
    async call(service, method, path, body) {
      const url = `${base(service)}/${path}`;
      const headers = await headersFor(url);
      if (body !== undefined) headers.set('content-type', 'application/json');
      return answer(await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
    },
  };
}

/** The parsed JSON of an answer, or its documented error as a GoogleApiError. */
async function answer(response: Response): Promise<any> {
  const text = await response.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    throw new GoogleApiError(response.status, json?.error?.status ?? `HTTP_${response.status}`, json?.error?.message ?? text.slice(0, 200));
  }
  return json;
}
