/** The settings the pages read from `GET /api/config`, fetched once per page. */
import { errorFromResponse, networkError } from './errors.ts';

export interface WebClientConfig {
  firebase: { apiKey: string; authDomain: string; projectId: string };
  authEmulatorHost?: string;
  /**
   * The functions' own URLs, where streams are opened: Hosting (this page's
   * origin) delivers what its rewrites answer only once it is complete.
   */
  streams?: { api: string; chat: string };
  /** What data an environment of each plan gets (`default`: plans not named); absent on a platform without tenant data. */
  tenantData?: Record<string, { database: boolean; bucket: boolean }>;
}

/** The per-environment events that a launch of `plan` announces for its data: `database_ready`, `bucket_ready`, either or none. */
export function dataMilestones(config: WebClientConfig, plan: string): string[] {
  const data = config.tenantData?.[plan] ?? config.tenantData?.default;
  return [...(data?.database ? ['database_ready'] : []), ...(data?.bucket ? ['bucket_ready'] : [])];
}

let configPromise: Promise<WebClientConfig> | undefined;

async function loadConfig(): Promise<WebClientConfig> {
  let res: Response;
  try {
    res = await fetch('/api/config', { headers: { Accept: 'application/json' } });
  } catch {
    throw networkError();
  }
  if (!res.ok) throw await errorFromResponse(res);
  return (await res.json()) as WebClientConfig;
}

export function getWebConfig(): Promise<WebClientConfig> {
  configPromise ??= loadConfig().catch((err) => {
    configPromise = undefined;
    throw err;
  });
  return configPromise;
}

/** The base URL a stream of `fn` is opened on; the same path as through Hosting is appended to it. */
export async function streamBase(fn: 'api' | 'chat'): Promise<string> {
  // A platform from before STREAM_URL: its own origin, as it always was.
  return (await getWebConfig()).streams?.[fn] ?? '';
}
