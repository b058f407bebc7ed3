/**
 * The one rule for tenant secret names (R-ISO-2). A secret becomes an
 * environment variable of the tenant's workload, so a name the loader, the
 * runtime or the platform reads would let a tenant change how its process is
 * started (`NODE_OPTIONS=--import=…`, `LD_PRELOAD`) or pose as the platform.
 */

/** Shape: upper snake case, 1–64 characters, starting with a letter. */
export const SECRET_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Exact names the loader, the shell, Node.js, the runtimes or the platform read. */
const RESERVED_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'PWD',
  'OLDPWD',
  'TMPDIR',
  'TEMP',
  'TMP',
  'TERM',
  'TZ',
  'LANG',
  'LANGUAGE',
  'HOSTNAME',
  'IFS',
  'ENV',
  'BASH_ENV',
  'CDPATH',
  'PORT',
  'HOST',
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_ENV',
  'NODE_EXTRA_CA_CERTS',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  'NODE_REPL_EXTERNAL_MODULE',
  'UV_THREADPOOL_SIZE',
  'PYTHONPATH',
  'PYTHONSTARTUP',
  'PYTHONHOME',
  'PERL5LIB',
  'PERL5OPT',
  'RUBYOPT',
  'RUBYLIB',
  'JAVA_TOOL_OPTIONS',
  'JDK_JAVA_OPTIONS',
  '_JAVA_OPTIONS',
  'CLASSPATH',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'TENANT_ID',
  'TENANT_NAME',
  'TENANT_PLAN',
  'TENANT_ENV',
  'DATA_DIR',
  'SECRETS_KEY',
  'TASKS_SECRET',
]);

/** Prefixes owned by the loader, runtimes, Google Cloud, Firebase and the platform itself. */
const RESERVED_PREFIXES = [
  'LD_',
  'DYLD_',
  'NODE_',
  'NPM_',
  'npm_',
  'GLIBC_',
  'MALLOC_',
  'LC_',
  'XDG_',
  'SSH_',
  'GIT_',
  'K_',
  'GOOGLE_',
  'GCLOUD_',
  'GCP_',
  'CLOUDSDK_',
  'CLOUD_RUN_',
  'FIREBASE_',
  'FIRESTORE_',
  'FUNCTION_',
  'GAE_',
  'KUBERNETES_',
  'FLY_',
  'TP_',
  'TENANTPLANE_',
  'TASKS_',
  'PLATFORM_',
];

/** The rule in words, for the 400 answer. */
export const SECRET_NAME_RULE =
  'Secret names match ^[A-Z][A-Z0-9_]{0,63}$ (e.g. GEMINI_API_KEY), are not a name the runtime reads ' +
  '(PATH, HOME, PORT, NODE_OPTIONS, …) and do not start with a reserved prefix (LD_, NODE_, K_, GOOGLE_, FIREBASE_, CLOUD_RUN_, TP_, …).';

/** Why a name is refused, or undefined when it is allowed. */
export function secretNameProblem(name: string): string | undefined {
  if (!SECRET_NAME_PATTERN.test(name)) return `"${name.slice(0, 80)}" does not match ^[A-Z][A-Z0-9_]{0,63}$`;
  if (RESERVED_NAMES.has(name)) return `${name} is reserved for the runtime or the platform`;
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return `names starting with ${prefix} are reserved for the runtime or the platform`;
  return undefined;
}

/** True when a tenant may use `name` for a secret. */
export const isAllowedSecretName = (name: string) => secretNameProblem(name) === undefined;
