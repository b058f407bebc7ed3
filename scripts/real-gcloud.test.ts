/**
 * The operator scripts with the REAL gcloud (the installed SDK's own code, flag
 * parsing and HTTP) against a local recording API server
 * (scripts/real-gcloud/): setup twice, deploy, manage, cleanup with its
 * confirmation, asserting on the requests gcloud actually sent. Regional hosts
 * (`europe-west1-run.tp.test`) reach the recorder through gcloud's HTTP proxy
 * setting, so no /etc/hosts entry is needed. gcloud runs forked from one warm
 * process (gcloud-forkserver.py), which keeps the suite near a minute.
 * Without the SDK every test skips, saying why.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { findSdk, startRealCloud, type RealCloud } from './real-gcloud/harness.ts';
import type { RecordedCall } from './real-gcloud/recorder.ts';

const sdk = findSdk();
const realTest = 'missing' in sdk ? test.serial.skip : test.serial;
if ('missing' in sdk) console.log(`skipping the real-gcloud suite: ${sdk.missing}`);

const P = 'projects/tp-real';
const L = `${P}/locations/europe-west1`;
const sa = (name: string) => `${name}@tp-real.iam.gserviceaccount.com`;
let cloud: RealCloud;
/** Output of the first setup run: it is searched for the task secret later. */
let firstSetupOutput = '';

test.before(async () => {
  if (!('missing' in sdk)) cloud = await startRealCloud(sdk);
});
test.after.always(async () => {
  await cloud?.close();
});

/** Calls recorded while `action` ran. */
async function during<T>(action: () => Promise<T>): Promise<{ result: T; calls: RecordedCall[] }> {
  const start = cloud.recorder.calls.length;
  const result = await action();
  return { result, calls: cloud.recorder.calls.slice(start) };
}
const changes = (calls: RecordedCall[]) => calls.filter((c) => c.method !== 'GET' && !c.path.endsWith(':getIamPolicy'));
const find = (calls: RecordedCall[], method: string, path: string | RegExp) =>
  calls.filter((c) => c.method === method && (typeof path === 'string' ? c.path.replace(/^\/v\d\//, '') === path : path.test(c.path)));
const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
const show = (r: { code: number; stdout: string; stderr: string }) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

// setup.sh

realTest('a first setup creates every resource with the documented settings, through the real gcloud', async (t) => {
  const { result, calls } = await during(() => cloud.run('setup.sh'));
  t.is(result.code, 0, show(result));
  firstSetupOutput = result.stdout + result.stderr;
  const sent = changes(calls);

  t.is(find(sent, 'POST', `${P}/services:batchEnable`)[0]?.body.serviceIds.length, 15);
  const database = find(sent, 'POST', `${P}/databases`)[0];
  t.is(database.query.get('databaseId'), '(default)');
  t.like(database.body, { locationId: 'europe-west1', type: 'FIRESTORE_NATIVE' });
  t.true(find(sent, 'PATCH', `${P}/databases/(default)/collectionGroups/rateLimits/fields/expiresAt`).length === 1);
  // Every composite index firestore.indexes.json declares is created, once.
  const declared: { collectionGroup: string }[] = JSON.parse(readFileSync('firestore.indexes.json', 'utf8')).indexes;
  t.is(find(sent, 'POST', /\/collectionGroups\/[^/]+\/indexes$/).length, declared.length);
  const index = find(sent, 'POST', `${P}/databases/(default)/collectionGroups/tenants/indexes`);
  t.is(index.length, declared.filter((i) => i.collectionGroup === 'tenants').length);
  t.deepEqual(index[0].body.fields, [
    { fieldPath: 'ownerId', order: 'ASCENDING' },
    { fieldPath: 'createdAt', order: 'DESCENDING' },
  ]);
  t.is(index[0].body.queryScope, 'COLLECTION');

  const queues = find(sent, 'POST', `${L}/queues`).map((c) => c.body);
  t.deepEqual(
    queues.map((q) => [q.name.split('/').pop(), q.retryConfig.maxAttempts, q.retryConfig.minBackoff, q.retryConfig.maxBackoff]),
    [
      ['provision', 20, '1s', '300s'],
      ['mail', 100, '10s', '3600s'],
    ],
  );
  t.deepEqual(
    find(sent, 'POST', `${P}/serviceAccounts`).map((c) => c.body.accountId),
    ['tp-functions', 'tp-provisioner', 'tp-tasks'],
  );
  const secrets = find(sent, 'POST', `${P}/secrets`);
  t.is(secrets.length, 7);
  for (const secret of secrets) t.like(secret.body, { labels: { tenantplane: 'platform' }, replication: { automatic: {} } });

  // The tenant-secrets grant is conditional on the name prefix, with the project number.
  const project = find(sent, 'POST', `${P}:setIamPolicy`).at(-1)!.body.policy;
  const conditional = project.bindings.find((b: any) => b.condition?.title === 'tp-tenant-secrets');
  t.is(conditional.role, 'roles/secretmanager.secretAccessor');
  t.is(conditional.condition.expression, 'resource.name.startsWith("projects/246813579/secrets/tp-tenant-")');
  t.is(project.version, 3);
  const queuePolicy = find(sent, 'POST', `${L}/queues/provision:setIamPolicy`).at(-1)!.body.policy;
  t.deepEqual(queuePolicy.bindings, [
    { role: 'roles/cloudtasks.enqueuer', members: [`serviceAccount:${sa('tp-functions')}`, `serviceAccount:${sa('tp-provisioner')}`] },
  ]);
});

realTest('the scheduler jobs carry the task secret, retry with backoff, and no run of setup prints the secret', async (t) => {
  const secret = decode(cloud.recorder.cloud.versions.get(`${P}/secrets/tp-tasks-secret`)![0].data);
  t.true(secret.length >= 40);
  const jobs = find(cloud.recorder.calls, 'POST', `${L}/jobs`).map((c) => c.body);
  t.true(jobs.length >= 2);
  const fn = 'https://europe-west1-tp-real.cloudfunctions.net/billing-aggregate';
  t.like(
    jobs.find((j) => j.name.endsWith('/tp-billing-aggregate')),
    {
      schedule: '0 2 * * *',
      timeZone: 'Etc/UTC',
      httpTarget: { uri: fn, httpMethod: 'POST', oidcToken: { serviceAccountEmail: sa('tp-tasks'), audience: fn } },
      retryConfig: { retryCount: 3, minBackoffDuration: '600s', maxBackoffDuration: '3600s', maxDoublings: 2 },
    },
  );
  for (const job of jobs) {
    t.is(job.httpTarget.headers['x-tenantplane-task-secret'], secret, job.name);
    t.is(job.retryConfig.retryCount, 3, job.name);
    // The audience is the function's URL, not the host and not the path below it.
    t.regex(job.httpTarget.oidcToken.audience, /^https:\/\/europe-west1-tp-real\.cloudfunctions\.net\/[a-z-]+$/);
  }
  t.false(firstSetupOutput.includes(secret), 'the first setup printed the task secret');
});

realTest('a second setup creates nothing and says each thing already exists', async (t) => {
  const { result, calls } = await during(() => cloud.run('setup.sh'));
  t.is(result.code, 0, show(result));
  t.deepEqual(
    changes(calls).map((c) => `${c.method} ${c.host}${c.path}`),
    [],
  );
  for (const line of [
    'all 15 APIs: already enabled',
    'index tenants(ownerId ASC, createdAt DESC): already exists',
    'queue provision: already exists',
    'secret tp-tasks-secret: already exists',
    'scheduler job tp-billing-aggregate: already exists',
  ]) {
    t.true(result.stdout.includes(line), line);
  }
});

realTest('with CLOUD_SQL_INSTANCE, setup makes the backups bucket and grants tenant data its roles, once', async (t) => {
  const sqlAccount = 'p246813579-ab12cd@gcp-sa-cloud-sql.iam.gserviceaccount.com';
  const withSql = { CLOUD_SQL_INSTANCE: 'tp-real:europe-west1:tenants' };
  const missing = await cloud.run('setup.sh', [], '', withSql);
  t.not(missing.code, 0, 'an instance that does not exist stops setup');
  t.regex(missing.stderr + missing.stdout, /Cloud SQL instance tenants \(CLOUD_SQL_INSTANCE\) does not exist in tp-real: create it first/);

  cloud.recorder.cloud.resources.set(`${P}/instances/tenants`, {
    kind: 'sql#instance',
    name: 'tenants',
    project: 'tp-real',
    region: 'europe-west1',
    databaseVersion: 'POSTGRES_16',
    state: 'RUNNABLE',
    serviceAccountEmailAddress: sqlAccount,
  });
  const { result, calls } = await during(() => cloud.run('setup.sh', [], '', withSql));
  t.is(result.code, 0, show(result));
  const sent = changes(calls);
  const bucket = find(sent, 'POST', /^\/storage\/v1\/b$/);
  t.deepEqual(
    bucket.map((c) => c.body.name),
    ['tp-real-backups', 'tp-real-exports'],
  );
  t.deepEqual(bucket[1].body.lifecycle, { rule: [{ action: { type: 'Delete' }, condition: { age: 7 } }] });
  t.like(bucket[0].body, {
    name: 'tp-real-backups',
    location: 'europe-west1',
    iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' },
  });
  const policy = find(sent, 'PUT', '/storage/v1/b/tp-real-backups/iam').at(-1)!.body;
  const members = (role: string) => policy.bindings.find((b: any) => b.role === role)?.members;
  t.deepEqual(members('roles/storage.objectAdmin'), [`serviceAccount:${sqlAccount}`]);
  t.deepEqual(members('roles/storage.objectViewer'), [`serviceAccount:${sa('tp-functions')}`]);
  const exportsPolicy = find(sent, 'PUT', '/storage/v1/b/tp-real-exports/iam').at(-1)!.body;
  t.deepEqual(exportsPolicy.bindings, [{ role: 'roles/storage.objectViewer', members: [`serviceAccount:${sa('tp-functions')}`] }]);
  const project = find(sent, 'POST', `${P}:setIamPolicy`).at(-1)!.body.policy;
  const sqlAdmin = project.bindings.find((b: any) => b.condition?.title === 'tp-tenant-sql');
  t.is(sqlAdmin.role, 'roles/cloudsql.admin');
  t.deepEqual(sqlAdmin.members, [`serviceAccount:${sa('tp-provisioner')}`]);
  t.is(sqlAdmin.condition.expression, 'resource.name == "projects/tp-real/instances/tenants"');

  const again = await during(() => cloud.run('setup.sh', [], '', withSql));
  t.is(again.result.code, 0, show(again.result));
  t.deepEqual(
    changes(again.calls).map((c) => `${c.method} ${c.host}${c.path}`),
    [],
  );
  t.true(again.result.stdout.includes('bucket tp-real-backups: already exists'));
});

realTest('the recorder answers a second index of the same definition with ALREADY_EXISTS, as Firestore does', async (t) => {
  const again = await cloud.gcloud([
    'firestore',
    'indexes',
    'composite',
    'create',
    '--project=tp-real',
    '--collection-group=tenants',
    '--query-scope=collection',
    '--field-config=field-path=ownerId,order=ascending',
    '--field-config=field-path=createdAt,order=descending',
    '--async',
  ]);
  t.is(again.code, 1);
  t.regex(again.stderr, /ALREADY_EXISTS: index already exists/);
});

// deploy.sh

realTest('deploy uploads each function, creates it gen2 with its account, env and secrets, and sets who may invoke it', async (t) => {
  const { result, calls } = await during(() => cloud.run('deploy.sh', ['--skip-build', '--skip-hosting', '--only', 'api,provision']));
  t.is(result.code, 0, show(result));
  const sent = changes(calls);
  t.is(sent.filter((c) => c.method === 'PUT' && c.host === 'upload.tp.test').length, 2, 'one source upload per function');
  const created = find(sent, 'POST', `${L}/functions`);
  t.deepEqual(
    created.map((c) => c.query.get('functionId')),
    ['api', 'provision'],
  );
  const [api, provision] = created.map((c) => c.body);
  t.like(api, {
    buildConfig: { runtime: 'nodejs20', entryPoint: 'api' },
    labels: { tenantplane: 'platform' },
    // api holds streams: 80 requests at once per instance, on a whole vCPU as concurrency needs.
    serviceConfig: {
      serviceAccountEmail: sa('tp-functions'),
      minInstanceCount: 1,
      maxInstanceCount: 20,
      timeoutSeconds: 600,
      availableMemory: '512Mi',
      maxInstanceRequestConcurrency: 80,
      availableCpu: '1',
      environmentVariables: {
        TP_ENV: 'production',
        GCP_PROJECT_ID: 'tp-real',
        RUNTIME_DRIVER: 'cloud-run',
        TASKS_SERVICE_ACCOUNT: sa('tp-tasks'),
        FUNCTIONS_URL: 'https://europe-west1-tp-real.cloudfunctions.net/{name}',
        STREAM_URL: 'https://europe-west1-tp-real.cloudfunctions.net/{name}',
      },
    },
  });
  t.like(provision, { serviceConfig: { serviceAccountEmail: sa('tp-provisioner'), minInstanceCount: 0 } });
  t.false('maxInstanceRequestConcurrency' in provision.serviceConfig, 'provision keeps one request per instance');
  const mounted = Object.fromEntries(api.serviceConfig.secretEnvironmentVariables.map((s: any) => [s.key, `${s.secret}:${s.version}`]));
  t.like(mounted, {
    TASKS_SECRET: 'tp-tasks-secret:latest',
    SECRETS_KEY: 'tp-secrets-key:latest',
    STRIPE_SECRET_KEY: 'tp-stripe-secret-key:latest',
  });
  t.false('TASKS_SECRET' in api.serviceConfig.environmentVariables);

  // Invokers live on each function's Cloud Run service: everyone for api, only tp-tasks for provision.
  const invokers = (fn: string) =>
    find(sent, 'POST', `${L}/services/${fn}:setIamPolicy`)
      .at(-1)
      ?.body.policy.bindings.filter((b: any) => b.role === 'roles/run.invoker')
      .flatMap((b: any) => b.members);
  t.deepEqual(invokers('api'), ['allUsers']);
  t.deepEqual(invokers('provision'), [`serviceAccount:${sa('tp-tasks')}`]);
  t.true(
    calls.some((c) => c.host === 'hosting.tp.test' && c.path === '/api/health'),
    'the health check went to PUBLIC_URL',
  );
});

realTest('a second deploy updates both functions in place and keeps provision private to tp-tasks without granting again', async (t) => {
  const { result, calls } = await during(() => cloud.run('deploy.sh', ['--skip-build', '--skip-hosting', '--only', 'api,provision']));
  t.is(result.code, 0, show(result));
  const sent = changes(calls);
  t.deepEqual(find(sent, 'POST', `${L}/functions`), []);
  const patched = find(sent, 'PATCH', /\/functions\/(api|provision)$/);
  t.deepEqual(
    patched.map((c) => c.path.split('/').pop()),
    ['api', 'provision'],
  );
  for (const patch of patched) t.truthy(patch.query.get('updateMask'), patch.path);
  // gcloud itself rewrites provision's policy for --no-allow-unauthenticated; the invoker stays, nobody else gets in.
  for (const set of find(sent, 'POST', `${L}/services/provision:setIamPolicy`)) {
    t.deepEqual(set.body.policy.bindings, [{ role: 'roles/run.invoker', members: [`serviceAccount:${sa('tp-tasks')}`] }]);
  }
  t.regex(result.stdout, /roles\/run\.invoker for tp-tasks on provision: already granted/);
});

// manage.sh

realTest('manage status, urls and logs read functions, queues, the job and logs without changing anything', async (t) => {
  const { result, calls } = await during(async () => [
    await cloud.run('manage.sh', ['status']),
    await cloud.run('manage.sh', ['urls']),
    await cloud.run('manage.sh', ['logs', 'api', '--limit', '5']),
  ]);
  const [status, urls, logs] = result;
  for (const r of result) t.is(r.code, 0, show(r));
  t.deepEqual(
    changes(calls).map((c) => `${c.method} ${c.path}`),
    ['POST /v2/entries:list'],
  );
  t.regex(status.stdout, /api\s+ACTIVE\s+https:\/\/api-246813579\.europe-west1\.run\.app/);
  t.regex(status.stdout, /provision\s+RUNNING\s+0/);
  t.regex(status.stdout, /tp-billing-aggregate\s+ENABLED\s+0 2 \* \* \*/);
  t.regex(urls.stdout, /provision\s+https:\/\/provision-246813579\.europe-west1\.run\.app/);
  t.regex(urls.stdout, /mail\s+\(not deployed\)/);
  const list = calls.find((c) => c.path.endsWith('entries:list'))!;
  t.regex(list.body.filter, /resource\.labels\.service_name="api"/);
  t.is(list.body.pageSize, 5);
  t.regex(logs.stdout, /recorded log line/);
});

// cleanup.sh

realTest('cleanup lists everything, deletes nothing unless DELETE ALL is typed, then deletes it all', async (t) => {
  const cancelled = await during(() => cloud.run('cleanup.sh', [], 'delete all\n'));
  t.is(cancelled.result.code, 0, show(cancelled.result));
  t.regex(cancelled.result.stdout, /nothing deleted/);
  t.deepEqual(
    changes(cancelled.calls).map((c) => `${c.method} ${c.path}`),
    [],
  );
  // Cloud Run services are listed on the regional host gcloud derives from the override.
  t.true(
    cancelled.calls.some(
      (c) => c.host === 'europe-west1-run.tp.test' && c.path === '/apis/serving.knative.dev/v1/namespaces/tp-real/services',
    ),
  );

  const { result, calls } = await during(() => cloud.run('cleanup.sh', [], 'DELETE ALL\n'));
  t.is(result.code, 0, show(result));
  const deleted = calls.filter((c) => c.method === 'DELETE').map((c) => c.path.replace(/^\/v\d\//, ''));
  for (const name of [
    `${L}/jobs/tp-billing-aggregate`,
    `${L}/jobs/tp-mail-sweep`,
    `${L}/functions/api`,
    `${L}/functions/provision`,
    `${L}/queues/provision`,
    `${L}/queues/mail`,
    `${P}/secrets/tp-tasks-secret`,
    `${P}/serviceAccounts/${sa('tp-functions')}`,
    `${P}/serviceAccounts/${sa('tp-tasks')}`,
  ]) {
    t.true(
      deleted.some((d) => d === name || d === name.replace(P, 'projects/-')),
      `deleted ${name}`,
    );
  }
  // The accounts' project bindings go first, then nothing of theirs is left in the policy.
  const policy = cloud.recorder.cloud.policies.get(P)!;
  t.false(JSON.stringify(policy.bindings).includes('tp-functions@'));
  const left = [...cloud.recorder.cloud.resources.keys()].filter(
    (k) => !k.includes('/operations/') && /\/(jobs|functions|queues|secrets|serviceAccounts)\//.test(k),
  );
  t.deepEqual(left, []);
  t.regex(result.stdout, /Cleanup complete\./);
});

realTest('a second cleanup finds nothing to delete and asks nothing', async (t) => {
  const { result, calls } = await during(() => cloud.run('cleanup.sh', [], ''));
  t.is(result.code, 0, show(result));
  t.regex(result.stdout, /nothing to delete/);
  t.notRegex(result.stdout, /Type DELETE ALL/);
  t.deepEqual(
    changes(calls).map((c) => `${c.method} ${c.path}`),
    [],
  );
});
