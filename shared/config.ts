/**
 * Configuration is a pure function of the environment: parseConfig(env) either
 * returns a typed Config or throws ConfigError naming the variable, what is
 * wrong, and an example value. Nothing else in the code reads process.env.
 * The readers of single variables are in config/readers.ts; sections with
 * rules of their own are parsed beside them (config/runtime.ts,
 * config/registry.ts, config/chat.ts, config/resources.ts) and in billing/config.ts.
 */
import { parseBillingConfig, type BillingConfig } from './billing/config.ts';
import { parseChatConfig, type ChatConfig } from './config/chat.ts';
import { ConfigError, devDefault, hostPort, int, list, oneOf, optional, str, url, type Env, type Mode } from './config/readers.ts';
import { parseRegistryConfig, type RegistryConfig } from './config/registry.ts';
import { parseResourcesConfig, type ResourcesConfig } from './config/resources.ts';
import { parseRuntimeConfig, type RuntimeConfig } from './config/runtime.ts';
import { parseStreamsConfig, type StreamsConfig } from './config/streams.ts';

export { ConfigError, type Env, type Mode } from './config/readers.ts';
export type { ChatConfig } from './config/chat.ts';
export type { RegistryConfig } from './config/registry.ts';
export type { Blueprint, ResourcesConfig } from './config/resources.ts';
export type { RuntimeConfig } from './config/runtime.ts';
export type { StreamsConfig } from './config/streams.ts';

export interface Config {
  mode: Mode;
  projectId: string;
  /** Firebase project of the users (Auth); the same as projectId unless FIREBASE_PROJECT_ID says otherwise. */
  authProjectId: string;
  region: string;
  /** Where users reach the platform (hosting / local gateway). */
  publicUrl: string;
  /** URL of a function for Cloud Tasks targets; `{name}` is replaced by the function name. */
  functionsUrl: string;
  emulators: { firestore?: string; auth?: string; tasks?: string };
  http: {
    corsOrigins: string[];
    bodyLimitBytes: number;
    /** X-Forwarded-For entries appended by trusted proxies: 2 behind Hosting (its CDN, then the Google front end), 1 behind the local gateway. */
    trustedProxyHops: number;
    /** Longest wait on one call to a dependency (Firestore, Auth, Cloud Tasks) before answering 503. */
    dependencyTimeoutMs: number;
  };
  /** Long answers (SSE): where clients open them, and the limits every stream keeps. */
  streams: StreamsConfig;
  tasks: {
    location: string;
    /** Shared secret sent as a task header and checked by task endpoints (always set). */
    secret: string;
    /** Production: tasks carry an OIDC token for this service account and endpoints verify it. */
    serviceAccount?: string;
  };
  signup: { tokenTtlHours: number; rateLimitPerHour: number; mailPerMinute: number; mailPerDay: number };
  mail: {
    driver: 'smtp' | 'sendgrid';
    from: string;
    smtpUrl: string;
    sendgridApiKey?: string;
    /** Web inbox of the local mail catcher, shown by `npm start`. */
    catcherUrl?: string;
    /** Signup mails of one window this long share one delivery task; 0 gives each its own. */
    batchWindowMs: number;
  };
  runtime: RuntimeConfig;
  /** Each environment's database and bucket, and the blueprints per plan (shared/config/resources.ts). */
  resources: ResourcesConfig;
  secrets: { key: Buffer };
  /** Tenant images (shared/config/registry.ts). */
  registry: RegistryConfig;
  /** `leaseMs`: how long a worker's claim on a tenant lasts unless renewed (it renews every third of it while working). */
  provision: { maxAttempts: number; readyTimeoutMs: number; leaseMs: number };
  /** Costs, plans and payments (shared/billing/config.ts). */
  billing: BillingConfig;
  chat: ChatConfig;
  /** What the web pages need to sign in with the Firebase JS SDK (served by `GET /api/config`). */
  web: WebConfig;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** How long audit entries are kept (`AUDIT_RETENTION_DAYS`, default 400): each entry's `expireAt`, which a TTL policy enforces. */
  audit: { retentionDays: number };
}

/** Public Firebase web settings: the API key of a web app is an identifier, not a secret. */
export interface WebConfig {
  /** FIREBASE_API_KEY; outside production a placeholder, which the Auth emulator accepts. */
  firebaseApiKey?: string;
  /** FIREBASE_AUTH_DOMAIN, default `<auth project>.firebaseapp.com`. */
  firebaseAuthDomain: string;
}

/** The key that encrypts tenant secrets at rest: 32 bytes, with a fixed one outside production. */
function secretsKey(env: Env, mode: Mode): Buffer {
  const raw = devDefault(env, mode, 'SECRETS_KEY', Buffer.alloc(32, 7).toString('base64'), '$(openssl rand -base64 32)');
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new ConfigError('SECRETS_KEY', 'must be 32 bytes, base64-encoded (example: $(openssl rand -base64 32)).');
  return key;
}

export function parseConfig(env: Env = process.env): Config {
  const mode = oneOf(env, 'TP_ENV', ['development', 'test', 'production'] as const, 'development');
  const projectId = str(env, 'GCP_PROJECT_ID', mode === 'production' ? undefined : 'demo-tenantplane');
  const region = str(env, 'GCP_REGION', mode === 'production' ? undefined : 'us-central1');
  const publicUrl = url(env, 'PUBLIC_URL', 'http://localhost:8080');
  const functionsUrl = url(env, 'FUNCTIONS_URL', `${publicUrl}/__fn/{name}`);
  if (!functionsUrl.includes('{name}')) {
    throw new ConfigError('FUNCTIONS_URL', `must contain {name} (example: https://{name}-abc123-uc.a.run.app).`);
  }
  return {
    mode,
    projectId,
    authProjectId: str(env, 'FIREBASE_PROJECT_ID', projectId),
    region,
    publicUrl,
    functionsUrl,
    emulators: {
      firestore: hostPort(env, 'FIRESTORE_EMULATOR_HOST'),
      auth: hostPort(env, 'FIREBASE_AUTH_EMULATOR_HOST'),
      tasks: hostPort(env, 'TASKS_EMULATOR_HOST'),
    },
    http: {
      corsOrigins: list(env, 'CORS_ORIGINS'),
      bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024, 33_554_432),
      trustedProxyHops: int(env, 'TRUSTED_PROXY_HOPS', mode === 'production' ? 2 : 1, 0, 10),
      // Tests share loaded machines where a live emulator can take seconds: there only a long silence counts as down.
      dependencyTimeoutMs: int(env, 'DEPENDENCY_TIMEOUT_MS', mode === 'test' ? 30_000 : 8000, 100, 60_000),
    },
    streams: parseStreamsConfig(env, functionsUrl),
    tasks: {
      location: str(env, 'TASKS_LOCATION', region),
      secret: devDefault(env, mode, 'TASKS_SECRET', 'dev-tasks-secret', '$(openssl rand -hex 32)'),
      serviceAccount: optional(env, 'TASKS_SERVICE_ACCOUNT'),
    },
    signup: {
      tokenTtlHours: int(env, 'SIGNUP_TOKEN_TTL_HOURS', 24, 1, 720),
      rateLimitPerHour: int(env, 'RATE_LIMIT_PER_HOUR', 20, 1, 100_000),
      mailPerMinute: int(env, 'MAIL_PER_MINUTE', 1, 1, 1000),
      mailPerDay: int(env, 'MAIL_PER_DAY', 5, 1, 10_000),
    },
    mail: {
      driver: oneOf(env, 'MAIL_DRIVER', ['smtp', 'sendgrid'] as const, 'smtp'),
      from: str(env, 'MAIL_FROM', 'tenantplane <no-reply@tenantplane.local>'),
      smtpUrl: url(env, 'SMTP_URL', 'smtp://127.0.0.1:1025'),
      sendgridApiKey: optional(env, 'SENDGRID_API_KEY'),
      catcherUrl: optional(env, 'MAIL_CATCHER_URL'),
      batchWindowMs: int(env, 'MAIL_BATCH_MS', 500, 0, 10_000),
    },
    runtime: parseRuntimeConfig(env, { region, projectId }),
    resources: parseResourcesConfig(env, { projectId }),
    secrets: { key: secretsKey(env, mode) },
    registry: parseRegistryConfig(env, { mode, projectId, region }),
    chat: parseChatConfig(env, { projectId }),
    web: {
      firebaseApiKey: optional(env, 'FIREBASE_API_KEY') ?? (mode === 'production' ? undefined : 'demo-api-key'),
      firebaseAuthDomain: str(env, 'FIREBASE_AUTH_DOMAIN', `${str(env, 'FIREBASE_PROJECT_ID', projectId)}.firebaseapp.com`),
    },
    billing: parseBillingConfig(env, { mode, publicUrl }),
    provision: {
      maxAttempts: int(env, 'PROVISION_MAX_ATTEMPTS', 5, 1, 100),
      readyTimeoutMs: int(env, 'PROVISION_READY_TIMEOUT_MS', 60_000, 1000, 1_800_000),
      leaseMs: int(env, 'PROVISION_LEASE_MS', 120_000, 1000, 3_600_000),
    },
    audit: { retentionDays: int(env, 'AUDIT_RETENTION_DAYS', 400, 1, 3650) },
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, mode === 'test' ? 'warn' : 'info'),
  };
}
