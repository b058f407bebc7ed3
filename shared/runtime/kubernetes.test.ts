import test from 'ava';
import { testDriverConformance } from '../testing/driver-conformance.ts';
import { startKubernetesFake, type KubernetesFake } from '../testing/fakes/kubernetes-fake.ts';
import { createKubernetesDriver, type KubernetesDriverOptions } from './kubernetes.ts';
import { hostOf, namespaceOf } from './kubernetes-resources.ts';
import { DriverError, type EnvironmentRef, type EnvironmentSpec, type RuntimeDriver } from './types.ts';

const BASE_DOMAIN = 'apps.example.test';

function makeSpec(ref: EnvironmentRef, overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return {
    ...ref,
    image: `registry.example.test/agents/app:tenant-${ref.tenantId}`,
    memoryMb: 256,
    vars: { MODE: 'agent' },
    secrets: { GEMINI_API_KEY: 'key-value' },
    labels: { 'tenantplane-tenant-id': ref.tenantId, 'tenantplane-env': ref.env, plan: 'Pro plan' },
    ...overrides,
  };
}

function createDriver(fake: KubernetesFake, extra: Partial<KubernetesDriverOptions> = {}): RuntimeDriver {
  return createKubernetesDriver({ cluster: { server: fake.url, token: fake.token, skipTLSVerify: true }, baseDomain: BASE_DOMAIN, networkPolicy: true, pollIntervalMs: 50, ...extra });
}

// Conformance

testDriverConformance(test, {
  name: 'kubernetes',
  flags: { logs: true, metrics: false, restart: true, volumes: false },
  async create() {
    const fake = await startKubernetesFake();
    const driver = createDriver(fake);
    return {
      driver,
      makeSpec,
      reachable: async (url) => fake.isServing(url),
      countInstances: async (ref) =>
        fake.list('pods', namespaceOf(ref)).filter((p) => p.metadata.labels['tenantplane-tenant-id'] === ref.tenantId && p.metadata.labels['tenantplane-env'] === ref.env).length,
      async cleanup() {
        await driver.close?.();
        await fake.close();
      },
    };
  },
});

// Driver specifics

async function withFake(run: (fake: KubernetesFake, driver: RuntimeDriver) => Promise<void>, extra?: Partial<KubernetesDriverOptions>) {
  const fake = await startKubernetesFake();
  const driver = createDriver(fake, extra);
  try {
    await run(fake, driver);
  } finally {
    await driver.close?.();
    await fake.close();
  }
}

const project: EnvironmentRef = { ownerId: 'uidAbC123', tenantId: 'p42', env: 'api' };

test.serial('a user project gets its namespace with restricted Pod Security, a quota, and proj-<id>-api objects', async (t) => {
  await withFake(async (fake, driver) => {
    const { url } = await driver.ensureInfrastructure(makeSpec(project));
    await driver.deploy(makeSpec(project));
    const status = await driver.waitReady(project, { timeoutMs: 10_000 });
    const namespace = namespaceOf(project);
    t.regex(namespace, /^user-uidabc123-[0-9a-f]{6}$/, 'mixed-case uids get a lowercase name with a hash');
    t.is(url, `http://proj-p42.${namespace}.${BASE_DOMAIN}`);
    t.is(status.url, url);
    const ns = fake.list('namespaces').find((n) => n.metadata.name === namespace)!;
    t.like(ns.metadata.labels, { 'pod-security.kubernetes.io/enforce': 'restricted' });
    t.truthy(fake.list('resourcequotas', namespace)[0]?.spec.hard['limits.memory']);
    for (const kind of ['deployments', 'services', 'ingresses', 'networkpolicies', 'secrets']) {
      const [object] = fake.list(kind, namespace);
      t.regex(object.metadata.name, /^proj-p42-api(-env)?$/, kind);
      t.like(object.metadata.labels, { 'tenantplane-tenant-id': 'p42', 'tenantplane-env': 'api', plan: 'Pro_plan' }, kind);
    }
    const [service] = fake.list('services', namespace);
    t.is(service.spec.type, 'ClusterIP');
    const [deployment] = fake.list('deployments', namespace);
    t.is(deployment.spec.template.spec.containers[0].resources.limits.memory, '256Mi');
    t.false(JSON.stringify(deployment).includes('key-value'), 'secret values stay in the Secret');
    t.is(Buffer.from(fake.list('secrets', namespace)[0].data.GEMINI_API_KEY, 'base64').toString(), 'key-value');
  });
});

test.serial('suspend and resume set the deployment replicas to 0 and 1', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.deploy(makeSpec(project));
    await driver.waitReady(project, { timeoutMs: 10_000 });
    await driver.suspend(project);
    t.is(fake.list('deployments', namespaceOf(project))[0].spec.replicas, 0);
    t.is(fake.list('pods', namespaceOf(project)).length, 0);
    await driver.resume(project);
    t.is(fake.list('deployments', namespaceOf(project))[0].spec.replicas, 1);
    const patch = fake.requests.filter((r) => r.method === 'PATCH').at(-1)!;
    t.is(patch.headers['content-type'], 'application/merge-patch+json');
    t.deepEqual(patch.body, { spec: { replicas: 1 } });
  });
});

test.serial('the namespace stays while the owner has another project and goes with the last one', async (t) => {
  await withFake(async (fake, driver) => {
    const other: EnvironmentRef = { ...project, tenantId: 'p43' };
    for (const ref of [project, other]) {
      await driver.ensureInfrastructure(makeSpec(ref));
      await driver.deploy(makeSpec(ref));
    }
    await driver.destroy(project);
    const namespace = namespaceOf(project);
    t.true(fake.list('namespaces').some((n) => n.metadata.name === namespace));
    t.deepEqual(fake.list('deployments', namespace).map((d) => d.metadata.name), ['proj-p43-api']);
    t.deepEqual(fake.list('ingresses', namespace).map((d) => d.metadata.name), ['proj-p43-api']);
    await driver.destroy(other);
    t.not(fake.list('namespaces').find((n) => n.metadata.name === namespace)?.status.phase ?? 'gone', 'Active');
    // Relaunching while the namespace terminates waits for it, then recreates it.
    await driver.ensureInfrastructure(makeSpec(project));
    await driver.deploy(makeSpec(project));
    t.true((await driver.waitReady(project, { timeoutMs: 10_000 })).ready);
  });
});

test.serial('a pod template the restricted profile refuses surfaces as a failed status with the reason', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.ensureInfrastructure(makeSpec(project));
    // Tamper with the manifest the way a careless edit would: drop the container securityContext.
    await driver.deploy(makeSpec(project));
    const namespace = namespaceOf(project);
    const deployment = fake.list('deployments', namespace)[0];
    const response = await fetch(`${fake.url}/apis/apps/v1/namespaces/${namespace}/deployments/${deployment.metadata.name}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { template: { spec: { securityContext: null, containers: [{ ...deployment.spec.template.spec.containers[0], securityContext: null }] } } } }),
    });
    t.is(response.status, 200);
    const error = await t.throwsAsync(() => driver.waitReady(project, { timeoutMs: 10_000 }));
    t.regex(error!.message, /PodSecurity "restricted:latest"/);
    t.is((await driver.status(project)).state, 'failed');
  });
});

test.serial('environments other than api carry their env in the host', (t) => {
  t.is(hostOf({ ownerId: 'u1', tenantId: 't1', env: 'demo' }, BASE_DOMAIN), `proj-t1-demo.user-u1.${BASE_DOMAIN}`);
  t.is(hostOf({ ownerId: 'u1', tenantId: 't1', env: 'api' }, BASE_DOMAIN), `proj-t1.user-u1.${BASE_DOMAIN}`);
});

// Configuration

test('missing baseDomain or cluster access is named in a not_configured error', (t) => {
  const noDomain = t.throws(() => createKubernetesDriver({ kubeconfigPath: '/tmp/kubeconfig' } as never), { instanceOf: DriverError });
  t.regex(noDomain!.message, /"baseDomain"/);
  const noCluster = t.throws(() => createKubernetesDriver({ baseDomain: BASE_DOMAIN }), { instanceOf: DriverError });
  t.regex(noCluster!.message, /"kubeconfigPath" or "cluster"/);
  t.is((noCluster as DriverError).code, 'not_configured');
});
