/**
 * Structured JSON logs in the Cloud Logging format (one object per line with
 * `severity` and `message`). Fields whose names look secret are redacted, so a
 * token or secret value passed by mistake never reaches the log.
 */

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line (e.g. requestId). */
  child(fields: LogFields): Logger;
}

const SECRET_KEY = /(token|secret|password|authorization|apikey|api_key|cookie|credential|signature|privatekey)/i;
const rank = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/** Replaces values under secret-looking keys with "[redacted]", recursively. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && v !== undefined && typeof v !== 'boolean' ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

/** Path segments that carry a bearer secret (one-time credentials, activation and confirmation tokens). */
const SECRET_PATH = /(\/(?:credentials|activate|tokens?|confirm(?:ations?)?)\/)[^/]+/gi;

/** A request path fit for the logs: tokens carried in the path are replaced by "[redacted]". */
export const redactPath = (pathname: string): string => pathname.replace(SECRET_PATH, '$1[redacted]');

/**
 * Builds a logger that writes one JSON line per entry, dropping entries below
 * `level` and adding `fields` to each. `write` is injectable so tests read the
 * lines; it defaults to stdout, where Cloud Logging picks them up.
 */
export function createLogger(options: { level?: keyof typeof rank; write?: (line: string) => void; fields?: LogFields } = {}): Logger {
  const min = rank[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const base = options.fields ?? {};
  const emit = (level: keyof typeof rank, severity: Severity, message: string, fields?: LogFields) => {
    if (rank[level] < min) return;
    const entry = redact({ ...base, ...fields }) as LogFields;
    if (fields?.err instanceof Error)
      entry.err = { message: fields.err.message, stack: fields.err.stack, cause: String((fields.err as Error).cause ?? '') };
    write(JSON.stringify({ severity, message, time: new Date().toISOString(), ...entry }));
  };
  return {
    debug: (m, f) => emit('debug', 'DEBUG', m, f),
    info: (m, f) => emit('info', 'INFO', m, f),
    warn: (m, f) => emit('warn', 'WARNING', m, f),
    error: (m, f) => emit('error', 'ERROR', m, f),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}
