/**
 * Options of the Fly driver, apart from its logic: what a caller gives and
 * what is defaulted, readable in one place.
 */

/** Options of {@link createFlyDriver}. */
export interface FlyDriverOptions {
  /** Fly API token (`fly tokens create org`). Required. */
  apiToken: string;
  /** Organization that owns the apps, e.g. `personal`. Required. */
  orgSlug: string;
  /** Region of volumes and machines, e.g. `ams`. Required. */
  region: string;
  /** Prefix of app names, which are global on Fly (default `tp`). */
  appPrefix?: string;
  /** Machines API base URL (default `https://api.machines.dev`). */
  baseUrl?: string;
  /** GraphQL API URL for IPs, certificates and secrets (default `https://api.fly.io/graphql`). */
  graphqlUrl?: string;
  /** Injected `fetch` (default the global one). */
  fetch?: typeof fetch;
  /** When set, each app gets a certificate for `<app>.<customDomain>` and that is its URL; otherwise `https://<app>.fly.dev`. */
  customDomain?: string;
  /** Port the workload listens on (default 8080; also passed as `PORT`). */
  internalPort?: number;
  /** Size of the `/data` volume in GB (default 1). */
  volumeSizeGb?: number;
  /** Seconds the Machines API `wait` endpoint may block per call (default 60). */
  waitTimeoutSeconds?: number;
}
