/**
 * The plan of a tenant in words (R-PLAN-1): its price, its limits, and the way
 * to a bigger one. Paid plans go through the payment provider's checkout
 * when it is set up; otherwise the page says whom to ask.
 */
import { useEffect, useState } from 'react';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import { Button } from './controls.tsx';
import type { Plan as ConfiguredPlan } from '../../../shared/billing/config.ts';

/** A plan as `GET /api/v1/plans` shows it: the configured plan, and whether it can be bought here. */
export type Plan = Omit<ConfiguredPlan, 'providerPrices'> & { purchasable?: boolean };

let plansPromise: Promise<Plan[]> | undefined;

/** The plan catalogue, fetched once per page. */
export function usePlans(): Plan[] | null {
  const [plans, setPlans] = useState<Plan[] | null>(null);
  useEffect(() => {
    plansPromise ??= api<{ plans: Plan[] }>('/api/v1/plans', { anonymous: true }).then(
      (r) => r.plans,
      () => [],
    );
    void plansPromise.then(setPlans);
  }, []);
  return plans;
}

export function formatPrice(plan: Plan): string {
  if (plan.priceMonthly === 0) return 'free';
  return `${new Intl.NumberFormat(undefined, { style: 'currency', currency: plan.currency || 'USD', maximumFractionDigits: 2 }).format(plan.priceMonthly / 100)}/month`;
}

/** "1 tenant, demo, test and live, up to 512 MB each". */
export function describeLimits(plan: Plan): string {
  const envs =
    plan.environments.length > 1
      ? `${plan.environments.slice(0, -1).join(', ')} and ${plan.environments.at(-1)}`
      : (plan.environments[0] ?? '');
  return `${plan.tenants} tenant${plan.tenants === 1 ? '' : 's'}, ${envs}, up to ${plan.maxMemoryMb} MB each`;
}

/** One line about a plan, with the bigger plans and how to get one. */
export function PlanSummary({ planId, plans, lead = 'Plan' }: { planId: string; plans: Plan[] | null; lead?: string }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState('');
  if (!plans || plans.length === 0) return null;
  const plan = plans.find((p) => p.id === planId);
  if (!plan)
    return (
      <p className="text-sm text-slate-600">
        {lead}: {planId}
      </p>
    );
  const bigger = plans.filter((p) => p.tenants > plan.tenants || p.maxMemoryMb > plan.maxMemoryMb);
  async function upgrade(target: Plan) {
    setBusy(target.id);
    setError('');
    try {
      location.assign((await api<{ url: string }>('/api/v1/checkout', { json: { plan: target.id } })).url);
    } catch (err) {
      setError(describeError(err));
      setBusy('');
    }
  }
  return (
    <div className="text-sm text-slate-600">
      <p>
        {lead}: <strong>{plan.name}</strong> ({formatPrice(plan)}): {describeLimits(plan)}.
      </p>
      {bigger.length > 0 && (
        <p className="mt-1 flex flex-wrap items-center gap-x-2 gap-y-1">
          Need more?
          {bigger.map((p) =>
            p.purchasable ? (
              <Button key={p.id} small variant="secondary" busy={busy === p.id} busyLabel="Opening checkout…" onClick={() => upgrade(p)}>
                {p.name}: {formatPrice(p)}
              </Button>
            ) : (
              <span key={p.id}>
                {p.name} ({formatPrice(p)}, {p.tenants} tenants);
              </span>
            ),
          )}
          {bigger.some((p) => !p.purchasable) && <span>ask your administrator to move you to a paid plan.</span>}
        </p>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
