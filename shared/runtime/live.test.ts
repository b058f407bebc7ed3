/**
 * The conformance suite against the real clouds (R-RUNTIME-TEST), run with
 * `npm run test:live`. Each driver runs only when its credentials are set and
 * otherwise shows up as one skipped test saying which variables to set:
 * - Cloud Run: GOOGLE_APPLICATION_CREDENTIALS, TP_LIVE_GCP_PROJECT (TP_LIVE_GCP_REGION, default europe-west1)
 * - Kubernetes: KUBECONFIG, TP_LIVE_K8S=1, TP_LIVE_K8S_BASE_DOMAIN (TP_LIVE_K8S_INGRESS_CLASS)
 * - Fly: FLY_API_TOKEN, TP_LIVE_FLY_ORG (TP_LIVE_FLY_REGION, default ams)
 * TP_LIVE_IMAGE overrides the image (it needs a `:next` tag too for the redeploy case).
 * Every environment the suite creates is destroyed in cleanup, even after a failure.
 */
import test from 'ava';
import { testDriverConformance, type ConformanceSetup } from '../../testing/driver-conformance.ts';
import { createCloudRunDriver } from './cloud-run/driver.ts';
import { createFlyDriver } from './fly/driver.ts';
import { createKubernetesDriver } from './kubernetes/driver.ts';
import type { EnvironmentRef, EnvironmentSpec, RuntimeDriver } from './types.ts';

const env = process.env;

/** Wraps a driver so cleanup can destroy every environment the suite touched. */
function tracking(driver: RuntimeDriver): { driver: RuntimeDriver; destroyAll(): Promise<void> } {
  const refs = new Map<string, EnvironmentRef>();
  const remember = (ref: EnvironmentRef) =>
    refs.set(`${ref.ownerId}/${ref.tenantId}/${ref.env}`, { ownerId: ref.ownerId, tenantId: ref.tenantId, env: ref.env });
  const wrapped: RuntimeDriver = Object.create(driver);
  wrapped.ensureInfrastructure = (spec) => (remember(spec), driver.ensureInfrastructure(spec));
  wrapped.deploy = (spec) => (remember(spec), driver.deploy(spec));
  return {
    driver: wrapped,
    async destroyAll() {
      for (const ref of refs.values()) await driver.destroy(ref).catch((error) => console.error(`live cleanup: ${error.message}`));
      await driver.close?.();
    },
  };
}

async function isReachable(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    return response.status < 400;
  } catch {
    return false;
  }
}

function liveSetup(name: string, image: string, create: () => RuntimeDriver): ConformanceSetup {
  return {
    name: `${name} live`,
    async create() {
      const { driver, destroyAll } = tracking(create());
      const makeSpec = (ref: EnvironmentRef, overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec => ({
        ...ref,
        image: env.TP_LIVE_IMAGE ?? image,
        memoryMb: 512,
        vars: { TP_LIVE: '1' },
        secrets: { TP_LIVE_SECRET: 'live-conformance' },
        labels: { 'tenantplane-tenant-id': ref.tenantId, 'tenantplane-env': ref.env, purpose: 'conformance' },
        ...overrides,
      });
      return { driver, makeSpec, reachable: isReachable, cleanup: destroyAll };
    },
  };
}

function skip(name: string, variables: string): void {
  console.log(`live ${name}: skipped; set ${variables} to run it`);
  test.skip(`[${name} live] needs ${variables}`, () => {});
}

// Cloud Run

if (env.GOOGLE_APPLICATION_CREDENTIALS && env.TP_LIVE_GCP_PROJECT) {
  testDriverConformance(
    test,
    liveSetup('cloud-run', 'us-docker.pkg.dev/cloudrun/container/hello', () =>
      createCloudRunDriver({ projectId: env.TP_LIVE_GCP_PROJECT!, region: env.TP_LIVE_GCP_REGION ?? 'europe-west1' }),
    ),
  );
} else {
  skip('cloud-run', 'GOOGLE_APPLICATION_CREDENTIALS and TP_LIVE_GCP_PROJECT');
}

// Kubernetes

if (env.KUBECONFIG && env.TP_LIVE_K8S === '1' && env.TP_LIVE_K8S_BASE_DOMAIN) {
  testDriverConformance(
    test,
    liveSetup('kubernetes', 'nginxinc/nginx-unprivileged:stable', () =>
      createKubernetesDriver({
        kubeconfigPath: env.KUBECONFIG!.split(':')[0],
        baseDomain: env.TP_LIVE_K8S_BASE_DOMAIN!,
        ingressClassName: env.TP_LIVE_K8S_INGRESS_CLASS,
      }),
    ),
  );
} else {
  skip('kubernetes', 'KUBECONFIG, TP_LIVE_K8S=1 and TP_LIVE_K8S_BASE_DOMAIN');
}

// Fly

if (env.FLY_API_TOKEN && env.TP_LIVE_FLY_ORG) {
  testDriverConformance(
    test,
    liveSetup('fly', 'flyio/hellofly:latest', () =>
      createFlyDriver({
        apiToken: env.FLY_API_TOKEN!,
        orgSlug: env.TP_LIVE_FLY_ORG!,
        region: env.TP_LIVE_FLY_REGION ?? 'ams',
        appPrefix: 'tp-live',
      }),
    ),
  );
} else {
  skip('fly', 'FLY_API_TOKEN and TP_LIVE_FLY_ORG');
}
