import test from 'ava';
import { ConfigError } from './readers.ts';
import { blueprintFor, DEFAULT_BLUEPRINT, localDataPorts, parseResourcesConfig } from './resources.ts';

const parse = (env: Record<string, string>) => parseResourcesConfig(env, { projectId: 'demo-p' });
const LOCAL = { DATABASE_ADMIN_URL: 'postgres://postgres:pw@127.0.0.1:5433/postgres', STORAGE_EMULATOR_URL: 'http://127.0.0.1:9199' };

test('without a data server named, environments get no resources; naming one chooses its driver', (t) => {
  t.is(parse({}).driver, 'none');
  t.is(parse(LOCAL).driver, 'local');
  t.is(
    parse({
      CLOUD_SQL_INSTANCE: 'p:europe-west1:tenants',
      CLOUD_SQL_HOST: '10.0.0.3',
      CLOUD_SQL_ADMIN_URL: 'postgres://a:b@10.0.0.3/postgres',
    }).driver,
    'gcp',
  );
});

test('a chosen driver names each variable it needs, with an example', (t) => {
  const local = t.throws(() => parse({ RESOURCES_DRIVER: 'local' }), { instanceOf: ConfigError });
  t.is(local.variable, 'DATABASE_ADMIN_URL');
  t.regex(local.message, /example: postgres:\/\//);
  t.is(t.throws(() => parse({ RESOURCES_DRIVER: 'gcp' }), { instanceOf: ConfigError }).variable, 'CLOUD_SQL_INSTANCE');
  t.is(t.throws(() => parse({ ...LOCAL, DATABASE_ADMIN_URL: 'mysql://x' }), { instanceOf: ConfigError }).variable, 'DATABASE_ADMIN_URL');
  t.is(t.throws(() => parse({ RESOURCES_DRIVER: 'mongo' }), { instanceOf: ConfigError }).variable, 'RESOURCES_DRIVER');
});

test('the default blueprint gives a database seeded with sample data in demo, a bucket and 7 days of backups', (t) => {
  const config = parse(LOCAL);
  t.deepEqual(blueprintFor(config, 'free'), DEFAULT_BLUEPRINT);
  t.is(DEFAULT_BLUEPRINT.database?.seed.demo, 'sample');
  t.is(DEFAULT_BLUEPRINT.backupRetentionDays, 7);
});

test('a plan overrides the default field by field, and may drop a resource', (t) => {
  const config = parse({
    ...LOCAL,
    BLUEPRINTS: JSON.stringify({ default: { bucket: { deleteAfterDays: 90 } }, pro: { backupRetentionDays: 30 }, free: { bucket: null } }),
  });
  t.deepEqual(blueprintFor(config, 'pro'), { ...DEFAULT_BLUEPRINT, bucket: { deleteAfterDays: 90 }, backupRetentionDays: 30 });
  t.is(blueprintFor(config, 'free').bucket, undefined);
  t.truthy(blueprintFor(config, 'free').database);
  t.deepEqual(blueprintFor(config, 'starter').bucket, { deleteAfterDays: 90 }, 'a plan not named gets the default');
  t.deepEqual(blueprintFor(config, 'constructor'), blueprintFor(config, 'starter'), 'prototype keys are no plans');
});

test('bad blueprints are refused with the variable, the problem and an example', (t) => {
  for (const [value, problem] of [
    ['{', /must be JSON/],
    ['[]', /object of blueprints/],
    ['{"pro":{"disk":{}}}', /unknown field "disk"/],
    ['{"pro":{"database":{"seed":{"prod":"x"}}}}', /seed names "prod"/],
    ['{"pro":{"bucket":{"deleteAfterDays":-1}}}', /deleteAfterDays/],
    ['{"pro":{"backupRetentionDays":0}}', /backupRetentionDays/],
    ['{"Pro Plan":{}}', /not a plan id/],
  ] as const) {
    const error = t.throws(() => parse({ ...LOCAL, BLUEPRINTS: value }), { instanceOf: ConfigError }, value);
    t.is(error.variable, 'BLUEPRINTS');
    t.regex(error.message, problem, value);
  }
});

test('isolated tenant processes may reach the local data servers on loopback, and nothing for other drivers', (t) => {
  t.deepEqual(localDataPorts(parse(LOCAL)), [5433, 9199]);
  t.deepEqual(localDataPorts(parse({})), []);
  t.deepEqual(localDataPorts(parse({ ...LOCAL, DATABASE_ADMIN_URL: 'postgres://p:w@db.internal:5432/postgres' })), [9199]);
});

test('export archives are kept 7 days unless EXPORT_RETENTION_DAYS says otherwise; a bad value is refused with an example', (t) => {
  t.is(parse(LOCAL).exportRetentionDays, 7);
  t.is(parse({ ...LOCAL, EXPORT_RETENTION_DAYS: '30' }).exportRetentionDays, 30);
  for (const value of ['0', '1.5', 'week', '366']) {
    const error = t.throws(() => parse({ ...LOCAL, EXPORT_RETENTION_DAYS: value }), { instanceOf: ConfigError }, value);
    t.is(error.variable, 'EXPORT_RETENTION_DAYS');
    t.regex(error.message, /from 1 to 365.*example: 7/);
  }
});
