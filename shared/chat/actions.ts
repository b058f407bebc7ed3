/**
 * The chat's actions (SPEC R-CHAT-1/2): one zod schema per action is the single
 * source of truth. The server validates the model's arguments with it, and the
 * Gemini function declarations are generated from it, so the two cannot drift.
 * The schemas are built on first use (`actionSchemas()`), so loading this
 * module does not load zod (see shared/zod-lib.ts).
 */
import type { FunctionDeclaration, Schema } from '@google/genai';
import type { z } from 'zod';
import type { Role } from '../auth/principal.ts';
import { lazySchema, zod } from '../zod-lib.ts';

const ENVS = ['demo', 'test', 'live'] as const;

/**
 * Every action's name, in the order the model is offered them. Written out so
 * that listing or checking names does not build the schemas; the `satisfies`
 * on the schemas below fails `tsc` if this list and their keys differ.
 */
export const ACTION_NAMES = [
  'CREATE_SITE',
  'LIST_SITES',
  'GET_STATUS',
  'GET_LOGS',
  'GET_METRICS',
  'GET_BILLING',
  'SUSPEND_SITE',
  'RESUME_SITE',
  'DEPLOY',
  'DELETE_SITE',
  'LIST_BACKUPS',
  'CREATE_BACKUP',
  'RESTORE_BACKUP',
  'ROLLOUT_RELEASE',
] as const;

/** Each action's argument schema, built on first call; `.describe()` texts become the model's tool documentation. */
export const actionSchemas = lazySchema((z) => {
  const site = z.string().trim().min(1).max(64).describe('The site: its name (e.g. "shop") or its tenant id (e.g. "t-abcde12345").');
  const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'use a date like 2026-11-01');
  return {
    CREATE_SITE: z
      .object({
        name: z
          .string()
          .trim()
          .toLowerCase()
          .regex(/^[a-z][a-z0-9-]{1,28}[a-z0-9]$/, 'use 3–30 lowercase letters, digits or dashes, starting with a letter')
          .describe('Name of the new site: 3–30 lowercase letters, digits or dashes, starting with a letter.'),
        environments: z.array(z.enum(ENVS)).min(1).max(3).optional().describe('Environments to create; default: those of the plan.'),
        plan: z.string().trim().min(1).max(40).optional().describe('Plan name, e.g. "free", "starter" or "pro".'),
      })
      .strict()
      .describe('Create a new site (tenant) owned by the user and start provisioning it. Needs confirmation.'),
    LIST_SITES: z.object({}).strict().describe('List the sites the user can manage, with their state.'),
    GET_STATUS: z.object({ site }).strict().describe('Show the state of a site and of each of its environments.'),
    GET_LOGS: z
      .object({
        site,
        env: z.enum(ENVS).optional().describe('Environment to read; default live.'),
        limit: z.number().int().min(1).max(200).optional().describe('How many recent lines, 1–200; default 50.'),
      })
      .strict()
      .describe('Show recent log lines of a site environment.'),
    GET_METRICS: z.object({ site }).strict().describe('Show current CPU, memory and request counts of a site.'),
    GET_BILLING: z
      .object({
        site,
        from: isoDate.optional().describe('First day, YYYY-MM-DD; default the first day of this month.'),
        to: isoDate.optional().describe('Last day, YYYY-MM-DD; default today.'),
      })
      .strict()
      .describe('Show what a site cost over a date range.'),
    SUSPEND_SITE: z
      .object({ site })
      .strict()
      .describe('Suspend a site: scale every environment to zero, keeping all data. Needs confirmation.'),
    RESUME_SITE: z.object({ site }).strict().describe('Resume a suspended site on the same URL. Needs confirmation.'),
    DEPLOY: z
      .object({
        site,
        image: z
          .string()
          .trim()
          .min(3)
          .max(300)
          .regex(/^[a-z0-9][a-z0-9._\-/:]*[a-z0-9_-]$/i, 'must be a container image reference like registry/repository:tag')
          .describe(
            "Container image to deploy; it must be in the site's own repository, <registry>/tp-<tenantId>/<name>:<tag>, or the default image.",
          ),
      })
      .strict()
      .describe('Deploy a new image to every environment of a site. Needs confirmation.'),
    DELETE_SITE: z.object({ site }).strict().describe('Delete a site and every resource it owns. Needs confirmation.'),
    LIST_BACKUPS: z.object({ site }).strict().describe("List a site's database backups (id, environment, status, size, date)."),
    CREATE_BACKUP: z
      .object({ site, env: z.enum(ENVS).optional().describe('Environment to back up; default every one with a database.') })
      .strict()
      .describe("Back up a site's databases now."),
    RESTORE_BACKUP: z
      .object({
        site,
        backup: z
          .string()
          .trim()
          .toLowerCase()
          .regex(/^[a-z0-9-]{1,64}$/, 'a backup id as LIST_BACKUPS shows it, e.g. "b20261130101500-ab12-live"')
          .describe('The backup id, as LIST_BACKUPS shows it.'),
        env: z.enum(ENVS).optional().describe("Where to restore: the backup's own environment (default), or test for a live backup."),
      })
      .strict()
      .describe('Restore a database backup, replacing every change since it; the environment restarts. Needs confirmation.'),
    ROLLOUT_RELEASE: z
      .object({
        release: z
          .string()
          .trim()
          .toLowerCase()
          .regex(/^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$/, 'a release name such as "v2.1.0"')
          .describe('Name of an existing release, e.g. "v2".'),
        plan: z.string().trim().min(1).max(40).optional().describe('Only tenants on this plan; default: all tenants.'),
      })
      .strict()
      .describe(
        'Admins: roll a release out to all tenants (or those of one plan) in waves, canary first. Shown as a plan and needs confirmation.',
      ),
  } as const satisfies Record<(typeof ACTION_NAMES)[number], z.ZodType>;
});

export type ActionName = keyof ReturnType<typeof actionSchemas>;
export type ActionArgs<A extends ActionName = ActionName> = z.output<ReturnType<typeof actionSchemas>[A]>;

/** Actions that change or replace state (create, suspend, resume, deploy, delete, restore): run only after the user confirms that exact call. Reads, and a new backup (it replaces nothing), run at once. */
export const CONFIRMED_ACTIONS: ReadonlySet<ActionName> = new Set<ActionName>([
  'CREATE_SITE',
  'SUSPEND_SITE',
  'RESUME_SITE',
  'DEPLOY',
  'DELETE_SITE',
  'RESTORE_BACKUP',
  'ROLLOUT_RELEASE',
]);

/**
 * Which actions each role may use. Ownership is separate (the tenants service
 * checks it on every call); this table decides what the model is even offered.
 * An admin-only action is added by listing it under `admin` only.
 */
export const ROLE_ACTIONS: Record<Role, readonly ActionName[]> = {
  admin: ACTION_NAMES,
  tenant: [
    'CREATE_SITE',
    'LIST_SITES',
    'GET_STATUS',
    'GET_LOGS',
    'GET_METRICS',
    'GET_BILLING',
    'SUSPEND_SITE',
    'RESUME_SITE',
    'DEPLOY',
    'DELETE_SITE',
    'LIST_BACKUPS',
    'CREATE_BACKUP',
    'RESTORE_BACKUP',
  ],
};

export function isActionName(name: string): name is ActionName {
  return (ACTION_NAMES as readonly string[]).includes(name);
}

export function allowedActions(role: Role): readonly ActionName[] {
  return ROLE_ACTIONS[role] ?? [];
}

export function needsConfirmation(action: ActionName): boolean {
  return CONFIRMED_ACTIONS.has(action);
}

// Gemini declarations -------------------------------------------------------

type JsonSchema = {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
};

const GEMINI_TYPES: Record<string, Schema['type']> = {
  string: 'STRING' as Schema['type'],
  number: 'NUMBER' as Schema['type'],
  integer: 'INTEGER' as Schema['type'],
  boolean: 'BOOLEAN' as Schema['type'],
  array: 'ARRAY' as Schema['type'],
  object: 'OBJECT' as Schema['type'],
};

/**
 * Maps JSON Schema (as zod emits it) to the OpenAPI subset Gemini's
 * `FunctionDeclaration.parameters` accepts: upper-case types, int64 bounds as
 * strings, and no `$schema`/`additionalProperties`, which the API rejects.
 */
export function toGeminiSchema(json: JsonSchema): Schema {
  const type = Array.isArray(json.type) ? json.type.find((t) => t !== 'null') : json.type;
  const out: Schema = {};
  if (type) {
    const mapped = GEMINI_TYPES[type];
    if (!mapped) throw new Error(`Cannot express JSON Schema type "${type}" as a Gemini parameter schema.`);
    out.type = mapped;
  }
  if (json.description) out.description = json.description;
  if (json.enum) out.enum = json.enum.map(String);
  if (json.pattern) out.pattern = json.pattern;
  if (json.format) out.format = json.format;
  if (json.minimum !== undefined) out.minimum = json.minimum;
  if (json.maximum !== undefined) out.maximum = json.maximum;
  if (json.minLength !== undefined) out.minLength = String(json.minLength);
  if (json.maxLength !== undefined) out.maxLength = String(json.maxLength);
  if (json.minItems !== undefined) out.minItems = String(json.minItems);
  if (json.maxItems !== undefined) out.maxItems = String(json.maxItems);
  if (json.items) out.items = toGeminiSchema(json.items);
  if (json.properties) {
    out.properties = Object.fromEntries(Object.entries(json.properties).map(([k, v]) => [k, toGeminiSchema(v)]));
    out.propertyOrdering = Object.keys(json.properties);
  }
  if (json.required?.length) out.required = json.required;
  return out;
}

/** The function declarations for one role, generated from the action schemas: the model is offered nothing else. */
export function functionDeclarations(role: Role): FunctionDeclaration[] {
  const schemas = actionSchemas();
  return allowedActions(role).map((name) => {
    const json = zod().z.toJSONSchema(schemas[name], { io: 'input' }) as JsonSchema;
    const { description, ...rest } = json;
    const declaration: FunctionDeclaration = { name, description };
    if (rest.properties && Object.keys(rest.properties).length > 0) declaration.parameters = toGeminiSchema(rest);
    return declaration;
  });
}
