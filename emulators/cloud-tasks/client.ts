/**
 * The recipe for pointing the unmodified `CloudTasksClient` at the local
 * server. Tests and the platform use exactly this.
 */
import { CloudTasksClient } from '@google-cloud/tasks';
import { googleAuthLibrary, grpc } from 'google-gax';

/**
 * Creates a `CloudTasksClient` for a local server at `endpoint` (`host:port`;
 * for REST mode the REST port, optionally prefixed with `http://`).
 *
 * What makes it work without any Google credentials:
 * - `sslCreds: grpc.credentials.createInsecure()` with `grpc` from
 *   google-gax (the client refuses credentials from another grpc-js copy);
 *   when `sslCreds` is given, gax uses it as the channel credentials and
 *   never asks google-auth-library for a token.
 * - `authClient: new PassThroughClient()` (google-auth-library's no-op
 *   client, from the copy google-gax bundles): the REST transport calls
 *   `getRequestHeaders()` on it and gets no Authorization header, and no
 *   credential lookup or metadata-server probe happens in either mode.
 * - `projectId` set to a fake value so nothing tries to discover one;
 *   `METADATA_SERVER_DETECTION=none` is set (if unset) as a second guard.
 * - REST mode: `fallback: 'rest'` (the v6 client option) plus
 *   `protocol: 'http'`, since the local server speaks plain HTTP.
 */
export function createLocalTasksClient(endpoint: string, options: { rest?: boolean } = {}): CloudTasksClient {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const { hostname, port } = new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`);
  if (!port) throw new Error(`Local Cloud Tasks endpoint "${endpoint}" has no port; expected host:port, e.g. 127.0.0.1:8123.`);
  const common = {
    apiEndpoint: hostname,
    port: Number(port),
    projectId: 'local-project',
    // validateStatus: let the REST transport see error statuses itself, so it
    // decodes the Google JSON error into a GoogleError with a gRPC code
    // (otherwise the auth transport throws a bare HTTP error first).
    authClient: new googleAuthLibrary.PassThroughClient({ transporterOptions: { validateStatus: () => true } }),
  };
  if (options.rest)
    return new CloudTasksClient({ ...common, fallback: 'rest', protocol: 'http' } as ConstructorParameters<typeof CloudTasksClient>[0]);
  return new CloudTasksClient({ ...common, sslCreds: grpc.credentials.createInsecure() });
}
