import test from 'ava';
import { parseBillingConfig, requireExportTable } from './billing/config.ts';
import { ConfigError, parseConfig } from './config.ts';
import { localIdleSleepMs } from './config/runtime.ts';

test('development runs with no variables set at all', (t) => {
  const config = parseConfig({});
  t.is(config.mode, 'development');
  t.is(config.publicUrl, 'http://localhost:8080');
  t.is(config.functionsUrl, 'http://localhost:8080/__fn/{name}');
  t.is(config.signup.rateLimitPerHour, 20);
  t.is(config.runtime.driver, 'local');
  t.is(config.secrets.key.length, 32);
});

test('production names each missing variable', (t) => {
  const error = t.throws(() => parseConfig({ TP_ENV: 'production' }), { instanceOf: ConfigError });
  t.is(error?.variable, 'GCP_PROJECT_ID');
  const secret = t.throws(() => parseConfig({ TP_ENV: 'production', GCP_PROJECT_ID: 'p', GCP_REGION: 'europe-west1' }), {
    instanceOf: ConfigError,
  });
  t.is(secret?.variable, 'TASKS_SECRET');
});

test('a bad value is named with what is allowed and an example', (t) => {
  t.throws(() => parseConfig({ RATE_LIMIT_PER_HOUR: 'lots' }), {
    message: /RATE_LIMIT_PER_HOUR: must be a whole number .* \(example: 20\)/,
  });
  t.throws(() => parseConfig({ RUNTIME_DRIVER: 'docker' }), {
    message: /RUNTIME_DRIVER: must be one of local, cloud-run, kubernetes, fly/,
  });
  t.throws(() => parseConfig({ PUBLIC_URL: 'not a url' }), { message: /PUBLIC_URL: must be a URL/ });
  t.throws(() => parseConfig({ FIRESTORE_EMULATOR_HOST: 'localhost' }), { message: /host:port/ });
  t.throws(() => parseConfig({ LOCAL_PORT_RANGE: '9-5' }), { message: /LOCAL_PORT_RANGE/ });
  t.throws(() => parseConfig({ SECRETS_KEY: 'c2hvcnQ=' }), { message: /SECRETS_KEY: must be 32 bytes/ });
  t.throws(() => parseConfig({ FUNCTIONS_URL: 'https://fn.example.com' }), { message: /must contain \{name\}/ });
});

test('CORS origins come from a comma-separated list', (t) => {
  t.deepEqual(parseConfig({ CORS_ORIGINS: 'https://a.example.com, https://b.example.com' }).http.corsOrigins, [
    'https://a.example.com',
    'https://b.example.com',
  ]);
});

// Streams

test('streams open on FUNCTIONS_URL unless STREAM_URL says otherwise, with a 15 s heartbeat, a 5 min deadline and 10 per user', (t) => {
  t.deepEqual(parseConfig({ FUNCTIONS_URL: 'https://europe-west1-p.cloudfunctions.net/{name}' }).streams, {
    url: 'https://europe-west1-p.cloudfunctions.net/{name}',
    heartbeatMs: 15_000,
    deadlineMs: 300_000,
    perUser: 10,
  });
  const set = parseConfig({
    STREAM_URL: 'https://{name}-abc123-ew.a.run.app',
    STREAM_HEARTBEAT_MS: '500',
    STREAM_DEADLINE_MS: '60000',
    STREAMS_PER_USER: '3',
  }).streams;
  t.like(set, { url: 'https://{name}-abc123-ew.a.run.app', heartbeatMs: 500, deadlineMs: 60_000, perUser: 3 });
  t.throws(() => parseConfig({ STREAM_URL: 'https://api.example.com' }), { message: /STREAM_URL: must contain \{name\}/ });
  t.throws(() => parseConfig({ STREAMS_PER_USER: '0' }), { message: /STREAMS_PER_USER: must be a whole number from 1/ });
  t.throws(() => parseConfig({ STREAM_DEADLINE_MS: 'forever' }), { message: /STREAM_DEADLINE_MS/ });
});

// Chat

test('chat uses the offline model until Gemini credentials are configured', (t) => {
  const offline = parseConfig({}).chat;
  t.is(offline.model, 'offline');
  t.is(offline.gemini.model, 'gemini-2.5-flash');
  t.is(offline.confirmationTtlSeconds, 300);
  t.is(parseConfig({ GEMINI_API_KEY: 'k' }).chat.model, 'gemini');
  const vertex = parseConfig({ VERTEX_PROJECT: 'ai-project', VERTEX_LOCATION: 'europe-west4' }).chat;
  t.is(vertex.model, 'gemini');
  t.is(vertex.gemini.project, 'ai-project');
  t.is(vertex.gemini.location, 'europe-west4');
  t.is(parseConfig({ GEMINI_API_KEY: 'k', CHAT_MODEL: 'offline' }).chat.model, 'offline');
  t.throws(() => parseConfig({ CHAT_MODEL: 'gpt' }), { message: /CHAT_MODEL: must be one of offline, gemini/ });
  t.throws(() => parseConfig({ GEMINI_BASE_URL: 'nope' }), { message: /GEMINI_BASE_URL: must be a URL/ });
});

// Web pages

test('the web pages get a placeholder API key outside production and the auth domain of the Firebase project', (t) => {
  const dev = parseConfig({ FIREBASE_PROJECT_ID: 'users-project' }).web;
  t.is(dev.firebaseApiKey, 'demo-api-key');
  t.is(dev.firebaseAuthDomain, 'users-project.firebaseapp.com');
  const prod = parseConfig({
    TP_ENV: 'production',
    GCP_PROJECT_ID: 'p',
    GCP_REGION: 'europe-west1',
    TASKS_SECRET: 's',
    SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
    BILLING_SOURCE: 'metered',
  }).web;
  t.is(prod.firebaseApiKey, undefined, 'production never invents a key');
  t.is(prod.firebaseAuthDomain, 'p.firebaseapp.com');
  const set = parseConfig({ FIREBASE_API_KEY: 'AIza-key', FIREBASE_AUTH_DOMAIN: 'login.example.com' }).web;
  t.deepEqual(set, { firebaseApiKey: 'AIza-key', firebaseAuthDomain: 'login.example.com' });
});

// Billing, plans and payments (shared/billing/config.ts)

test('billing runs on metered usage in development, with the default price sheet and plans', (t) => {
  const { billing } = parseConfig({});
  t.is(billing.source, 'metered');
  t.is(billing.priceSheet.currency, 'USD');
  t.deepEqual(
    billing.plans.map((p) => p.id),
    ['free', 'starter', 'pro'],
  );
  t.is(billing.payments.provider, 'stripe');
  t.is(billing.payments.stripe.toleranceSeconds, 300);
  t.is(billing.payments.paddle.toleranceSeconds, 5);
  t.deepEqual(billing.payments.stripe.webhookSecrets, []);
});

test('production reads costs from the billing export, and a cost-reading function refuses to start without its table', (t) => {
  const production = { mode: 'production' as const, publicUrl: 'https://x.example.com' };
  t.is(parseBillingConfig({ BILLING_EXPORT_TABLE: 'p-123456.billing.gcp_billing_export_v1_X' }, production).source, 'bigquery');
  const missing = parseBillingConfig({}, production);
  t.throws(() => requireExportTable(missing), { message: /BILLING_EXPORT_TABLE: is required when BILLING_SOURCE is bigquery/ });
  t.notThrows(() => requireExportTable(parseConfig({}).billing));
});

test('billing variables are checked and named', (t) => {
  t.throws(() => parseConfig({ BILLING_SOURCE: 'bigquery', BILLING_EXPORT_TABLE: 'p.d.t`; DROP' }), {
    message: /BILLING_EXPORT_TABLE: must be project\.dataset\.table/,
  });
  t.throws(() => parseConfig({ BILLING_SOURCE: 'csv' }), { message: /BILLING_SOURCE: must be one of bigquery, metered/ });
  t.throws(() => parseConfig({ PRICE_SHEET: '{nope' }), { message: /PRICE_SHEET: must be JSON/ });
  t.throws(() => parseConfig({ PRICE_SHEET: '{"gibSecond":-1}' }), { message: /PRICE_SHEET: .*bad: gibSecond/ });
  t.throws(() => parseConfig({ PLANS: '[{"id":"gold"}]' }), { message: /PLANS: names plan "gold"/ });
  t.throws(() => parseConfig({ PAYMENT_PROVIDER: 'paypal' }), { message: /PAYMENT_PROVIDER: must be one of stripe, paddle/ });
  t.throws(() => parseConfig({ PADDLE_TOLERANCE_SECONDS: '0' }), { message: /PADDLE_TOLERANCE_SECONDS/ });
});

test('webhook secrets rotate through a comma list, and plan prices come from PLANS or per-plan variables', (t) => {
  const { billing } = parseConfig({
    STRIPE_WEBHOOK_SECRETS: 'whsec_new, whsec_old',
    STRIPE_PRICE_STARTER: 'price_s',
    PLANS: '[{"id":"pro","priceMonthly":9900,"providerPrices":{"paddle":"pri_p"}},{"id":"starter"}]',
  });
  t.deepEqual(billing.payments.stripe.webhookSecrets, ['whsec_new', 'whsec_old']);
  t.like(billing.plans[0], { id: 'pro', priceMonthly: 9900, memoryMb: 1024, providerPrices: { paddle: 'pri_p' } });
  t.like(billing.plans[1], { id: 'starter', priceMonthly: 1900, providerPrices: { stripe: 'price_s' } });
});

test('a cloud runtime driver names the variables it needs', (t) => {
  t.throws(() => parseConfig({ RUNTIME_DRIVER: 'kubernetes' }), { message: /K8S_BASE_DOMAIN: is required when RUNTIME_DRIVER=kubernetes/ });
  t.throws(() => parseConfig({ RUNTIME_DRIVER: 'fly' }), { message: /FLY_API_TOKEN: is required when RUNTIME_DRIVER=fly/ });
  t.is(
    parseConfig({ RUNTIME_DRIVER: 'kubernetes', K8S_BASE_DOMAIN: 'tenants.example.com' }).runtime.kubernetes.baseDomain,
    'tenants.example.com',
  );
  t.is(parseConfig({ RUNTIME_DRIVER: 'cloud-run' }).runtime.driver, 'cloud-run');
});

test('local environments sleep after LOCAL_IDLE_SLEEP_MINUTES idle, never live on a paid plan, and 0 turns it off', (t) => {
  const config = parseConfig({});
  t.is(config.runtime.idleSleepMinutes, 15);
  const idle = localIdleSleepMs(config.runtime.idleSleepMinutes, config.billing.plans);
  t.is(idle({ env: 'live' }, { TENANT_PLAN: 'free' }), 15 * 60_000);
  t.is(idle({ env: 'test' }, { TENANT_PLAN: 'pro' }), 15 * 60_000);
  t.is(idle({ env: 'live' }, { TENANT_PLAN: 'pro' }), 0);
  t.is(idle({ env: 'live' }, { TENANT_PLAN: 'starter' }), 0);
  t.is(idle({ env: 'api' }, {}), 15 * 60_000);
  const off = parseConfig({ LOCAL_IDLE_SLEEP_MINUTES: '0' }).runtime.idleSleepMinutes;
  t.is(localIdleSleepMs(off, config.billing.plans)({ env: 'demo' }, { TENANT_PLAN: 'free' }), 0);
  t.is(parseConfig({ LOCAL_IDLE_SLEEP_MINUTES: '0.5' }).runtime.idleSleepMinutes, 0.5);
  t.throws(() => parseConfig({ LOCAL_IDLE_SLEEP_MINUTES: '-1' }), { message: /LOCAL_IDLE_SLEEP_MINUTES: must be a number from 0/ });
});
