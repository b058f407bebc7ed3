/**
 * A small REST caller for the Google APIs without a lazily loadable Node client
 * here (IAM admin, Artifact Registry): the documented JSON over HTTPS with the
 * platform's credentials. It takes the same client options as the GAPIC
 * clients (`apiEndpoint`, `port`, `protocol`, `authClient`), so tests point it
 * at a local fake exactly as they point `@google-cloud/*` clients.
 */
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

  return {
    async download(service, path) {
      const url = `${base(service)}/${path}`;
      const headers = new Headers((await (await credentials()).getRequestHeaders(url)) as HeadersInit);
      const response = await fetch(url, { headers });
      if (!response.ok) {
        const json = await response.json().catch(() => undefined);
        throw new GoogleApiError(response.status, json?.error?.status ?? `HTTP_${response.status}`, json?.error?.message ?? url);
      }
      return Buffer.from(await response.arrayBuffer());
    },
    async call(service, method, path, body) {
      const url = `${base(service)}/${path}`;
      const headers = new Headers((await (await credentials()).getRequestHeaders(url)) as HeadersInit);
      if (body !== undefined) headers.set('content-type', 'application/json');
      const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.text();
      let json: any;
      try {
        json = text ? JSON.parse(text) : {};
      } catch {
        json = undefined;
      }
      if (!response.ok) {
        throw new GoogleApiError(
          response.status,
          json?.error?.status ?? `HTTP_${response.status}`,
          json?.error?.message ?? text.slice(0, 200),
        );
      }
      return json;
    },
  };
}
