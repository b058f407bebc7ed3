/**
 * Readers of single environment variables for parseConfig and its section
 * parsers. Each one either returns the value in its type or throws
 * ConfigError naming the variable, what is wrong, and an example value, so a
 * bad setting fails the start and says how to fix it.
 */

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

export function str(env: Env, name: string, fallback?: string): string {
  const value = env[name]?.trim();
  if (value) return value;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(name, 'is required but not set.');
}

export function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

export function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}" (example: ${fallback}).`);
  }
  return value;
}

/** Like {@link int}, for values that may have a fraction (prices, tolerances). */
export function number(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(name, `must be a number from ${min} to ${max}, got "${raw}" (example: ${fallback}).`);
  }
  return value;
}

/** The parsed JSON of the variable, or undefined when unset; the caller checks its shape. */
export function json(env: Env, name: string, example: string): unknown {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new ConfigError(name, `must be JSON, got "${raw.slice(0, 60)}" (example: ${example}).`);
  }
}

export function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = optional(env, name) ?? fallback;
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}".`);
  }
  return raw as T;
}

export function url(env: Env, name: string, fallback: string): string {
  const raw = str(env, name, fallback);
  try {
    const parsed = new URL(raw.replace('{name}', 'x'));
    if (!['http:', 'https:', 'smtp:', 'smtps:'].includes(parsed.protocol)) throw new Error('protocol');
  } catch {
    throw new ConfigError(name, `must be a URL, got "${raw}" (example: ${fallback}).`);
  }
  return raw.replace(/\/+$/, '');
}

export function hostPort(env: Env, name: string): string | undefined {
  const raw = optional(env, name);
  if (raw && !/^[\w.-]+:\d{1,5}$/.test(raw)) throw new ConfigError(name, `must be host:port, got "${raw}" (example: 127.0.0.1:8081).`);
  return raw;
}

export function list(env: Env, name: string): string[] {
  return (optional(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function portRange(env: Env, name: string, fallback: string): { from: number; to: number } {
  const raw = str(env, name, fallback);
  const match = /^(\d+)-(\d+)$/.exec(raw);
  const from = Number(match?.[1]);
  const to = Number(match?.[2]);
  if (!match || from < 1024 || to > 65535 || from > to) {
    throw new ConfigError(name, `must be a range like ${fallback} within 1024-65535, got "${raw}".`);
  }
  return { from, to };
}

export function uidRange(env: Env, name: string, fallback: string): { from: number; to: number } {
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
export function devDefault(env: Env, mode: Mode, name: string, devValue: string, example: string): string {
  const value = optional(env, name);
  if (value) return value;
  if (mode === 'production') throw new ConfigError(name, `is required in production (example: ${example}).`);
  return devValue;
}
