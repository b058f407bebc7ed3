/**
 * billing-aggregate (R-BILL-1, R-BILL-2): Cloud Scheduler calls it nightly with an
 * empty body (yesterday, UTC); admins call it on demand with `{from?, to?}`
 * (YYYY-MM-DD, at most 92 days). Requests come from the scheduler/task queue
 * (the shared task secret header) or carry an admin's bearer token.
 */
import { aggregateDays } from '../../shared/billing/aggregate.ts';
import { requireExportTable } from '../../shared/billing/config.ts';
import { createCostSource } from '../../shared/billing/index.ts';
import { addDays, parseDayRange, toDay, type CostSource, type DayRange } from '../../shared/billing/types.ts';
import { authorize } from '../../shared/auth/authorize.ts';
import { verifyBearer } from '../../shared/auth/principal.ts';
import type { Deps } from '../../shared/deps.ts';
import { validationFailed } from '../../shared/errors.ts';
import { methodNotAllowed, type Context, type Handler } from '../../shared/http/wrap.ts';
import { TASK_SECRET_HEADER } from '../../shared/queue/client.ts';
import { verifyTaskRequest } from '../../shared/queue/verify.ts';

export interface BillingAggregateOptions {
  /** The cost source; default from config (createCostSource). */
  source?: CostSource;
}

/** Scheduler/task requests carry the task secret; anyone else must be an admin. */
async function checkCaller(ctx: Context, deps: Deps): Promise<string> {
  if (ctx.header(TASK_SECRET_HEADER) !== undefined) {
    await verifyTaskRequest(ctx, deps.config, 'billing-aggregate');
    return 'scheduler';
  }
  const principal = await verifyBearer(ctx.header('authorization'), deps.auth);
  authorize(principal, 'billing.aggregate');
  return principal.uid;
}

/** The days to aggregate: the body's range, one day when only one end is given, else yesterday. */
export function requestedRange(body: Record<string, unknown>, now: Date): DayRange {
  const unknown = Object.keys(body).filter((k) => k !== 'from' && k !== 'to');
  if (unknown.length > 0)
    throw validationFailed(`Unknown field(s): ${unknown.join(', ')}; send {from?, to?} as YYYY-MM-DD.`, {
      fields: Object.fromEntries(unknown.map((k) => [k, 'unknown field'])),
    });
  const yesterday = addDays(toDay(now), -1);
  const one = (body.from ?? body.to) as string | undefined;
  const fallback = typeof one === 'string' ? { from: one, to: one } : { from: yesterday, to: yesterday };
  return parseDayRange(body, fallback);
}

/**
 * Builds the billing-aggregate function from the platform's deps. The cost
 * source comes from config unless `options.source` gives one (tests pass a
 * fake); without one, a missing BigQuery export table fails here, at start,
 * rather than at the first nightly run.
 */
export function createBillingAggregateHandler(deps: Deps, options: BillingAggregateOptions = {}): Handler {
  if (!options.source) requireExportTable(deps.config.billing);
  let source = options.source;
  return async (ctx) => {
    if (ctx.method !== 'POST') throw methodNotAllowed(ctx.method, ['POST']);
    const caller = await checkCaller(ctx, deps);
    const range = requestedRange(await ctx.json(), deps.now());
    source ??= createCostSource(deps.config, deps.db);
    ctx.log.info('billing aggregation requested', { caller, from: range.from, to: range.to, source: source.name });
    const result = await aggregateDays({ db: deps.db, now: deps.now, log: ctx.log }, { source, range });
    return { status: 200, body: result };
  };
}
