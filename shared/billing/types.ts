/**
 * The billing port: a cost source yields cost rows for a range of days, the
 * aggregator sums them per tenant, service and day. Two sources: the Cloud
 * Billing export in BigQuery (bigquery.ts) and metered local usage (metered.ts).
 */
import { validationFailed } from '../errors.ts';

/** One amount of cost: a tenant (null = no tenant label), a service, a UTC day. */
export interface CostRow {
  /** YYYY-MM-DD (UTC). */
  day: string;
  /** Value of the `tenantplane-tenant-id` label; null when the resource carried none. */
  tenantId: string | null;
  service: string;
  /** ISO 4217, e.g. USD. */
  currency: string;
  /** Cost plus credits (credits are negative), in currency units. */
  amount: number;
}

/** A closed range of UTC days, both ends included. */
export interface DayRange {
  from: string;
  to: string;
}

export interface CostSource {
  /** `bigquery` or `metered`; stored on every cost document. */
  readonly name: string;
  /** Streams the rows of every day in the range; rows of one (day, tenant, service) may repeat and are summed. */
  rows(range: DayRange): AsyncIterable<CostRow>;
}

/** Cost document of one tenant and day: `tenants/{id}/costs/{day}` (and `billing/unattributed/costs/{day}`). */
export interface DailyCost {
  day: string;
  currency: string;
  total: number;
  services: Record<string, number>;
  source: string;
  updatedAt: string;
}

/** The label Cloud Billing rows carry for a tenant's resources (runtime drivers set it on everything). */
export const TENANT_LABEL = 'tenantplane-tenant-id';

/** The Cloud Billing export table: project (letters, digits, dashes, optionally `domain:`), dataset, table. */
export const EXPORT_TABLE_PATTERN =
  /^(?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]\.[A-Za-z_][A-Za-z0-9_]{0,1023}\.[A-Za-z_][A-Za-z0-9_-]{0,1023}$/;

/** The most days one request may aggregate or read. */
export const MAX_RANGE_DAYS = 92;

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** True for a real calendar day written YYYY-MM-DD (2024-02-30 is not). */
export function isDay(value: unknown): value is string {
  if (typeof value !== 'string' || !DAY.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/** The UTC day of a time. */
export function toDay(time: Date | number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/** The day `n` days after `day` (negative: before). */
export function addDays(day: string, n: number): string {
  return toDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
}

/** Every day of the range, in order. */
export function listDays(range: DayRange): string[] {
  const days: string[] = [];
  for (let day = range.from; day <= range.to; day = addDays(day, 1)) days.push(day);
  return days;
}

/**
 * Checks a requested range: both ends real days, from ≤ to, at most `maxDays` long.
 * Missing ends default to `fallback`. Throws 400 `validation_failed` naming the bad field.
 */
export function parseDayRange(input: { from?: unknown; to?: unknown }, fallback: DayRange, maxDays = MAX_RANGE_DAYS): DayRange {
  const fields: Record<string, string> = {};
  for (const key of ['from', 'to'] as const) {
    const value = input[key];
    if (value !== undefined && value !== null && value !== '' && !isDay(value)) fields[key] = 'must be a day written YYYY-MM-DD';
  }
  const from = isDay(input.from) ? input.from : fallback.from;
  const to = isDay(input.to) ? input.to : fallback.to;
  if (Object.keys(fields).length === 0) {
    if (from > to) fields.from = `must not be after to (${to})`;
    else if ((Date.parse(to) - Date.parse(from)) / DAY_MS + 1 > maxDays) fields.to = `the range may cover at most ${maxDays} days`;
  }
  if (Object.keys(fields).length > 0) {
    const summary = Object.entries(fields)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ');
    throw validationFailed(`The date range is not valid: ${summary}.`, { fields });
  }
  return { from, to };
}

/** Rounds money to micro-units so sums of many floats store cleanly. */
export function roundMoney(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
