import test from 'ava';
import { ConfigError, parseConfig } from './config.ts';

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
  const secret = t.throws(() => parseConfig({ TP_ENV: 'production', GCP_PROJECT_ID: 'p', GCP_REGION: 'europe-west1' }), { instanceOf: ConfigError });
  t.is(secret?.variable, 'TASKS_SECRET');
});

test('a bad value is named with what is allowed and an example', (t) => {
  t.throws(() => parseConfig({ RATE_LIMIT_PER_HOUR: 'lots' }), { message: /RATE_LIMIT_PER_HOUR: must be a whole number .* \(example: 20\)/ });
  t.throws(() => parseConfig({ RUNTIME_DRIVER: 'docker' }), { message: /RUNTIME_DRIVER: must be one of local, cloud-run, kubernetes, fly/ });
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
