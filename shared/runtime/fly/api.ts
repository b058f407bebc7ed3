/**
 * A small client for the two Fly.io APIs the Fly driver needs: the Machines
 * REST API (apps, volumes, machines) and the GraphQL API, which alone offers
 * IP allocation, certificates and app secrets. `fetch` is injected so tests
 * point it at a local fake.
 */
import { DriverError } from '../types.ts';

/** Connection settings of {@link createFlyApi}. */
export interface FlyApiOptions {
  apiToken: string;
  baseUrl: string;
  graphqlUrl: string;
  fetch: typeof fetch;
}

/** An HTTP error from the Machines API, keeping the status for callers that tolerate some (404). */
export class FlyApiError extends DriverError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('fly', status === 404 ? 'not_found' : 'failed', message);
  }
}

/**
 * Builds the Fly API client from a token, the two API URLs and a `fetch`.
 * Errors name the call and the URL, since a wrong base URL otherwise shows up
 * only as a bare network error.
 */
export function createFlyApi(options: FlyApiOptions) {
  const headers = { authorization: `Bearer ${options.apiToken}`, 'content-type': 'application/json' };

  async function rest<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await options.fetch(`${options.baseUrl.replace(/\/$/, '')}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new DriverError(
        'fly',
        'failed',
        `fly: ${method} ${path} could not reach the Machines API at ${options.baseUrl}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const text = await response.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!response.ok)
      throw new FlyApiError(response.status, `fly: ${method} ${path} answered ${response.status}: ${json?.error ?? text.slice(0, 200)}`);
    return json as T;
  }

  /** Same call, but a 404 is `undefined` (for look-before-create and idempotent deletes). */
  async function restOptional<T = any>(method: string, path: string, body?: unknown): Promise<T | undefined> {
    try {
      return await rest<T>(method, path, body);
    } catch (error) {
      if (error instanceof FlyApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  async function graphql<T = any>(query: string, variables: Record<string, unknown>): Promise<T> {
    const response = await options
      .fetch(options.graphqlUrl, { method: 'POST', headers, body: JSON.stringify({ query, variables }) })
      .catch((error: Error) => {
        throw new DriverError('fly', 'failed', `fly: could not reach the GraphQL API at ${options.graphqlUrl}: ${error.message}`, {
          cause: error,
        });
      });
    const json = (await response.json().catch(() => ({}))) as { data?: T; errors?: { message: string }[] };
    if (!response.ok || json.errors?.length) {
      throw new DriverError(
        'fly',
        'failed',
        `fly: GraphQL ${/\b(\w+)\s*\(/.exec(query)?.[1] ?? 'request'} failed (${response.status}): ${json.errors?.map((e) => e.message).join('; ') ?? 'no body'}`,
      );
    }
    return json.data as T;
  }

  return { rest, restOptional, graphql };
}

export type FlyApi = ReturnType<typeof createFlyApi>;

/** GraphQL documents, as published in Fly's schema. */
export const FLY_GRAPHQL = {
  app: `query($name: String!) { app(name: $name) { name ipAddresses { nodes { id address type } } certificates { nodes { hostname } } } }`,
  allocateIp: `mutation($input: AllocateIPAddressInput!) { allocateIpAddress(input: $input) { ipAddress { id address type } } }`,
  addCertificate: `mutation($appId: ID!, $hostname: String!) { addCertificate(appId: $appId, hostname: $hostname) { certificate { id hostname configured } } }`,
  setSecrets: `mutation($input: SetSecretsInput!) { setSecrets(input: $input) { release { id version } } }`,
} as const;
