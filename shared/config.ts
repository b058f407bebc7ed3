/**
 * Configuration is a pure function of the environment: parseConfig(env) either
 * returns a typed Config or throws ConfigError naming the variable, what is
 * wrong, and an example value. Nothing else in the code reads process.env.
 */
import { parseBillingConfig, type BillingConfig } from './billing/config.ts';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;
export type Mode = 'development' | 'test' | 'production';

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
  };
  runtime: {
    driver: string;
    dataDir: string;
    portRange: { from: number; to: number };
    publicHost: string;
    /** uids of local workloads when the control plane runs as root: one per environment. */
    uidRange: { from: number; to: number };
    /** Cloud Run: each tenant runs as its own service account (shared/gcp/names.ts); nothing to configure but the deployer. */
    cloudRun: { deployerServiceAccount: string };
    kubernetes: {
      kubeconfigPath?: string;
      baseDomain?: string;
      ingressClassName?: string;
      /** A NetworkPolicy per environment (default true): only the ingress controller gets in, no egress to other tenants. */
      networkPolicy: boolean;
      /** Namespace of the ingress controller the NetworkPolicy admits (default `ingress-nginx`). */
      ingressNamespace: string;
      /** Mount each tenant ServiceAccount's API token into its pods (default false). */
      automountServiceAccountToken: boolean;
    };
    fly: { apiToken?: string; orgSlug?: string; region?: string };
  };
  secrets: { key: Buffer };
  /**
   * Tenant images. `artifact-registry` (production default): a repository and a
   * service account per tenant, minted registry tokens, tags resolved to
   * digests. `local`: no registry; a signed local token and images as given.
   */
  registry: { driver: 'local' | 'artifact-registry'; host: string; defaultImage: string; tokenMinterServiceAccount: string };
  /** `leaseMs`: how long a worker's claim on a tenant lasts unless renewed (it renews every third of it while working). */
  provision: { maxAttempts: number; readyTimeoutMs: number; leaseMs: number };
  /** Costs, plans and payments (shared/billing/config.ts). */
  billing: BillingConfig;
  chat: ChatConfig;
  /** What the web pages need to sign in with the Firebase JS SDK (served by `GET /api/config`). */
  web: WebConfig;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** The chat function (SPEC §5): which model answers, and the limits around it. */
export interface ChatConfig {
  /** `gemini` when credentials are configured (or CHAT_MODEL=gemini), else the offline intent model. */
  model: 'offline' | 'gemini';
  gemini: {
    model: string;
    /** Vertex AI project and location; unused when `apiKey` selects the Gemini Developer API. */
    project: string;
    location: string;
    apiKey?: string;
    /** Points the SDK at another endpoint (tests: the local Gemini fake). */
    baseUrl?: string;
  };
  /** How long a destructive action's confirmation stays valid. */
  confirmationTtlSeconds: number;
  /** Characters of stored conversation sent back to the model (about 4 characters per token). */
  historyBudgetChars: number;
  /** Chat requests per user per minute. */
  rateLimitPerMinute: number;
}

/**
 * Streams (event streams, chat replies, the /messages proxy). Firebase Hosting
 * buffers what its rewrites answer, so clients open streams on the function's
 * own URL instead (`url`, `{name}` = api or chat) with the ID token in Authorization.
 */
export interface StreamsConfig {
  /** STREAM_URL: a function's own URL, `{name}` replaced; default FUNCTIONS_URL (in production the cloudfunctions.net address). */
  url: string;
  /** STREAM_HEARTBEAT_MS: a comment line this often keeps proxies and clients from calling a quiet stream dead. */
  heartbeatMs: number;
  /** STREAM_DEADLINE_MS: a stream ends after this long; event streams are resumed by the client with Last-Event-ID. Keep it below the functions' timeout. */
  deadlineMs: number;
  /** STREAMS_PER_USER: open streams one user may hold on one function instance (not across instances). */
  perUser: number;
}

/** Public Firebase web settings: the API key of a web app is an identifier, not a secret. */
export interface WebConfig {
  /** FIREBASE_API_KEY; outside production a placeholder, which the Auth emulator accepts. */
  firebaseApiKey?: string;
  /** FIREBASE_AUTH_DOMAIN, default `<auth project>.firebaseapp.com`. */
  firebaseAuthDomain: string;
}

// Readers ---------------------------------------------------------------

function str(env: Env, name: string, fallback?: string): string {
  const value = env[name]?.trim();
  if (value) return value;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(name, 'is required but not set.');
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}" (example: ${fallback}).`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = optional(env, name) ?? fallback;
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}".`);
  }
  return raw as T;
}

function url(env: Env, name: string, fallback: string): string {
  const raw = str(env, name, fallback);
  try {
    const parsed = new URL(raw.replace('{name}', 'x'));
    if (!['http:', 'https:', 'smtp:', 'smtps:'].includes(parsed.protocol)) throw new Error('protocol');
  } catch {
    throw new ConfigError(name, `must be a URL, got "${raw}" (example: ${fallback}).`);
  }
  return raw.replace(/\/+$/, '');
}

function hostPort(env: Env, name: string): string | undefined {
  const raw = optional(env, name);
  if (raw && !/^[\w.-]+:\d{1,5}$/.test(raw)) throw new ConfigError(name, `must be host:port, got "${raw}" (example: 127.0.0.1:8081).`);
  return raw;
}

function list(env: Env, name: string): string[] {
  return (optional(env, name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function portRange(env: Env, name: string, fallback: string): { from: number; to: number } {
  const raw = str(env, name, fallback);
  const match = /^(\d+)-(\d+)$/.exec(raw);
  const from = Number(match?.[1]);
  const to = Number(match?.[2]);
  if (!match || from < 1024 || to > 65535 || from > to) {
    throw new ConfigError(name, `must be a range like ${fallback} within 1024-65535, got "${raw}".`);
  }
  return { from, to };
}

function uidRange(env: Env, name: string, fallback: string): { from: number; to: number } {
  const raw = str(env, name, fallback);
  const match = /^(\d+)-(\d+)$/.exec(raw);
  const from = Number(match?.[1]);
  const to = Number(match?.[2]);
  if (!match || from < 1000 || to >= 2 ** 31 || from > to) {
    throw new ConfigError(name, `must be a range of unprivileged uids like ${fallback}, got "${raw}".`);
  }
  return { from, to };
}

/** Development keeps working without secrets set; production must set them. */
function devDefault(env: Env, mode: Mode, name: string, devValue: string, example: string): string {
  const value = optional(env, name);
  if (value) return value;
  if (mode === 'production') throw new ConfigError(name, `is required in production (example: ${example}).`);
  return devValue;
}

function secretsKey(env: Env, mode: Mode): Buffer {
  const raw = devDefault(env, mode, 'SECRETS_KEY', Buffer.alloc(32, 7).toString('base64'), '$(openssl rand -base64 32)');
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new ConfigError('SECRETS_KEY', 'must be 32 bytes, base64-encoded (example: $(openssl rand -base64 32)).');
  return key;
}

function chatConfig(env: Env, projectId: string): ChatConfig {
  const apiKey = optional(env, 'GEMINI_API_KEY');
  const vertexProject = optional(env, 'VERTEX_PROJECT');
  const model = oneOf(env, 'CHAT_MODEL', ['offline', 'gemini'] as const, apiKey || vertexProject ? 'gemini' : 'offline');
  const baseUrl = optional(env, 'GEMINI_BASE_URL') && url(env, 'GEMINI_BASE_URL', 'http://127.0.0.1:8089');
  return {
    model,
    gemini: {
      model: str(env, 'GEMINI_MODEL', 'gemini-2.5-flash'),
      project: vertexProject ?? projectId,
      location: str(env, 'VERTEX_LOCATION', 'us-central1'),
      apiKey,
      baseUrl: baseUrl || undefined,
    },
    confirmationTtlSeconds: int(env, 'CHAT_CONFIRMATION_TTL_SECONDS', 300, 10, 3600),
    historyBudgetChars: int(env, 'CHAT_HISTORY_CHARS', 12_000, 500, 500_000),
    rateLimitPerMinute: int(env, 'CHAT_RATE_LIMIT_PER_MINUTE', 20, 1, 10_000),
  };
}

/** The runtime section; the variables the chosen driver needs are required only when it is chosen. */
function runtimeConfig(env: Env, region: string, projectId: string): Config['runtime'] {
  const driver = oneOf(env, 'RUNTIME_DRIVER', ['local', 'cloud-run', 'kubernetes', 'fly'] as const, 'local');
  const requiredFor = (forDriver: string, name: string) => (driver === forDriver ? str(env, name) : optional(env, name));
  // Parsed before the try below, whose message would call a bad value missing.
  const k8sNetworkPolicy = oneOf(env, 'K8S_NETWORK_POLICY', ['true', 'false'] as const, 'true') === 'true';
  const k8sAutomountToken = oneOf(env, 'K8S_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN', ['true', 'false'] as const, 'false') === 'true';
  try {
    return {
      driver,
      dataDir: str(env, 'DATA_DIR', '.data'),
      portRange: portRange(env, 'LOCAL_PORT_RANGE', '20000-20999'),
      publicHost: str(env, 'LOCAL_PUBLIC_HOST', '127.0.0.1'),
      uidRange: uidRange(env, 'LOCAL_UID_RANGE', '200000-299999'),
      cloudRun: { deployerServiceAccount: str(env, 'PROVISIONER_SERVICE_ACCOUNT', `tp-provisioner@${projectId}.iam.gserviceaccount.com`) },
      kubernetes: {
        kubeconfigPath: optional(env, 'KUBECONFIG'),
        baseDomain: requiredFor('kubernetes', 'K8S_BASE_DOMAIN'),
        ingressClassName: optional(env, 'K8S_INGRESS_CLASS'),
        networkPolicy: k8sNetworkPolicy,
        ingressNamespace: str(env, 'K8S_INGRESS_NAMESPACE', 'ingress-nginx'),
        automountServiceAccountToken: k8sAutomountToken,
      },
      fly: { apiToken: requiredFor('fly', 'FLY_API_TOKEN'), orgSlug: requiredFor('fly', 'FLY_ORG'), region: str(env, 'FLY_REGION', region.startsWith('europe') ? 'fra' : 'iad') },
    };
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.variable, `is required when RUNTIME_DRIVER=${driver} (${err.message.split(': ')[1]})`);
    throw err;
  }
}

/** The registry section: Artifact Registry needs a host of its documented shape, checked at start. */
function registryConfig(env: Env, mode: Mode, projectId: string, region: string): Config['registry'] {
  const driver = oneOf(env, 'REGISTRY_DRIVER', ['local', 'artifact-registry'] as const, mode === 'production' ? 'artifact-registry' : 'local');
  const host = str(env, 'REGISTRY', `${region}-docker.pkg.dev/${projectId}`);
  if (driver === 'artifact-registry' && !/^[a-z0-9-]+-docker\.pkg\.dev\/[^/]+$/.test(host)) {
    throw new ConfigError('REGISTRY', `must be an Artifact Registry docker host when REGISTRY_DRIVER=artifact-registry (example: europe-west1-docker.pkg.dev/${projectId}).`);
  }
  return {
    driver,
    host,
    defaultImage: str(env, 'DEFAULT_IMAGE', 'tenantplane/sample-tenant:latest'),
    tokenMinterServiceAccount: str(env, 'REGISTRY_TOKEN_MINTER', `tp-functions@${projectId}.iam.gserviceaccount.com`),
  };
}

function streamsConfig(env: Env, functionsUrl: string): StreamsConfig {
  const streamUrl = url(env, 'STREAM_URL', functionsUrl);
  if (!streamUrl.includes('{name}')) {
    throw new ConfigError('STREAM_URL', 'must contain {name} (example: https://europe-west1-my-project.cloudfunctions.net/{name}).');
  }
  return {
    url: streamUrl,
    heartbeatMs: int(env, 'STREAM_HEARTBEAT_MS', 15_000, 10, 600_000),
    // Under the api and chat functions' 600 s timeout (scripts/deploy.sh), so a stream ends cleanly before Cloud Run cuts it.
    deadlineMs: int(env, 'STREAM_DEADLINE_MS', 300_000, 200, 3_600_000),
    perUser: int(env, 'STREAMS_PER_USER', 10, 1, 10_000),
  };
}

// The config ------------------------------------------------------------

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
    streams: streamsConfig(env, functionsUrl),
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
    },
    runtime: runtimeConfig(env, region, projectId),
    secrets: { key: secretsKey(env, mode) },
    registry: registryConfig(env, mode, projectId, region),
    chat: chatConfig(env, projectId),
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
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, mode === 'test' ? 'warn' : 'info'),
  };
}
