/**
 * Turns action results into text for people: a one-line summary the chat says
 * and a display block the page renders. Values come from tenant data, so they
 * are printed, never interpreted.
 */
import type { EnvironmentMetrics, LogLine } from '../runtime/types.ts';
import type { EnvironmentRecord, Tenant } from '../tenants/types.ts';
import type { BillingTotals } from './ports.ts';

export interface Formatted {
  summary: string;
  display: string;
}

function siteLine(t: Tenant): string {
  const urls = Object.entries(t.urls ?? {})
    .map(([env, url]) => `${env}: ${url}`)
    .join(', ');
  return `• ${t.name} (${t.id}) — ${t.state}, ${t.plan}, ${t.environments.join('/')}${urls ? ` — ${urls}` : ''}`;
}

export function formatCreated(t: Tenant): Formatted {
  return {
    summary: `Created tenant ${t.name} (${t.id}); provisioning ${t.environments.join(', ')} has started.`,
    display: siteLine(t),
  };
}

export function formatList(tenants: Tenant[], more: boolean): Formatted {
  if (tenants.length === 0) return { summary: 'You have no tenants yet. Say "create a tenant called shop" to make one.', display: '' };
  const n = tenants.length;
  return {
    summary: `${n}${more ? '+' : ''} tenant${n === 1 ? '' : 's'}:`,
    display: tenants.map(siteLine).join('\n') + (more ? '\n… more tenants exist; the Tenants page lists them all.' : ''),
  };
}

export function formatStatus(t: Tenant, environments: EnvironmentRecord[]): Formatted {
  const lines = environments.map((e) => `• ${e.env}: ${e.status}${e.url ? ` — ${e.url}` : ''}${e.error ? ` — ${e.error.message}` : ''}`);
  return {
    summary: `${t.name} is ${t.state}.${t.error ? ` Last error: ${t.error.message}` : ''}`,
    display: [`${t.name} (${t.id}) — ${t.state}, image ${t.image}`, ...lines].join('\n'),
  };
}

export function formatLogs(t: Tenant, env: string, lines: LogLine[]): Formatted {
  if (lines.length === 0) return { summary: `No log lines from ${t.name} ${env} yet.`, display: '' };
  return {
    summary: `The last ${lines.length} log line${lines.length === 1 ? '' : 's'} of ${t.name} ${env}:`,
    display: lines.map((l) => `${l.time} [${l.stream}] ${l.text}`).join('\n'),
  };
}

function bytes(n: number): string {
  return n >= 1_048_576 ? `${(n / 1_048_576).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`;
}

export function formatMetrics(t: Tenant, metrics: Partial<Record<string, EnvironmentMetrics | null>>): Formatted {
  const lines = Object.entries(metrics).map(([env, m]) =>
    m
      ? `• ${env}: CPU ${(m.cpu * 100).toFixed(1)}%, memory ${bytes(m.memoryBytes)}${m.requests !== undefined ? `, ${m.requests} requests` : ''}, up ${Math.round(m.uptimeSeconds)} s`
      : `• ${env}: not running`,
  );
  return { summary: `Current metrics of ${t.name}:`, display: lines.join('\n') || 'No environments report metrics.' };
}

export function formatBilling(t: Tenant, totals: BillingTotals): Formatted {
  const money = (v: number) => `${v.toFixed(2)} ${totals.currency}`;
  const services = Object.entries(totals.byService ?? {}).map(([s, v]) => `• ${s}: ${money(v)}`);
  return {
    summary: `${t.name} cost ${money(totals.total)} from ${totals.from} to ${totals.to}.`,
    display: services.join('\n'),
  };
}

export function formatOperation(verb: string, t: Tenant): Formatted {
  return { summary: `${verb} ${t.name} (${t.id}); it is now ${t.state}.`, display: siteLine(t) };
}
