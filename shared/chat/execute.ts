/**
 * The model proposes, the server decides (SPEC R-CHAT-2): arguments are
 * validated with the action's schema, the site is resolved through the tenants
 * service (which checks ownership), destructive actions wait for a
 * confirmation bound to that exact call, and everything runs through the same
 * service layer as the REST API. Nothing here trusts the prompt.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import { AppError, toAppError, type ErrorBody } from '../errors.ts';
import type { Logger } from '../log.ts';
import { requireDeployableImage } from '../tenants/registry.ts';
import { checkCanStart, type OperationName } from '../tenants/operations.ts';
import type { Tenant, TenantService } from '../tenants/types.ts';
import { actionSchemas, allowedActions, isActionName, needsConfirmation, type ActionName } from './actions.ts';
import { recordAudit } from '../audit/store.ts';
import { claimConfirmation, createConfirmation, type Confirmation } from './confirmations.ts';
import * as fmt from './format.ts';
import type { BillingPort } from './ports.ts';

export type ActionOutcome =
  | { kind: 'result'; action: ActionName; args: Record<string, unknown>; summary: string; display: string; data: unknown }
  | { kind: 'confirmation_required'; action: ActionName; confirmation: Confirmation; summary: string }
  /** Not allowed, or a site the caller cannot see: one message for both so existence never leaks. */
  | { kind: 'refused'; action: string; code: 'not_found' | 'forbidden'; summary: string }
  | { kind: 'invalid'; action: string; summary: string; details?: Record<string, unknown> }
  | { kind: 'failed'; action: string; summary: string; error: ErrorBody['error'] };

/** Rollouts for the chat's admin action; the releases service authorizes every call (admins only). */
export interface RolloutPort {
  /** A summary of what the rollout would do (waves, skipped tenants), without starting it. */
  describe(p: Principal, body: Record<string, unknown>): Promise<string>;
  start(p: Principal, body: Record<string, unknown>): Promise<{ id: string; state: string; waves: unknown[] }>;
}

/** Database backups for the chat's backup actions; the backups service authorizes every call. */
export interface BackupsPort {
  list(
    p: Principal,
    id: string,
  ): Promise<Array<{ id: string; env: string; kind: string; status: string; createdAt: string; sizeBytes?: number }>>;
  create(p: Principal, id: string, input: { env?: unknown }): Promise<{ tenant: Tenant; backups: string[] }>;
  restore(p: Principal, id: string, backupId: string, input: { env?: unknown; confirm?: unknown }): Promise<Tenant>;
}

export interface ExecutorDeps {
  db: Firestore;
  tenants: TenantService;
  rollouts?: RolloutPort;
  backups?: BackupsPort;
  billing: BillingPort;
  config: Pick<Config, 'registry' | 'chat'> & Partial<Pick<Config, 'audit'>>;
  log: Logger;
  now: () => Date;
}

export interface ActionExecutor {
  /** Validates and either runs the action or, for destructive ones, returns a confirmation. */
  propose(p: Principal, conversationId: string, name: string, rawArgs: unknown): Promise<ActionOutcome>;
  /** Claims a confirmation (JSON errors before any streaming: 404/409/410) and returns the bound action. */
  claim(p: Principal, conversationId: string, confirmationId: string): Promise<Confirmation>;
  /** Runs a claimed confirmation's action. */
  /** Runs a claimed confirmation's action and records it in the audit trail under `requestId`. */
  runConfirmed(p: Principal, confirmation: Confirmation, requestId?: string): Promise<ActionOutcome>;
}

const VERBS: Partial<Record<ActionName, string>> = {
  DELETE_SITE: 'Delete',
  SUSPEND_SITE: 'Suspend',
  RESUME_SITE: 'Resume',
  DEPLOY: 'Deploy to',
};

/** The operation an action starts, checked against the site's state before anyone is asked to confirm. */
const OPERATIONS: Partial<Record<ActionName, OperationName>> = {
  SUSPEND_SITE: 'suspend',
  RESUME_SITE: 'resume',
  DEPLOY: 'deploy',
  DELETE_SITE: 'delete',
  RESTORE_BACKUP: 'restore',
};

function firstOfMonth(now: Date): string {
  return `${now.toISOString().slice(0, 7)}-01`;
}

/**
 * Builds what runs the chat's actions: it needs the tenants service (which
 * authorizes every call), billing, the store for confirmations, config, a
 * logger and a clock. The model only proposes; this decides, so nothing a
 * prompt says can skip validation, ownership checks or confirmation.
 */
export function createActionExecutor(deps: ExecutorDeps): ActionExecutor {
  const { tenants } = deps;
  const rolloutPort = () => {
    if (!deps.rollouts) throw new AppError('not_supported', 'Rollouts are not available in this chat.');
    return deps.rollouts;
  };
  const backupsPort = () => {
    if (!deps.backups) throw new AppError('not_supported', 'Backups are not available in this chat.');
    return deps.backups;
  };
  const rolloutBody = (args: Record<string, unknown>) => ({ release: args.release, target: args.plan ? { plan: args.plan } : 'all' });
  const notYours = (action: string, site: string): ActionOutcome => ({
    kind: 'refused',
    action,
    code: 'not_found',
    summary: `I can't find a tenant called "${site}" among the tenants you can manage.`,
  });

  /** Every error becomes an outcome the user can read; bugs are logged and stay generic. */
  function failure(action: string, err: unknown, site?: string): ActionOutcome {
    const error = toAppError(err);
    if (site && (error.code === 'not_found' || error.code === 'forbidden')) return notYours(action, site);
    if (error.status >= 500) deps.log.error('chat action failed', { action, err: error.cause ?? error });
    return { kind: 'failed', action, summary: error.message, error: error.toBody().error };
  }

  async function run(p: Principal, action: ActionName, args: Record<string, unknown>, tenant?: Tenant): Promise<ActionOutcome> {
    const result = (f: fmt.Formatted, data: unknown): ActionOutcome => ({ kind: 'result', action, args, ...f, data });
    const t = tenant as Tenant;
    switch (action) {
      case 'CREATE_SITE': {
        const created = await tenants.create(p, args as { name: string });
        return result(fmt.formatCreated(created), created);
      }
      case 'LIST_SITES': {
        const page = await tenants.list(p, { pageSize: 50 });
        return result(fmt.formatList(page.items, Boolean(page.nextPageToken)), page.items);
      }
      case 'GET_STATUS': {
        const status = await tenants.status(p, t.id);
        return result(fmt.formatStatus(status.tenant, status.environments), status);
      }
      case 'GET_LOGS': {
        const env = (args.env as string | undefined) ?? 'live';
        const lines = await tenants.logs(p, t.id, { env, limit: (args.limit as number | undefined) ?? 50 });
        return result(fmt.formatLogs(t, env, lines), lines);
      }
      case 'GET_METRICS': {
        const metrics = await tenants.metrics(p, t.id);
        return result(fmt.formatMetrics(t, metrics), metrics);
      }
      case 'GET_BILLING': {
        const now = deps.now();
        const range = { from: (args.from as string) ?? firstOfMonth(now), to: (args.to as string) ?? now.toISOString().slice(0, 10) };
        if (range.from > range.to) throw new AppError('validation_failed', `The range starts (${range.from}) after it ends (${range.to}).`);
        const totals = await deps.billing.totals(p, t.id, range);
        return result(fmt.formatBilling(t, totals), totals);
      }
      case 'SUSPEND_SITE':
        return result(fmt.formatOperation('Suspending', await tenants.suspend(p, t.id)), null);
      case 'RESUME_SITE':
        return result(fmt.formatOperation('Resuming', await tenants.resume(p, t.id)), null);
      case 'DEPLOY':
        return result(fmt.formatOperation(`Deploying ${args.image} to`, await tenants.deploy(p, t.id, args.image as string)), null);
      case 'DELETE_SITE':
        return result(fmt.formatOperation('Deleting', await tenants.remove(p, t.id)), null);
      case 'LIST_BACKUPS': {
        const list = await backupsPort().list(p, t.id);
        const lines = list.map(
          (b) =>
            `• ${b.id} — ${b.env}, ${b.kind}, ${b.status}${b.sizeBytes === undefined ? '' : `, ${b.sizeBytes} bytes`}, ${b.createdAt.slice(0, 16).replace('T', ' ')} UTC`,
        );
        const summary = list.length ? `Backups of ${t.name}:\n${lines.join('\n')}` : `${t.name} has no backups yet.`;
        return result({ summary, display: summary }, list);
      }
      case 'CREATE_BACKUP': {
        const made = await backupsPort().create(p, t.id, args.env ? { env: args.env } : {});
        const summary = `Backing up ${t.name}: ${made.backups.join(', ')}. "backups of ${t.name}" shows them once stored.`;
        return result({ summary, display: summary }, made.backups);
      }
      case 'RESTORE_BACKUP': {
        const restored = await backupsPort().restore(p, t.id, args.backup as string, { env: args.env, confirm: true });
        return result(fmt.formatOperation(`Restoring backup ${args.backup} into`, restored), null);
      }
      case 'ROLLOUT_RELEASE': {
        const rollout = await rolloutPort().start(p, rolloutBody(args));
        const summary = `Rollout ${rollout.id} of ${args.release} is ${rollout.state}, in ${rollout.waves.length} wave(s); follow it on the portal's rollouts page or with \`tenantplane rollouts watch ${rollout.id}\`.`;
        return result({ summary, display: summary }, rollout);
      }
    }
  }

  return {
    async propose(p, conversationId, name, rawArgs) {
      if (!isActionName(name) || !allowedActions(p.role).includes(name)) {
        return { kind: 'refused', action: name, code: 'forbidden', summary: `"${name}" is not an action you can use here.` };
      }
      const parsed = actionSchemas()[name].safeParse(rawArgs ?? {});
      if (!parsed.success) {
        const fields = Object.fromEntries(parsed.error.issues.map((i) => [i.path.join('.') || '(arguments)', i.message]));
        const text = Object.entries(fields)
          .map(([k, v]) => `${k}: ${v}`)
          .join('; ');
        return { kind: 'invalid', action: name, summary: `I can't run ${name}: ${text}.`, details: { fields } };
      }
      const args = { ...parsed.data } as Record<string, unknown>;
      let tenant: Tenant | undefined;
      if (typeof args.site === 'string') {
        try {
          tenant = await tenants.resolve(p, args.site);
        } catch (err) {
          return failure(name, err, args.site);
        }
      }
      if (name === 'DEPLOY' && tenant) {
        // R-DEPLOY-1's rule, checked before the confirmation so nobody is asked to confirm a deploy that must fail.
        try {
          requireDeployableImage(deps.config, tenant.id, args.image);
        } catch (err) {
          const message = (err as Error).message;
          return { kind: 'invalid', action: name, summary: message, details: { fields: { image: message } } };
        }
      }
      if (needsConfirmation(name)) {
        const operation = OPERATIONS[name];
        if (tenant && operation) {
          try {
            checkCanStart(tenant, operation);
          } catch (err) {
            return failure(name, err);
          }
        }
        // Bind to the tenant id, not the name: a site re-created under the same name is a different site.
        const bound = tenant ? { ...args, site: tenant.id, siteName: tenant.name } : args;
        if (name === 'RESTORE_BACKUP' && tenant) {
          // Everything but the confirmation is checked now (the backup, its state, the target): nobody confirms a restore that must fail.
          try {
            await backupsPort().restore(p, tenant.id, args.backup as string, { env: args.env, confirm: false });
          } catch (err) {
            const error = toAppError(err);
            if (!(error.code === 'validation_failed' && error.details?.field === 'confirm')) return failure(name, err);
          }
        }
        let plan: string | undefined;
        if (name === 'ROLLOUT_RELEASE') {
          // Shown as a plan first: a rollout that cannot start (no release, no tenant) fails here, before anyone confirms.
          try {
            plan = await rolloutPort().describe(p, rolloutBody(args));
          } catch (err) {
            return failure(name, err);
          }
        }
        const summary = plan
          ? plan
          : name === 'RESTORE_BACKUP' && tenant
            ? `Restore ${args.env ?? String(args.backup).split('-').at(-1)} of ${tenant.name} (${tenant.id}) from backup ${args.backup} — every change since that backup is replaced, and the environment restarts.`
            : tenant
              ? `${VERBS[name]} ${tenant.name} (${tenant.id})${name === 'DEPLOY' ? ` with image ${args.image}` : ''}${name === 'DELETE_SITE' ? ' — every environment stops; its data is kept for the grace period, then deleted for good' : ''}.`
              : `Create the tenant ${args.name}${args.plan ? ` on the ${args.plan} plan` : ''}${args.environments ? ` with ${(args.environments as string[]).join(', ')}` : ''}.`;
        const confirmation = await createConfirmation(deps.db, {
          uid: p.uid,
          conversationId,
          action: name,
          args: bound,
          summary,
          now: deps.now(),
          ttlSeconds: deps.config.chat.confirmationTtlSeconds,
        });
        return { kind: 'confirmation_required', action: name, confirmation, summary: `Please confirm: ${summary}` };
      }
      try {
        return await run(p, name, args, tenant);
      } catch (err) {
        return failure(name, err);
      }
    },

    claim(p, conversationId, confirmationId) {
      return claimConfirmation(deps.db, { uid: p.uid, conversationId, id: confirmationId, now: deps.now() });
    },

    async runConfirmed(p, confirmation, requestId = confirmation.id) {
      const { action, args } = confirmation;
      const named = args.siteName ?? args.site ?? args.name;
      const site = named === undefined ? undefined : String(named);
      let outcome: ActionOutcome;
      let tenant: Tenant | undefined;
      try {
        // Resolved again by id so ownership is checked at execution time, not only when proposed.
        tenant = args.site === undefined ? undefined : await tenants.resolve(p, String(args.site));
        outcome = await run(p, action, args, tenant);
      } catch (err) {
        outcome = failure(action, err, site);
      }
      // Every change the chat makes is in the audit trail like one made through the API (R-AUDIT-1).
      const created = outcome.kind === 'result' && action === 'CREATE_SITE' ? (outcome.data as Tenant | undefined) : undefined;
      const targetId = tenant?.id ?? created?.id;
      const error = 'error' in outcome ? outcome.error : undefined;
      await recordAudit(
        deps.db,
        {
          actorId: p.uid,
          actorEmail: p.email ?? undefined,
          actorRole: p.role,
          source: 'chat',
          action,
          target: action === 'ROLLOUT_RELEASE' ? { type: 'platform' } : { type: 'tenant', id: targetId },
          ownerId: tenant?.ownerId ?? created?.ownerId,
          requestId,
          // A refusal is the not-found answer a stranger gets; a failure carries its own error.
          outcome:
            outcome.kind === 'result'
              ? { status: 202 }
              : error
                ? { status: new AppError(error.code, error.message).status, code: error.code }
                : { status: 404, code: 'not_found' },
        },
        deps.now(),
        deps.config.audit?.retentionDays,
      ).catch((err: unknown) => deps.log.warn('audit entry not written', { err, action }));
      return outcome;
    },
  };
}
