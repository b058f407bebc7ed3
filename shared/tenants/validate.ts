import type { z } from 'zod';
import { validationFailed } from '../errors.ts';
import { lazySchema } from '../zod-lib.ts';
import { ENV_NAMES, MEMORY_SIZES } from './types.ts';

/** Tenant names: lowercase letters, digits and dashes, 3–30, starting with a letter (they appear in URLs and chat). */
const tenantName = lazySchema((z) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z][a-z0-9-]{1,28}[a-z0-9]$/, 'use 3–30 lowercase letters, digits or dashes, starting with a letter'),
);

const memoryMb = lazySchema((z) =>
  z
    .number()
    .int()
    .refine((v) => (MEMORY_SIZES as readonly number[]).includes(v), `must be one of ${MEMORY_SIZES.join(', ')}`),
);

export const createTenantSchema = lazySchema((z) =>
  z
    .object({
      name: tenantName(),
      environments: z
        .array(z.enum(ENV_NAMES as [string, ...string[]]))
        .min(1)
        .max(3)
        .refine((envs) => new Set(envs).size === envs.length, 'must not repeat an environment')
        .optional(),
      region: z
        .string()
        .regex(/^[a-z]+-[a-z]+\d+$/, 'must be a region like europe-west1')
        .optional(),
      /** Checked against the configured plans by the service. */
      plan: z.string().min(1).max(40).optional(),
      memoryMb: memoryMb().optional(),
      ownerId: z.string().min(1).max(128).optional(),
      driver: z.enum(['local', 'cloud-run', 'kubernetes', 'fly']).optional(),
    })
    .strict(),
);

export const updateTenantSchema = lazySchema((z) => z.object({ name: tenantName().optional(), memoryMb: memoryMb().optional() }).strict());

export const logsQuerySchema = lazySchema((z) =>
  z.object({
    env: z.enum(ENV_NAMES as [string, ...string[]]).optional(),
    since: z.string().datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  }),
);

/** Parses with a schema (built on first use, lazySchema) or throws a 400 `validation_failed` listing each bad field. */
export function parseInput<T>(schema: () => z.ZodType<T>, input: unknown): T {
  const result = schema().safeParse(input);
  if (result.success) return result.data;
  const fields: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const key = issue.path.join('.') || '(body)';
    fields[key] ??=
      issue.code === 'unrecognized_keys' ? `unknown field(s): ${(issue as { keys: string[] }).keys.join(', ')}` : issue.message;
  }
  const summary = Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  throw validationFailed(`The request is not valid: ${summary}.`, { fields });
}
