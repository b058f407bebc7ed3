import type { z as Z } from 'zod';
import { lazySchema } from '../../shared/zod-lib.ts';
import { AppError } from '../../shared/errors.ts';
import type { Migration } from '../../shared/store/signups.ts';

/** RFC 5321 caps a forward-path at 256 octets including the brackets: 254 for the address. */
export const MAX_EMAIL_LENGTH = 254;
export const MIGRATIONS = ['fresh', 'enhance', 'full'] as const satisfies readonly Migration[];

export interface SignupInput {
  email: string;
  name?: string;
  company?: string;
  plan?: string;
  migration: Migration;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

const text = (z: typeof Z, field: string, max: number) =>
  z
    .string({ error: `${field} must be a string.` })
    .trim()
    .max(max, { error: `${field} must be at most ${max} characters.` })
    .refine((v) => !CONTROL.test(v), { error: `${field} must not contain control characters (line breaks, tabs).` })
    .transform((v) => v || undefined);

const migration = lazySchema((z) => z.enum(MIGRATIONS, { error: `migration must be one of ${MIGRATIONS.join(', ')}.` }));

/**
 * The body of POST /api/signup. Unknown fields are rejected (not ignored), so
 * a typo like "emial" is reported instead of silently signing up without it.
 */
const schema = lazySchema((z) =>
  z.strictObject({
    email: z
      .string({ error: 'email is required and must be a string like "ada@example.com".' })
      .trim()
      .toLowerCase()
      .max(MAX_EMAIL_LENGTH, { error: `email must be at most ${MAX_EMAIL_LENGTH} characters.` })
      .pipe(z.email({ error: 'email must be an address like "ada@example.com".' })),
    name: text(z, 'name', 100).optional(),
    company: text(z, 'company', 100).optional(),
    plan: z
      .string({ error: 'plan must be a string.' })
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { error: 'plan must be a plan id: lowercase letters, digits and dashes, at most 32.' })
      .optional(),
    migration: migration().optional(),
  }),
);

/**
 * Validates a signup; `migration` may come in the body or as `?migration=`
 * (if both, they must agree). Throws `400 validation_failed` with one message
 * per field in `details.fields`.
 */
export function parseSignupInput(body: Record<string, unknown>, query: URLSearchParams): SignupInput {
  const fields: Record<string, string> = {};
  const fromQuery = query.get('migration');
  let queryMigration: Migration | undefined;
  if (fromQuery !== null) {
    const parsed = migration().safeParse(fromQuery);
    if (parsed.success) queryMigration = parsed.data;
    else fields.migration = `The migration query parameter must be one of ${MIGRATIONS.join(', ')}.`;
  }
  const result = schema().safeParse(body);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) fields[key] ??= `is not a known field; send only email, name, company, plan, migration.`;
      } else {
        fields[String(issue.path[0] ?? 'body')] ??= issue.message;
      }
    }
  } else if (queryMigration && result.data.migration && queryMigration !== result.data.migration) {
    fields.migration = 'migration is given in the body and the query with different values; send it once.';
  }
  if (Object.keys(fields).length > 0 || !result.success) {
    const names = Object.keys(fields).join(', ');
    throw new AppError('validation_failed', `The signup is not valid: check ${names}.`, { fields });
  }
  const { email, name, company, plan } = result.data;
  return { email, name, company, plan, migration: result.data.migration ?? queryMigration ?? 'fresh' };
}
