import type { Deps } from '../../shared/deps.ts';
import { AppError } from '../../shared/errors.ts';
import { createRouter } from '../../shared/http/router.ts';
import type { Handler } from '../../shared/http/wrap.ts';
import { verifyTaskRequest } from '../../shared/queue/verify.ts';
import { runOperation } from '../../shared/tenants/worker.ts';
import { sweepOperations } from '../../shared/tenants/operation-sweep.ts';
import { checkEnvironmentHealth } from '../../shared/tenants/health-check.ts';
import { sweepDeletedTenants } from '../../shared/tenants/grace.ts';
import { runRolloutStep } from '../../shared/releases/worker.ts';
import { createBackupsService } from '../../shared/tenants/backups.ts';

/**
 * The Cloud Tasks target that runs tenant operations. 2xx acknowledges the
 * task (done, stale or permanently failed); 503 asks Cloud Tasks to retry.
 * `POST /tasks/rollout` runs one step of a release rollout (shared/releases/worker.ts).
 * `POST /tasks/provision-sweep` (Cloud Scheduler, every minute) enqueues the
 * operations' tasks that never reached the queue (operation-sweep.ts), and
 * reminds owners of deleted tenants and drops their data once the grace period is over (grace.ts).
 */
export function createProvisionHandler(deps: Deps): Handler {
  return createRouter([
    {
      method: 'POST',
      path: '/tasks/provision',
      handler: async (ctx) => {
        const task = await verifyTaskRequest(ctx, deps.config, 'provision');
        const body = await ctx.json();
        if (typeof body.tenantId !== 'string' || !Number.isInteger(body.generation)) {
          throw new AppError('validation_failed', 'A provision task carries {tenantId, generation} (and its operation, op).');
        }
        const op = typeof body.op === 'string' ? body.op : undefined;
        const outcome = await runOperation(deps, { tenantId: body.tenantId, generation: body.generation as number, op }, task);
        return { body: { outcome } };
      },
    },
    {
      // Cloud Scheduler, nightly: a backup of every ready tenant's databases (R-DATA-2).
      method: 'POST',
      path: '/tasks/backups-nightly',
      handler: async (ctx) => {
        await verifyTaskRequest(ctx, deps.config, 'provision');
        return { body: await createBackupsService(deps).nightly() };
      },
    },
    {
      method: 'POST',
      path: '/tasks/rollout',
      handler: async (ctx) => {
        await verifyTaskRequest(ctx, deps.config, 'provision');
        const body = await ctx.json();
        if (typeof body.rolloutId !== 'string' || !Number.isInteger(body.step)) {
          throw new AppError('validation_failed', 'A rollout task carries {rolloutId, step}.');
        }
        return { body: { outcome: await runRolloutStep(deps, { rolloutId: body.rolloutId, step: body.step as number }) } };
      },
    },
    {
      method: 'POST',
      path: '/tasks/provision-sweep',
      handler: async (ctx) => {
        await verifyTaskRequest(ctx, deps.config, 'provision');
        const swept = await sweepOperations(deps);
        // Environments the runtime reports failed are recorded and their owners mailed (shared/tenants/health-check.ts).
        const health = await checkEnvironmentHealth(deps).catch((err) => {
          ctx.log.warn('environment health check failed', { err });
          return undefined;
        });
        // Deleted tenants: the reminder a day before their grace period ends, then their data dropped.
        return { body: { ...swept, health, grace: await sweepDeletedTenants(deps) } };
      },
    },
  ]);
}
