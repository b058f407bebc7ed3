/**
 * Billing and plans endpoints (R-BILL-3, R-PLANS-1):
 * - `GET /api/v1/tenants/:id/billing?from=&to=` (owner or admin): daily costs, default the last 30 days.
 * - `GET /api/v1/plans` (public): the plan catalogue from config.
 * - `POST /api/v1/checkout {plan, name?}` (signed in): a hosted checkout URL from the payment provider.
 * - `POST /api/v1/webhooks/:provider` (public, signature-verified): subscription events.
 */
import { signedIn, type ApiRoute } from '../route.ts';
import { readTenantCosts } from '../../../shared/billing/index.ts';
import { createPaymentProvider, type PaymentProvider } from '../../../shared/billing/payments/index.ts';
import { handleWebhookEvent } from '../../../shared/billing/payments/webhooks.ts';
import { addDays, parseDayRange, toDay } from '../../../shared/billing/types.ts';
import type { Deps } from '../../../shared/deps.ts';
import { AppError, validationFailed } from '../../../shared/errors.ts';
import type { TenantService } from '../../../shared/tenants/types.ts';

export interface BillingServices {
  tenants: TenantService;
  /** Payment providers by name; default from config (tests inject drivers pointed at fakes). */
  payments?: (name: string) => PaymentProvider;
}

const TENANT_NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;

function parseCheckout(body: Record<string, unknown>, planIds: string[]): { plan: string; name?: string } {
  const fields: Record<string, string> = {};
  const unknown = Object.keys(body).filter((k) => k !== 'plan' && k !== 'name');
  for (const key of unknown) fields[key] = 'unknown field';
  if (typeof body.plan !== 'string' || !planIds.includes(body.plan)) fields.plan = `must be one of ${planIds.join(', ')}`;
  if (body.name !== undefined && (typeof body.name !== 'string' || !TENANT_NAME.test(body.name))) {
    fields.name = 'use 3–30 lowercase letters, digits or dashes, starting with a letter';
  }
  if (Object.keys(fields).length > 0) {
    throw validationFailed(
      `The request is not valid: ${Object.entries(fields)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}.`,
      { fields },
    );
  }
  return { plan: body.plan as string, name: body.name as string | undefined };
}

/** The billing routes; `services.tenants` authorizes tenant access (ownership) as everywhere else. */
export function billingRoutes(deps: Deps, services: BillingServices): ApiRoute[] {
  const billing = () => deps.config.billing;
  const providers = new Map<string, PaymentProvider>();
  const provider = (name: string) => {
    let found = providers.get(name);
    if (!found) providers.set(name, (found = services.payments?.(name) ?? createPaymentProvider(name, billing())));
    return found;
  };

  return [
    {
      method: 'GET',
      path: '/api/v1/tenants/:id/billing',
      action: 'tenants.billing',
      handler: async (ctx, principal) => {
        const today = toDay(deps.now());
        const query = { from: ctx.url.searchParams.get('from') ?? undefined, to: ctx.url.searchParams.get('to') ?? undefined };
        const range = parseDayRange(query, { from: addDays(query.to ?? today, -29), to: today });
        const tenant = await services.tenants.get(signedIn(principal), ctx.params.id);
        return { body: await readTenantCosts(deps.db, tenant.id, range, billing().priceSheet.currency) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/plans',
      action: 'plans.read',
      handler: async () => {
        const { plans, payments } = billing();
        return {
          body: {
            provider: payments.provider,
            plans: plans.map((plan) => ({
              ...plan,
              purchasable: plan.priceMonthly > 0 && Boolean(plan.providerPrices[payments.provider]),
            })),
          },
          headers: { 'Cache-Control': 'public, max-age=300' },
        };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/checkout',
      action: 'checkout.create',
      handler: async (ctx, principal) => {
        const caller = signedIn(principal);
        const { plans, payments } = billing();
        const input = parseCheckout(
          await ctx.json(),
          plans.map((p) => p.id),
        );
        const plan = plans.find((p) => p.id === input.plan)!;
        if (plan.priceMonthly === 0)
          throw validationFailed(`The ${plan.id} plan is free and needs no checkout: launch a tenant on it directly.`, {
            fields: { plan: 'free plan' },
          });
        const priceId = plan.providerPrices[payments.provider];
        if (!priceId)
          throw new AppError(
            'unavailable',
            `The ${plan.id} plan has no ${payments.provider} price id yet: set ${payments.provider.toUpperCase()}_PRICE_${plan.id.toUpperCase()} or PLANS.`,
          );
        const checkout = await provider(payments.provider).createCheckout({
          plan: plan.id,
          priceId,
          uid: caller.uid,
          email: caller.email,
          name: input.name,
        });
        return { status: 200, body: { url: checkout.url, id: checkout.id, provider: payments.provider, plan: plan.id } };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/webhooks/:provider',
      action: 'webhooks.receive',
      handler: async (ctx) => {
        const driver = provider(ctx.params.provider);
        // The signature covers the exact bytes sent: verify those, never a re-serialized JSON.
        const raw = await ctx.raw();
        driver.verify(raw, (name) => ctx.header(name), deps.now().getTime());
        const event = driver.parseEvent(raw);
        const outcome = await handleWebhookEvent(
          {
            db: deps.db,
            now: deps.now,
            log: ctx.log,
            tenants: services.tenants,
            plans: billing().plans,
            eventTtlDays: billing().payments.eventTtlDays,
          },
          event,
        );
        return { status: 200, body: outcome };
      },
    },
  ];
}
