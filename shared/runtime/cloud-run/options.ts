/**
 * Options of the Cloud Run driver, apart from its logic: what a caller gives
 * and what is defaulted, readable in one place.
 */
import type { PlatformIdentities } from '../../gcp/identity.ts';

/** Options of {@link createCloudRunDriver}. */
export interface CloudRunDriverOptions {
  /** Google Cloud project id that owns the services and secrets, e.g. `acme-prod`. Required. */
  projectId: string;
  /** Cloud Run region, e.g. `europe-west1`. Required. */
  region: string;
  /**
   * Platform identities granted on each tenant's service account: `tokenMinter`
   * may mint its tokens, `deployer` (the provisioner) may deploy services as it.
   * The tenant account itself is derived from the tenant id and never shared.
   */
  platform?: Omit<PlatformIdentities, 'projectId'>;
  /** Ingress of a running environment (default `INGRESS_TRAFFIC_ALL`); suspend switches to `INGRESS_TRAFFIC_INTERNAL_ONLY`. */
  ingressWhenRunning?: 'INGRESS_TRAFFIC_ALL' | 'INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER';
  /** Let anyone invoke the URL without IAM (`invokerIamDisabled`), as a public tenant app needs. Default true. */
  publicAccess?: boolean;
  /** Image the service shell runs before the first deploy (default Google's placeholder image). */
  placeholderImage?: string;
  /**
   * Options for the Cloud Run ServicesClient: credentials and transport. Tests
   * pass `{ apiEndpoint: '127.0.0.1', port, protocol: 'http', fallback: true, authClient }`
   * to reach a local fake over REST; production leaves it empty (gRPC, ADC).
   */
  clientOptions?: Record<string, unknown>;
  /** Same for the IAM admin API (tenant service accounts); defaults to `clientOptions`. */
  iamClientOptions?: Record<string, unknown>;
  /** Same for the Secret Manager client; defaults to `clientOptions`. */
  secretManagerClientOptions?: Record<string, unknown>;
  /** Same for Cloud Logging (`logs`) and Cloud Monitoring (`metrics`); default `clientOptions`. */
  loggingClientOptions?: Record<string, unknown>;
  monitoringClientOptions?: Record<string, unknown>;
  /** Delay between status polls in `waitReady` (default 2000 ms). */
  pollIntervalMs?: number;
}
