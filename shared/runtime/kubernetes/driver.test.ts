import test from 'ava';
import { testDriverConformance } from '../../../testing/driver-conformance.ts';
import { startKubernetesFake, type KubernetesFake } from '../../../testing/fakes/kubernetes-fake.ts';
import { createKubernetesDriver, type KubernetesDriverOptions } from './index.ts';
import { hostOf, namespaceOf, serviceAccountNameOf } from './resources.ts';
import { DriverError, type EnvironmentRef, type EnvironmentSpec, type RuntimeDriver } from '../types.ts';

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
  return createKubernetesDriver({
    cluster: { server: fake.url, token: fake.token, skipTLSVerify: true },
    baseDomain: BASE_DOMAIN,
    pollIntervalMs: 50,
    ...extra,
  });
}

function podsOf(fake: KubernetesFake, ref: EnvironmentRef) {
  return fake
    .list('pods', namespaceOf(ref))
    .filter((p) => p.metadata.labels['tenantplane-tenant-id'] === ref.tenantId && p.metadata.labels['tenantplane-env'] === ref.env);
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
      countInstances: async (ref) => podsOf(fake, ref).length,
      // The account the running pod was admitted with, as `kubectl get pod -o jsonpath='{.spec.serviceAccountName}'` shows it.
      identityOf: async (ref) => podsOf(fake, ref).map((p) => `${p.metadata.namespace}/${p.spec.serviceAccountName}`)[0] ?? '',
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
    t.deepEqual(
      fake.list('deployments', namespace).map((d) => d.metadata.name),
      ['proj-p43-api'],
    );
    t.deepEqual(
      fake.list('ingresses', namespace).map((d) => d.metadata.name),
      ['proj-p43-api'],
    );
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
      body: JSON.stringify({
        spec: {
          template: {
            spec: { securityContext: null, containers: [{ ...deployment.spec.template.spec.containers[0], securityContext: null }] },
          },
        },
      }),
    });
    t.is(response.status, 200);
    const error = await t.throwsAsync(() => driver.waitReady(project, { timeoutMs: 10_000 }));
    t.regex(error!.message, /PodSecurity "restricted:latest"/);
    t.is((await driver.status(project)).state, 'failed');
  });
});

// Runtime identity and network boundary

test.serial('each tenant of an owner runs as its own ServiceAccount, with no API token mounted', async (t) => {
  await withFake(async (fake, driver) => {
    const a: EnvironmentRef = { ownerId: 'u1', tenantId: 'shop', env: 'demo' };
    const b: EnvironmentRef = { ownerId: 'u1', tenantId: 'blog', env: 'demo' };
    for (const ref of [a, b]) {
      await driver.ensureInfrastructure(makeSpec(ref));
      await driver.deploy(makeSpec(ref));
      await driver.waitReady(ref, { timeoutMs: 10_000 });
    }
    const namespace = namespaceOf(a);
    const accounts = fake.list('serviceaccounts', namespace);
    t.deepEqual(accounts.map((sa) => sa.metadata.name).sort(), ['default', 'tenant-blog', 'tenant-shop']);
    const shop = accounts.find((sa) => sa.metadata.name === 'tenant-shop')!;
    t.is(shop.kind, 'ServiceAccount');
    t.is(shop.automountServiceAccountToken, false);
    t.like(shop.metadata.labels, { 'tenantplane-tenant-id': 'shop' });
    t.is(
      accounts.find((sa) => sa.metadata.name === 'default')!.automountServiceAccountToken,
      false,
      'the namespace default hands out no token either',
    );
    for (const [ref, name] of [
      [a, 'tenant-shop'],
      [b, 'tenant-blog'],
    ] as const) {
      const [pod] = podsOf(fake, ref);
      t.is(pod.spec.serviceAccountName, name);
      t.is(pod.spec.automountServiceAccountToken, false);
      t.false(JSON.stringify(pod.spec).includes('kube-api-access'), 'no token volume in the pod');
    }
  });
});

test.serial('the API token is mounted only when the option asks for it', async (t) => {
  await withFake(
    async (fake, driver) => {
      await driver.deploy(makeSpec(project));
      await driver.waitReady(project, { timeoutMs: 10_000 });
      const [pod] = podsOf(fake, project);
      t.true(pod.spec.volumes.some((v: any) => v.name.startsWith('kube-api-access-')));
      t.true(
        fake.list('serviceaccounts', namespaceOf(project)).find((sa) => sa.metadata.name === serviceAccountNameOf(project))!
          .automountServiceAccountToken,
      );
    },
    { automountServiceAccountToken: true },
  );
});

test.serial('the ServiceAccount stays while the tenant has another environment and goes with its last', async (t) => {
  await withFake(async (fake, driver) => {
    const demo: EnvironmentRef = { ownerId: 'u1', tenantId: 'shop', env: 'demo' };
    const live: EnvironmentRef = { ...demo, env: 'live' };
    const other: EnvironmentRef = { ...demo, tenantId: 'blog' };
    for (const ref of [demo, live, other]) {
      await driver.ensureInfrastructure(makeSpec(ref));
      await driver.deploy(makeSpec(ref));
    }
    // Repeating the steps keeps one account and does not fail on the existing one.
    await driver.ensureInfrastructure(makeSpec(demo));
    const names = () =>
      fake
        .list('serviceaccounts', namespaceOf(demo))
        .map((sa) => sa.metadata.name)
        .sort();
    t.deepEqual(names(), ['default', 'tenant-blog', 'tenant-shop']);
    await driver.destroy(demo);
    t.deepEqual(names(), ['default', 'tenant-blog', 'tenant-shop']);
    await driver.destroy(live);
    t.deepEqual(names(), ['default', 'tenant-blog']);
    await driver.destroy(live);
    t.deepEqual(names(), ['default', 'tenant-blog']);
  });
});

test.serial('a redeploy recreates a missing ServiceAccount, since pods naming a missing one are refused', async (t) => {
  await withFake(async (fake, driver) => {
    await driver.ensureInfrastructure(makeSpec(project));
    const namespace = namespaceOf(project);
    const response = await fetch(`${fake.url}/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccountNameOf(project)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${fake.token}` },
    });
    t.is(response.status, 200);
    await driver.deploy(makeSpec(project));
    t.true((await driver.waitReady(project, { timeoutMs: 10_000 })).ready);
  });
});

test.serial(
  'every environment gets a NetworkPolicy by default: ingress from the ingress controller only, egress never to cluster ranges',
  async (t) => {
    await withFake(
      async (fake, driver) => {
        await driver.ensureInfrastructure(makeSpec(project));
        const [policy] = fake.list('networkpolicies', namespaceOf(project));
        t.is(policy.kind, 'NetworkPolicy');
        t.deepEqual(policy.spec.podSelector.matchLabels, { 'tenantplane-tenant-id': 'p42', 'tenantplane-env': 'api' });
        t.deepEqual(policy.spec.policyTypes, ['Ingress', 'Egress']);
        const namespaces = policy.spec.ingress
          .flatMap((r: any) => r.from)
          .filter((p: any) => p.namespaceSelector)
          .map((p: any) => p.namespaceSelector.matchLabels['kubernetes.io/metadata.name']);
        t.deepEqual(namespaces, ['traefik']);
        const blocks = policy.spec.egress.flatMap((r: any) => r.to ?? []).filter((p: any) => p.ipBlock);
        t.true(blocks.every((p: any) => p.ipBlock.except.length > 0));
        t.true(blocks.find((p: any) => p.ipBlock.cidr === '0.0.0.0/0').ipBlock.except.includes('10.0.0.0/8'));
        t.false(
          policy.spec.egress.some((r: any) => (r.to ?? []).some((p: any) => p.namespaceSelector)),
          'no egress rule opens other namespaces',
        );
        await driver.destroy(project);
        t.is(fake.list('networkpolicies', namespaceOf(project)).length, 0);
      },
      { ingressNamespace: 'traefik' },
    );
  },
);

test.serial('networkPolicy: false creates none', async (t) => {
  await withFake(
    async (fake, driver) => {
      await driver.ensureInfrastructure(makeSpec(project));
      t.is(fake.list('networkpolicies', namespaceOf(project)).length, 0);
    },
    { networkPolicy: false },
  );
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
