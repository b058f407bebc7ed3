import test from 'ava';
import { startCloudRunFake, type CloudRunFake, type CloudRunFakeOptions } from '../../../testing/fakes/cloud-run-fake.ts';
import { fakeGoogleClientOptions } from '../../../testing/fakes/google-auth.ts';
import { createCloudRunDriver } from './index.ts';
import { limitsOf } from './observe.ts';
import { DriverError, type EnvironmentRef, type EnvironmentSpec, type RuntimeDriver } from '../types.ts';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const PROJECT = 'tp-test';
const REGION = 'europe-west1';
const ref: EnvironmentRef = { ownerId: 'owner-1', tenantId: 'acme', env: 'live' };
const SERVICE = `projects/${PROJECT}/locations/${REGION}/services/tp-acme-live`;

function makeSpec(overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return {
    ...ref,
    image: `europe-docker.pkg.dev/${PROJECT}/tenants/app:v1`,
    memoryMb: 1024,
    vars: {},
    secrets: {},
    labels: {},
    ...overrides,
  };
}

/** A fake with the acme/live service deployed and ready, and a driver pointed at it. */
async function withService(
  run: (fake: CloudRunFake, driver: RuntimeDriver) => Promise<void>,
  options: CloudRunFakeOptions = {},
  projectId = PROJECT,
) {
  const fake = await startCloudRunFake(options);
  const driver = createCloudRunDriver({
    projectId: PROJECT,
    region: REGION,
    clientOptions: fakeGoogleClientOptions(fake.url),
    pollIntervalMs: 50,
  });
  try {
    await driver.deploy(makeSpec());
    await driver.waitReady(ref, { timeoutMs: 30_000 });
    if (projectId !== PROJECT) {
      const other = createCloudRunDriver({ projectId, region: REGION, clientOptions: fakeGoogleClientOptions(fake.url) });
      try {
        await run(fake, other);
      } finally {
        await other.close?.();
      }
    } else {
      await run(fake, driver);
    }
  } finally {
    await driver.close?.();
    await fake.close();
  }
}

const entriesCalls = (fake: CloudRunFake) => fake.requests.filter((r) => r.path === '/v2/entries:list');
const seriesCalls = (fake: CloudRunFake) => fake.requests.filter((r) => r.path === `/v3/projects/${PROJECT}/timeSeries`);

// Logs

test.serial('logs ask Cloud Logging for the service’s entries of the project, newest first, with the since bound', async (t) => {
  await withService(async (fake, driver) => {
    await driver.logs!(ref, { since: '2026-01-02T03:04:05.000Z', limit: 7 });
    const [call] = entriesCalls(fake);
    t.deepEqual(call.body, {
      resourceNames: [`projects/${PROJECT}`],
      filter: `resource.type="cloud_run_revision" AND resource.labels.service_name="tp-acme-live" AND resource.labels.location="${REGION}" AND timestamp>="2026-01-02T03:04:05.000Z"`,
      orderBy: 'timestamp desc',
      pageSize: 7,
    });
  });
});

test.serial('container output keeps its stream, a JSON message is its text, and a request log line is a system line', async (t) => {
  await withService(async (fake, driver) => {
    fake.writeLog(SERVICE, { stream: 'stdout', text: 'listening on 8080', timestamp: '2026-01-01T00:00:01.000Z' });
    fake.writeLog(SERVICE, { stream: 'stderr', json: { message: 'db timeout', code: 7 }, timestamp: '2026-01-01T00:00:02.000Z' });
    t.true(fake.request(`https://tp-acme-live-123456789012.${REGION}.run.app`, '/health'));
    const lines = await driver.logs!(ref, { since: '2026-01-01T00:00:00.000Z' });
    t.deepEqual(lines.slice(0, 2), [
      { time: '2026-01-01T00:00:01.000Z', stream: 'stdout', text: 'listening on 8080' },
      { time: '2026-01-01T00:00:02.000Z', stream: 'stderr', text: 'db timeout' },
    ]);
    t.is(lines.length, 3);
    t.like(lines[2], { stream: 'system', text: `GET https://tp-acme-live-123456789012.${REGION}.run.app/health 200` });
  });
});

test.serial('logs follow page tokens until the limit and return the newest lines oldest first', async (t) => {
  await withService(
    async (fake, driver) => {
      for (let i = 1; i <= 7; i++)
        fake.writeLog(SERVICE, { stream: 'stdout', text: `line ${i}`, timestamp: new Date(Date.now() - (10 - i) * 1000).toISOString() });
      const lines = await driver.logs!(ref, { limit: 5 });
      t.deepEqual(
        lines.map((l) => l.text),
        ['line 3', 'line 4', 'line 5', 'line 6', 'line 7'],
      );
      const calls = entriesCalls(fake);
      t.is(calls.length, 3, 'pages of 2, 2 and 1');
      t.falsy((calls[0].body as { pageToken?: string }).pageToken);
      t.truthy((calls[1].body as { pageToken?: string }).pageToken);
    },
    { logging: { maxPageSize: 2 } },
  );
});

test.serial('since leaves out older lines and lines of other services', async (t) => {
  await withService(async (fake, driver) => {
    fake.writeLog(SERVICE, { stream: 'stdout', text: 'old', timestamp: '2026-01-01T00:00:00.000Z' });
    fake.writeLog(SERVICE, { stream: 'stdout', text: 'new', timestamp: '2026-01-01T00:10:00.000Z' });
    await driver.deploy(makeSpec({ env: 'demo' }));
    fake.writeLog(`projects/${PROJECT}/locations/${REGION}/services/tp-acme-demo`, {
      stream: 'stdout',
      text: 'other service',
      timestamp: '2026-01-01T00:11:00.000Z',
    });
    const lines = await driver.logs!(ref, { since: '2026-01-01T00:05:00Z' });
    t.deepEqual(
      lines.map((l) => l.text),
      ['new'],
    );
  });
});

test.serial('a Cloud Logging error becomes a DriverError naming the service and the API’s reason', async (t) => {
  await withService(
    async (_fake, driver) => {
      const error = await t.throwsAsync(() => driver.logs!(ref));
      t.true(error instanceof DriverError);
      t.is((error as DriverError).code, 'failed');
      t.regex(
        error!.message,
        /reading logs of projects\/locked\/.*tp-acme-live from Cloud Logging failed: PERMISSION_DENIED: The caller does not have permission/,
      );
    },
    { logging: { deniedProjects: ['locked'] } },
    'locked',
  );
});

test.serial('the fake rejects a filter it does not understand with 400, as Cloud Logging does', async (t) => {
  await withService(async (fake) => {
    const response = await fetch(`${fake.url}/v2/entries:list`, {
      method: 'POST',
      // The platform's own token: the fake checks who asks before what is asked.
      headers: { authorization: 'Bearer fake-access-token', 'content-type': 'application/json' },
      body: JSON.stringify({ resourceNames: [`projects/${PROJECT}`], filter: 'resource.labels.service_name:"tp-acme"' }),
    });
    t.is(response.status, 400);
    t.regex(((await response.json()) as { error: { message: string } }).error.message, /Unparseable filter/);
  });
});

// Metrics

test.serial('metrics read the four documented Cloud Run metrics of the service, one metric type per call', async (t) => {
  await withService(async (fake, driver) => {
    await driver.metrics!(ref);
    const filters = seriesCalls(fake)
      .map((r) => r.query.get('filter'))
      .sort();
    const scope = `resource.type="cloud_run_revision" AND resource.labels.service_name="tp-acme-live" AND resource.labels.location="${REGION}"`;
    t.deepEqual(filters, [
      `metric.type="run.googleapis.com/container/cpu/utilizations" AND ${scope}`,
      `metric.type="run.googleapis.com/container/instance_count" AND ${scope}`,
      `metric.type="run.googleapis.com/container/memory/utilizations" AND ${scope}`,
      `metric.type="run.googleapis.com/request_count" AND ${scope}`,
    ]);
    const [call] = seriesCalls(fake);
    t.true(Date.parse(call.query.get('interval.endTime')!) - Date.parse(call.query.get('interval.startTime')!) >= 24 * 3600 * 1000 - 1000);
  });
});

test.serial('memory is utilization times the memory limit, cpu the utilization, and requests count served requests', async (t) => {
  await withService(
    async (fake, driver) => {
      const url = `https://tp-acme-live-123456789012.${REGION}.run.app`;
      for (let i = 0; i < 3; i++) fake.request(url);
      const m = await driver.metrics!(ref);
      t.is(m.memoryBytes, Math.round(0.3 * 1024 * 2 ** 20));
      t.is(m.cpu, 0.4);
      t.is(m.requests, 3);
      t.true(m.uptimeSeconds >= 0 && m.uptimeSeconds < 120);
      t.true(Math.abs(Date.parse(m.sampledAt) - Date.now()) < 120_000);
    },
    { utilization: { cpu: 0.4, memory: 0.3 } },
  );
});

test.serial('a suspended service reports no cpu, memory or uptime', async (t) => {
  await withService(async (_fake, driver) => {
    t.true((await driver.metrics!(ref)).memoryBytes > 0);
    await driver.suspend(ref);
    const m = await driver.metrics!(ref);
    t.like(m, { cpu: 0, memoryBytes: 0, uptimeSeconds: 0 });
  });
});

test.serial('metrics of an environment that does not exist are not_found; a Monitoring error is a DriverError', async (t) => {
  await withService(async (_fake, driver) => {
    const missing = await t.throwsAsync(() => driver.metrics!({ ...ref, env: 'test' }));
    t.is((missing as DriverError).code, 'not_found');
  });
  await withService(
    async (_fake, driver) => {
      const error = await t.throwsAsync(() => driver.metrics!(ref));
      t.true(error instanceof DriverError);
      t.regex(error!.message, /from Cloud Monitoring failed: PERMISSION_DENIED: Permission monitoring\.timeSeries\.list denied/);
    },
    { monitoring: { deniedProjects: [PROJECT] } },
  );
});

test('container limits are read in Cloud Run’s units, with its defaults when unset', (t) => {
  t.deepEqual(limitsOf({ resources: { limits: { memory: '2Gi', cpu: '2000m' } } }), { memoryBytes: 2 * 2 ** 30, cpus: 2 });
  t.deepEqual(limitsOf(undefined), { memoryBytes: 512 * 2 ** 20, cpus: 1 });
});
