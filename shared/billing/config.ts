/**
 * Billing, plans and payment settings, parsed from the environment as part of
 * parseConfig (shared/config.ts) with its readers (shared/config/readers.ts).
 * Bad values fail the start with the variable's name and an example; webhook
 * secrets and API keys are kept here and nowhere else.
 */
import { ConfigError, json, number, optional, type Env, type Mode } from '../config/readers.ts';
import { PLAN_DEFAULTS, planDefaults } from '../tenants/plans.ts';
import { ENV_NAMES, MEMORY_SIZES } from '../tenants/types.ts';
import { EXPORT_TABLE_PATTERN } from './types.ts';

/** Prices of the metered local runtime (R-BILL-2), in `currency`. */
export interface PriceSheet {
  currency: string;
  /** Per second an instance runs (any size). */
  instanceSecond: number;
  /** Per GiB of memory limit per second of running (memoryMb / 1024 × seconds). */
  gibSecond: number;
  /** Per million requests served. */
  millionRequests: number;
}

/** One plan as `GET /api/v1/plans` shows it. Prices are in the smallest unit of `currency` per month. */
export interface Plan {
  id: string;
  name: string;
  /** The environments a tenant on this plan gets by default, and the only ones it may have. */
  environments: string[];
  /** Memory of a new tenant by default (MiB). */
  memoryMb: number;
  /** The largest memory a tenant on this plan may have (MiB). */
  maxMemoryMb: number;
  /** How many tenants one user may have on this plan. */
  tenants: number;
  /** Monthly price; a plan with a price needs an active subscription (402 until then). */
  priceMonthly: number;
  currency: string;
  /** The price ids at each payment provider; a plan without one cannot be bought there. */
  providerPrices: { stripe?: string; paddle?: string };
}

export type PaymentProviderName = 'stripe' | 'paddle';

export interface BillingConfig {
  /** Where daily costs come from: the Cloud Billing export (production) or metered local usage. */
  source: 'bigquery' | 'metered';
  /**
   * `project.dataset.gcp_billing_export_v1_XXXXXX_XXXXXX_XXXXXX`; required when source is bigquery, checked
   * when billing-aggregate starts (requireExportTable) so functions that never read costs need not set it.
   */
  exportTable?: string;
  /** BigQuery REST endpoint override (tests point it at the fake). */
  bigqueryEndpoint?: string;
  /** The export dataset's location (`BILLING_EXPORT_LOCATION`, e.g. `EU`); a query run elsewhere fails with "Not found: Dataset". Default US. */
  exportLocation?: string;
  priceSheet: PriceSheet;
  /** How often the sampler reads usage of running environments (seconds). */
  sampleSeconds: number;
  plans: Plan[];
  payments: {
    provider: PaymentProviderName;
    successUrl: string;
    cancelUrl: string;
    /** How long processed webhook event ids are kept for deduplication (Firestore TTL on `expiresAt`). */
    eventTtlDays: number;
    stripe: { apiKey?: string; apiBase: string; webhookSecrets: string[]; toleranceSeconds: number };
    paddle: { apiKey?: string; apiBase: string; webhookSecret?: string; toleranceSeconds: number };
  };
}

/**
 * Defaults of the price sheet: roughly Cloud Run's on-demand list prices
 * (per vCPU-second ≈ 0.000024, per GiB-second ≈ 0.0000025, per million requests 0.40 USD),
 * so local numbers look like what production would charge.
 */
export const DEFAULT_PRICE_SHEET: PriceSheet = { currency: 'USD', instanceSecond: 0.000024, gibSecond: 0.0000025, millionRequests: 0.4 };

/** Monthly prices (cents) of the default plans; environments and memory come from the tenants' plan defaults. */
const DEFAULT_PRICES: Record<string, { name: string; priceMonthly: number }> = {
  free: { name: 'Free', priceMonthly: 0 },
  starter: { name: 'Starter', priceMonthly: 1900 },
  pro: { name: 'Pro', priceMonthly: 4900 },
};

function parsePriceSheet(env: Env): PriceSheet {
  const example = '{"currency":"USD","instanceSecond":0.000024,"gibSecond":0.0000025,"millionRequests":0.4}';
  const given = json(env, 'PRICE_SHEET', example);
  if (given === undefined) return DEFAULT_PRICE_SHEET;
  const sheet = { ...DEFAULT_PRICE_SHEET, ...(given as object) } as Record<string, unknown>;
  const bad = ['instanceSecond', 'gibSecond', 'millionRequests'].find((k) => typeof sheet[k] !== 'number' || (sheet[k] as number) < 0);
  if (bad || typeof sheet.currency !== 'string' || !/^[A-Z]{3}$/.test(sheet.currency)) {
    throw new ConfigError(
      'PRICE_SHEET',
      `needs a 3-letter currency and non-negative numbers ${bad ? `(bad: ${bad})` : ''} (example: ${example}).`,
    );
  }
  return sheet as unknown as PriceSheet;
}

function parsePlans(env: Env): Plan[] {
  const example = '[{"id":"starter","priceMonthly":1900,"tenants":3,"maxMemoryMb":1024,"providerPrices":{"stripe":"price_123"}}]';
  const given = json(env, 'PLANS', example) as Partial<Plan>[] | undefined;
  const stripe = (id: string) => optional(env, `STRIPE_PRICE_${id.toUpperCase()}`);
  const paddle = (id: string) => optional(env, `PADDLE_PRICE_${id.toUpperCase()}`);
  const entries: Partial<Plan>[] = given ?? Object.keys(PLAN_DEFAULTS).map((id) => ({ id }));
  if (!Array.isArray(entries) || entries.length === 0)
    throw new ConfigError('PLANS', `must be a non-empty JSON array (example: ${example}).`);
  return entries.map((entry) => {
    const id = String(entry?.id ?? '');
    const defaults = planDefaults(id);
    if (!defaults) throw new ConfigError('PLANS', `names plan "${id}", but tenants know only ${Object.keys(PLAN_DEFAULTS).join(', ')}.`);
    const price = entry.priceMonthly ?? DEFAULT_PRICES[id]?.priceMonthly ?? 0;
    if (!Number.isInteger(price) || price < 0)
      throw new ConfigError('PLANS', `priceMonthly of "${id}" must be a whole number of cents (example: ${example}).`);
    const plan = {
      id,
      name: entry.name ?? DEFAULT_PRICES[id]?.name ?? id,
      environments: entry.environments ?? [...defaults.environments],
      memoryMb: entry.memoryMb ?? defaults.memoryMb,
      maxMemoryMb: entry.maxMemoryMb ?? defaults.maxMemoryMb,
      tenants: entry.tenants ?? defaults.tenants,
      priceMonthly: price,
      currency: entry.currency ?? 'USD',
      providerPrices: { stripe: entry.providerPrices?.stripe ?? stripe(id), paddle: entry.providerPrices?.paddle ?? paddle(id) },
    };
    checkLimits(plan, example);
    return plan;
  });
}

/** A plan's limits must describe something the tenants service can create. */
function checkLimits(plan: Plan, example: string): void {
  const sizes = MEMORY_SIZES as readonly number[];
  const problem =
    !Array.isArray(plan.environments) ||
    plan.environments.length === 0 ||
    plan.environments.some((e) => !(ENV_NAMES as readonly string[]).includes(e))
      ? `environments must be a non-empty list of ${ENV_NAMES.join(', ')}`
      : !sizes.includes(plan.maxMemoryMb)
        ? `maxMemoryMb must be one of ${sizes.join(', ')}`
        : !sizes.includes(plan.memoryMb) || plan.memoryMb > plan.maxMemoryMb
          ? `memoryMb must be one of ${sizes.join(', ')} and at most maxMemoryMb`
          : !Number.isInteger(plan.tenants) || plan.tenants < 0
            ? 'tenants must be a whole number of tenants per user (0 or more)'
            : undefined;
  if (problem) throw new ConfigError('PLANS', `plan "${plan.id}": ${problem} (example: ${example}).`);
}

/** The billing part of the config; see {@link BillingConfig}. */
export function parseBillingConfig(env: Env, base: { mode: Mode; publicUrl: string }): BillingConfig {
  const source = optional(env, 'BILLING_SOURCE') ?? (base.mode === 'production' ? 'bigquery' : 'metered');
  if (source !== 'bigquery' && source !== 'metered')
    throw new ConfigError('BILLING_SOURCE', `must be one of bigquery, metered, got "${source}".`);
  const exportTable = optional(env, 'BILLING_EXPORT_TABLE');
  if (exportTable && !EXPORT_TABLE_PATTERN.test(exportTable)) {
    throw new ConfigError(
      'BILLING_EXPORT_TABLE',
      `must be project.dataset.table, got "${exportTable}" (example: my-project.billing.gcp_billing_export_v1_010101_F0FFF0_10X10X).`,
    );
  }
  const provider = optional(env, 'PAYMENT_PROVIDER') ?? 'stripe';
  if (provider !== 'stripe' && provider !== 'paddle')
    throw new ConfigError('PAYMENT_PROVIDER', `must be one of stripe, paddle, got "${provider}".`);
  return {
    source,
    exportTable,
    bigqueryEndpoint: optional(env, 'BIGQUERY_API_ENDPOINT'),
    exportLocation: optional(env, 'BILLING_EXPORT_LOCATION'),
    priceSheet: parsePriceSheet(env),
    sampleSeconds: number(env, 'USAGE_SAMPLE_SECONDS', 60, 1, 3600),
    plans: parsePlans(env),
    payments: {
      provider,
      successUrl: optional(env, 'CHECKOUT_SUCCESS_URL') ?? `${base.publicUrl}/portal.html?checkout=success`,
      cancelUrl: optional(env, 'CHECKOUT_CANCEL_URL') ?? `${base.publicUrl}/portal.html?checkout=canceled`,
      eventTtlDays: number(env, 'WEBHOOK_EVENT_TTL_DAYS', 30, 1, 400),
      stripe: {
        apiKey: optional(env, 'STRIPE_API_KEY'),
        apiBase: (optional(env, 'STRIPE_API_BASE') ?? 'https://api.stripe.com').replace(/\/+$/, ''),
        webhookSecrets: (optional(env, 'STRIPE_WEBHOOK_SECRETS') ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        toleranceSeconds: 300,
      },
      paddle: {
        apiKey: optional(env, 'PADDLE_API_KEY'),
        apiBase: (optional(env, 'PADDLE_API_BASE') ?? 'https://api.paddle.com').replace(/\/+$/, ''),
        webhookSecret: optional(env, 'PADDLE_WEBHOOK_SECRET'),
        toleranceSeconds: number(env, 'PADDLE_TOLERANCE_SECONDS', 5, 1, 3600),
      },
    },
  };
}

/** Fails the start of a cost-reading function when the bigquery source has no table, naming the variable. */
export function requireExportTable(billing: BillingConfig): void {
  if (billing.source === 'bigquery' && !billing.exportTable) {
    throw new ConfigError(
      'BILLING_EXPORT_TABLE',
      'is required when BILLING_SOURCE is bigquery (example: my-project.billing.gcp_billing_export_v1_010101_F0FFF0_10X10X).',
    );
  }
}
