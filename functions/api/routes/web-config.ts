/**
 * `GET /api/config` (public): the runtime settings the web pages need to sign
 * in with the Firebase JS SDK. Served by the API rather than baked into the
 * bundle, so one build of the pages works locally (Auth emulator) and in
 * production (the project's web API key, which is an identifier, not a secret).
 */
import type { Deps } from '../../../shared/deps.ts';
import { AppError } from '../../../shared/errors.ts';
import type { ApiRoute } from '../route.ts';

/** What the pages read; `authEmulatorHost` (host:port) is present only when the Auth emulator is in use. */
export interface WebClientConfig {
  firebase: { apiKey: string; authDomain: string; projectId: string };
  authEmulatorHost?: string;
  mode: 'development' | 'test' | 'production';
  /**
   * Where to open streams (events, chat replies, /messages): the functions' own
   * URLs, because Hosting buffers the answers of its rewrites. A path such as
   * `/api/v1/tenants/{id}/events` is appended to `api`, `/api/chat` to `chat`.
   */
  streams: { api: string; chat: string };
  /** What data an environment of each plan gets (`default`: plans not named), so the launch page counts `database_ready` and `bucket_ready`. */
  tenantData: Record<string, { database: boolean; bucket: boolean }>;
}

/** Builds the page settings from config; throws 503 naming the variable when production lacks the API key. */
export function readWebClientConfig(config: Deps['config']): WebClientConfig {
  const apiKey = config.web.firebaseApiKey;
  if (!apiKey) {
    throw new AppError(
      'unavailable',
      'Sign-in is not configured: set FIREBASE_API_KEY to the Web API key of the Firebase project (Project settings → General).',
    );
  }
  // The Auth emulator only matters outside production; a stray variable there must not send browsers to it.
  const emulator = config.mode === 'production' ? undefined : config.emulators.auth;
  return {
    firebase: { apiKey, authDomain: config.web.firebaseAuthDomain, projectId: config.authProjectId },
    ...(emulator ? { authEmulatorHost: emulator } : {}),
    mode: config.mode,
    streams: streamUrls(config),
    tenantData: Object.fromEntries(
      Object.entries(config.resources.blueprints).map(([plan, b]) => [
        plan,
        { database: config.resources.driver !== 'none' && !!b.database, bucket: config.resources.driver !== 'none' && !!b.bucket },
      ]),
    ),
  };
}

/** The base URL of each function that streams; a client appends the same path it would send to Hosting. */
export function streamUrls(config: Deps['config']): WebClientConfig['streams'] {
  return { api: config.streams.url.replace('{name}', 'api'), chat: config.streams.url.replace('{name}', 'chat') };
}

/** The route; cached briefly by browsers since it changes only with a deploy. */
export function webConfigRoutes(deps: Deps): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/config',
      action: 'config.read',
      handler: async () => ({ body: readWebClientConfig(deps.config), headers: { 'Cache-Control': 'public, max-age=60' } }),
    },
  ];
}
