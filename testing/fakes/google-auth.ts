/**
 * Credentials for pointing Google clients at a local fake: a real OAuth2 client
 * holding a static access token, so the client sends `Authorization: Bearer …`
 * exactly as in production but never contacts a token endpoint.
 */
import { OAuth2Client } from 'google-auth-library';

/** Client options that route a `@google-cloud/*` GAPIC client to a fake over plain-HTTP REST. */
export function fakeGoogleClientOptions(fakeUrl: string): Record<string, unknown> {
  const { hostname, port } = new URL(fakeUrl);
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: 'fake-access-token', expiry_date: Date.now() + 24 * 3600 * 1000 });
  return { apiEndpoint: hostname, port: Number(port), protocol: 'http', fallback: true, authClient };
}
