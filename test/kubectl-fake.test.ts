/**
 * The real kubectl against the Kubernetes fake, for what the Kubernetes driver
 * does: discovery and short names, apply (client-side, `--validate=false`), get
 * in one and across all namespaces, logs, scale, delete (which waits on a watch), no
 * token over plain http, and protobuf bodies refused with 415. kubectl comes
 * with the gcloud SDK; without it these tests are skipped, saying so.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKubernetesFake, type KubernetesFake } from '../testing/fakes/kubernetes-fake.ts';
import { findOnPath } from '../scripts/dev/find-on-path.ts';

const kubectlPath = findOnPath('kubectl');
const withKubectl = kubectlPath ? test : test.skip;
if (!kubectlPath)
  console.log(
    'skipping the kubectl tests: kubectl is not on PATH (it comes with the gcloud SDK: apt-get install kubectl, or gcloud components install kubectl)',
  );

const cacheDir = mkdtempSync(join(tmpdir(), 'kubectl-fake-'));
test.after.always(() => rmSync(cacheDir, { recursive: true, force: true }));

/** Runs kubectl against the fake with no kubeconfig; resolves with exit code and output. */
function kubectl(fake: KubernetesFake, args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath!,
      [`--cache-dir=${cacheDir}`, `--server=${fake.url}`, ...args],
      { env: { ...process.env, KUBECONFIG: '/nonexistent' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as NodeJS.ErrnoException & { code?: unknown }).code) || 1 : 0, stdout, stderr });
      },
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

const APP = (image: string) => `
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: ${image}
        ports: [{containerPort: 8080}]
        env: [{name: MODE, value: demo}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`;

async function withFake(run: (fake: KubernetesFake) => Promise<void>, delayMs = 20): Promise<void> {
  const fake = await startKubernetesFake({ delayMs });
  try {
    await run(fake);
  } finally {
    await fake.close();
  }
}

async function until<T>(probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Discovery

withKubectl('kubectl discovers every kind the driver uses, with the real short names', async (t) => {
  await withFake(async (fake) => {
    const { code, stdout, stderr } = await kubectl(fake, ['api-resources', '--no-headers']);
    t.is(code, 0, stderr);
    const rows = new Map(
      stdout
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .map((cols) => [cols[0], cols]),
    );
    for (const [name, short] of Object.entries({
      namespaces: 'ns',
      deployments: 'deploy',
      services: 'svc',
      ingresses: 'ing',
      serviceaccounts: 'sa',
      networkpolicies: 'netpol',
      resourcequotas: 'quota',
      persistentvolumeclaims: 'pvc',
      pods: 'po',
    })) {
      t.is(rows.get(name)?.[1], short, `${name} has short name ${short}`);
    }
    t.truthy(rows.get('secrets'), 'secrets are listed');
    t.true(fake.requests.some((r) => r.path === '/api') && fake.requests.some((r) => r.path === '/apis'));
  });
});

// Apply, get, logs

withKubectl('kubectl apply creates, then updates by strategic merge, and get shows the deployment ready', async (t) => {
  await withFake(async (fake) => {
    const first = await kubectl(fake, ['apply', '--validate=false', '-f', '-'], APP('registry.example/web:1'));
    t.is(first.code, 0, first.stderr);
    t.regex(first.stdout, /namespace\/demo created[\s\S]*deployment.apps\/web created[\s\S]*service\/web created/);
    const second = await kubectl(fake, ['apply', '--validate=false', '-f', '-'], APP('registry.example/web:2'));
    t.is(second.code, 0, second.stderr);
    t.regex(second.stdout, /deployment.apps\/web configured/);
    t.regex(second.stdout, /service\/web unchanged/);
    const json = await kubectl(fake, ['get', 'deploy', 'web', '-n', 'demo', '-o', 'json']);
    const container = JSON.parse(json.stdout).spec.template.spec.containers[0];
    t.is(container.image, 'registry.example/web:2');
    t.deepEqual(container.env, [{ name: 'MODE', value: 'demo' }], 'the merge keeps what the patch did not change');
    t.deepEqual(container.ports, [{ containerPort: 8080 }]);
    const table = await until(async () => {
      const r = await kubectl(fake, ['get', 'deploy,svc', '-n', 'demo']);
      return /web\s+1\/1\s+1\s+1/.test(r.stdout) ? r.stdout : undefined;
    });
    t.regex(table, /service\/web\s+ClusterIP\s+10\.96\.\S+\s+<none>\s+80\/TCP/);
  });
});

withKubectl('kubectl get -A lists pods of every namespace, and logs reads a deployment pod', async (t) => {
  await withFake(async (fake) => {
    t.is((await kubectl(fake, ['apply', '--validate=false', '-f', '-'], APP('registry.example/web:1'))).code, 0);
    t.is(
      (await kubectl(fake, ['apply', '--validate=false', '-f', '-'], APP('registry.example/web:1').replaceAll('demo', 'other'))).code,
      0,
    );
    const pods = await until(async () => {
      const r = await kubectl(fake, ['get', 'pods', '-A']);
      return (r.stdout.match(/Running/g) ?? []).length === 2 ? r.stdout : undefined;
    });
    t.regex(pods, /^NAMESPACE\s+NAME\s+READY\s+STATUS/);
    t.regex(pods, /\ndemo\s+web-\S+\s+1\/1\s+Running/);
    t.regex(pods, /\nother\s+web-\S+\s+1\/1\s+Running/);
    const accounts = await kubectl(fake, ['get', 'sa', '--all-namespaces', '-o', 'name']);
    t.is(accounts.stdout.trim().split('\n').length, 2, 'each namespace has its default ServiceAccount');
    const logs = await kubectl(fake, ['logs', '-n', 'demo', 'deploy/web']);
    t.is(logs.code, 0, logs.stderr);
    t.regex(logs.stdout, /container app started \(image registry\.example\/web:1\)/);
    const selected = await kubectl(fake, [
      'get',
      'pods',
      '-A',
      '-l',
      'app in (web, api)',
      '--field-selector',
      'status.phase=Running',
      '-o',
      'name',
    ]);
    t.is(selected.stdout.trim().split('\n').length, 2, selected.stderr);
  });
});

withKubectl('kubectl scale goes through the scale subresource, and rollout status sees the pods follow', async (t) => {
  await withFake(async (fake) => {
    t.is((await kubectl(fake, ['apply', '--validate=false', '-f', '-'], APP('registry.example/web:1'))).code, 0);
    const scaled = await kubectl(fake, ['scale', 'deploy/web', '-n', 'demo', '--replicas=3']);
    t.is(scaled.code, 0, scaled.stderr);
    t.regex(scaled.stdout, /deployment.apps\/web scaled/);
    const rollout = await kubectl(fake, ['rollout', 'status', 'deploy/web', '-n', 'demo', '--timeout=10s']);
    t.is(rollout.code, 0, rollout.stderr);
    t.is(fake.list('pods', 'demo').length, 3);
    t.true(fake.requests.some((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/web/scale')));
  });
});

// Delete

withKubectl('kubectl delete removes a deployment with its pods and waits for a namespace to finish terminating', async (t) => {
  await withFake(async (fake) => {
    t.is((await kubectl(fake, ['apply', '--validate=false', '-f', '-'], APP('registry.example/web:1'))).code, 0);
    await until(async () => (fake.list('pods', 'demo').length ? true : undefined));
    const deployment = await kubectl(fake, ['delete', 'deploy', 'web', '-n', 'demo']);
    t.is(deployment.code, 0, deployment.stderr);
    t.deepEqual(fake.list('pods', 'demo'), []);
    const started = Date.now();
    const namespace = await kubectl(fake, ['delete', 'ns', 'demo']);
    t.is(namespace.code, 0, namespace.stderr);
    t.regex(namespace.stdout, /namespace "demo" deleted/);
    t.true(Date.now() - started < 6000, 'the watch reports the deletion as it happens, not at a timeout');
    t.is(fake.list('namespaces').length, 0, 'kubectl returned only once the namespace was gone');
    t.true(fake.requests.some((r) => r.query.get('watch') === 'true'));
    // Termination takes long enough that kubectl, however slow to start on a busy machine, finds it under way and watches.
  }, 1500);
});

// Tokens and media types

withKubectl('no token over plain http is served, while a wrong token is refused', async (t) => {
  await withFake(async (fake) => {
    const r = await kubectl(fake, ['get', 'ns']);
    t.is(r.code, 0, r.stderr);
    t.true(
      fake.requests.every((req) => req.headers.authorization === undefined),
      'kubectl sent no token over http',
    );
    t.is((await fetch(`${fake.url}/api/v1/namespaces`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    t.is((await fetch(`${fake.url}/api/v1/namespaces`, { headers: { authorization: `Bearer ${fake.token}` } })).status, 200);
  });
});

withKubectl('a protobuf body is refused with 415 naming the accepted types, not a validation error', async (t) => {
  await withFake(async (fake) => {
    // `kubectl create namespace` encodes its body as protobuf.
    const r = await kubectl(fake, ['create', 'namespace', 'demo']);
    t.not(r.code, 0);
    t.regex(r.stderr, /UnsupportedMediaType.*application\/json/);
    const raw = await fetch(`${fake.url}/api/v1/namespaces`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kubernetes.protobuf' },
      body: Buffer.from('k8s\u0000\n\u0002v1'),
    });
    t.is(raw.status, 415);
    t.is((await raw.json()).reason, 'UnsupportedMediaType');
    const json = await fetch(`${fake.url}/api/v1/namespaces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } }),
    });
    t.is(json.status, 201);
    const onlyProtobuf = await fetch(`${fake.url}/api/v1/namespaces`, { headers: { accept: 'application/vnd.kubernetes.protobuf' } });
    t.is(onlyProtobuf.status, 406);
  });
});

withKubectl('a field the kind cannot be selected by is refused as the API server does', async (t) => {
  await withFake(async (fake) => {
    const r = await kubectl(fake, ['get', 'svc', '-A', '--field-selector', 'spec.type=ClusterIP']);
    t.not(r.code, 0);
    t.regex(r.stderr, /field label not supported: spec\.type/);
  });
});
