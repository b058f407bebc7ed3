/**
 * The streams part of the config: where clients open streams (the functions'
 * own URLs, since Hosting buffers its rewrites), heartbeats, deadline and the
 * per-user cap.
 */
import { ConfigError, int, url, type Env } from './readers.ts';

/**
 * Streams (event streams, chat replies, the /messages proxy). Firebase Hosting
 * buffers what its rewrites answer, so clients open streams on the function's
 * own URL instead (`url`, `{name}` = api or chat) with the ID token in Authorization.
 */
export interface StreamsConfig {
  /** STREAM_URL: a function's own URL, `{name}` replaced; default FUNCTIONS_URL (in production the cloudfunctions.net address). */
  url: string;
  /** STREAM_HEARTBEAT_MS: a comment line this often keeps proxies and clients from calling a quiet stream dead. */
  heartbeatMs: number;
  /** STREAM_DEADLINE_MS: a stream ends after this long; event streams are resumed by the client with Last-Event-ID. Keep it below the functions' timeout. */
  deadlineMs: number;
  /** STREAMS_PER_USER: open streams one user may hold on one function instance (not across instances). */
  perUser: number;
}

export function parseStreamsConfig(env: Env, functionsUrl: string): StreamsConfig {
  const streamUrl = url(env, 'STREAM_URL', functionsUrl);
  if (!streamUrl.includes('{name}')) {
    throw new ConfigError('STREAM_URL', 'must contain {name} (example: https://europe-west1-my-project.cloudfunctions.net/{name}).');
  }
  return {
    url: streamUrl,
    heartbeatMs: int(env, 'STREAM_HEARTBEAT_MS', 15_000, 10, 600_000),
    // Under the api and chat functions' 600 s timeout (scripts/deploy.sh), so a stream ends cleanly before Cloud Run cuts it.
    deadlineMs: int(env, 'STREAM_DEADLINE_MS', 300_000, 200, 3_600_000),
    perUser: int(env, 'STREAMS_PER_USER', 10, 1, 10_000),
  };
}
