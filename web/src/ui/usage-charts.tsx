/**
 * Costs and metrics history of a tenant as charts (recharts): cost per day by
 * service over the last 30 days, and per environment the requests per minute,
 * memory and CPU the runtime driver reported, one point per sampled minute.
 * Loaded only when a tenant is opened (tenants.tsx imports it lazily), so the
 * list itself does not pay for the chart library. Each chart is a figure whose
 * caption says what it shows and whose text alternative lists the points.
 */
import { useEffect, useState } from 'react';
import { EnvOptions } from './env-options.tsx';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import { ENV_LABELS, tenantPath, type EnvName, type Tenant } from '../lib/tenants.ts';
import { Notice, Spinner } from './controls.tsx';

interface Billing {
  currency: string;
  total: number;
  from: string;
  to: string;
  days: { day: string; total: number; services: Record<string, number> }[];
}

interface Sample {
  minute: string;
  cpu: number;
  memoryBytes: number;
  requests?: number;
  sampledAt: string;
}

/** Colours that keep 3:1 contrast against white (WCAG 1.4.11 for graphics). */
const SERIES = ['#1d4ed8', '#b45309', '#047857', '#7c3aed', '#be123c', '#0f766e'];

export default function UsageCharts({ tenant }: { tenant: Tenant }) {
  return (
    <>
      <CostHistory tenant={tenant} />
      <MetricsHistory tenant={tenant} />
    </>
  );
}

function CostHistory({ tenant }: { tenant: Tenant }) {
  const [billing, setBilling] = useState<Billing | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api<Billing>(`${tenantPath(tenant.id)}/billing`).then(setBilling, (err) => setError(describeError(err)));
  }, [tenant.id]);
  const money = (v: number) =>
    new Intl.NumberFormat(undefined, { style: 'currency', currency: billing?.currency ?? 'USD', maximumFractionDigits: 4 }).format(v);
  const services = billing ? [...new Set(billing.days.flatMap((d) => Object.keys(d.services)))].sort() : [];
  const data = billing?.days.map((d) => ({ day: d.day.slice(5), ...d.services })) ?? [];
  return (
    <section aria-labelledby={`costs-${tenant.id}`} className="space-y-3">
      <h3 id={`costs-${tenant.id}`} className="font-semibold">
        Costs
      </h3>
      {error && <Notice kind="error">{error}</Notice>}
      {!billing && !error && <Spinner label="Loading costs…" />}
      {billing && (
        <>
          <p className="text-sm">
            {billing.from} to {billing.to}: <strong>{money(billing.total)}</strong>
          </p>
          {data.length === 0 ? (
            <p className="text-sm text-slate-600">No costs recorded in this period yet.</p>
          ) : (
            <ChartFigure
              name="Cost per day"
              caption={`Cost per day by service, ${billing.from} to ${billing.to}`}
              summary={billing.days.map((d) => `${d.day} ${money(d.total)}`).join(', ')}
              points={data.length}
            >
              <BarChart accessibilityLayer={false} data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} />
                <XAxis dataKey="day" tick={{ fontSize: 11 }} />
                <YAxis tick={{ fontSize: 11 }} width={56} tickFormatter={(v: number) => money(v)} />
                <Tooltip formatter={(v) => money(Number(v))} />
                <Legend wrapperStyle={{ fontSize: 12 }} />
                {services.map((s, i) => (
                  <Bar key={s} dataKey={s} stackId="cost" fill={SERIES[i % SERIES.length]} isAnimationActive={false} />
                ))}
              </BarChart>
            </ChartFigure>
          )}
        </>
      )}
    </section>
  );
}

function MetricsHistory({ tenant }: { tenant: Tenant }) {
  const [env, setEnv] = useState<EnvName>(tenant.environments.includes('live') ? 'live' : tenant.environments[0]);
  const [samples, setSamples] = useState<Sample[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    setSamples(null);
    setError('');
    // Reading the current metrics records this minute's sample; then the last two hours are read back.
    api(`${tenantPath(tenant.id)}/metrics`)
      .catch(() => undefined)
      .then(() => api<{ samples: Sample[] }>(`${tenantPath(tenant.id)}/metrics/history?env=${env}&limit=120`))
      .then(
        (r) => setSamples([...r.samples].reverse()),
        (err) => setError(describeError(err)),
      );
  }, [tenant.id, env]);
  const points = (samples ?? []).map((s, i, all) => {
    const prev = all[i - 1];
    const minutes = prev ? (Date.parse(s.sampledAt) - Date.parse(prev.sampledAt)) / 60_000 : 0;
    // Requests are cumulative since the environment started: the difference per minute, none across a restart.
    const perMinute =
      prev && s.requests !== undefined && prev.requests !== undefined && minutes > 0 && s.requests >= prev.requests
        ? Math.round(((s.requests - prev.requests) / minutes) * 10) / 10
        : null;
    return {
      time: `${s.minute.slice(8, 10)}:${s.minute.slice(10, 12)}`,
      requests: perMinute,
      memory: Math.round((s.memoryBytes / 1_048_576) * 10) / 10,
      cpu: Math.round(s.cpu * 1000) / 10,
    };
  });
  const hasRequests = (samples ?? []).some((s) => s.requests !== undefined);
  const series = (key: 'requests' | 'memory' | 'cpu') => points.map((p) => `${p.time} ${p[key] ?? '–'}`).join(', ') || 'no samples';
  return (
    <section aria-labelledby={`metrics-${tenant.id}`} className="space-y-3">
      <div className="flex flex-wrap items-end gap-2">
        <h3 id={`metrics-${tenant.id}`} className="mr-auto font-semibold">
          Metrics <span className="text-xs font-normal text-slate-600">one point per sampled minute</span>
        </h3>
        <label className="text-sm">
          <span className="sr-only">Metrics environment</span>
          <select className="input" value={env} onChange={(e) => setEnv(e.target.value as EnvName)}>
            <EnvOptions tenant={tenant} />
          </select>
        </label>
      </div>
      {error && <Notice kind="error">{error}</Notice>}
      {!samples && !error && <Spinner label="Loading metrics…" />}
      {samples && samples.length === 0 && <p className="text-sm text-slate-600">No samples of {ENV_LABELS[env]} yet.</p>}
      {samples && samples.length > 0 && (
        <div className="grid grid-cols-1 gap-4">
          {hasRequests ? (
            <MetricChart
              name={`Requests per minute, ${ENV_LABELS[env]}`}
              data={points}
              dataKey="requests"
              unit=""
              color={SERIES[0]}
              summary={series('requests')}
            />
          ) : (
            <p className="text-sm text-slate-600">The {tenant.driver ?? 'runtime'} driver does not report request counts.</p>
          )}
          <MetricChart
            name={`Memory (MB), ${ENV_LABELS[env]}`}
            data={points}
            dataKey="memory"
            unit=" MB"
            color={SERIES[2]}
            summary={series('memory')}
          />
          <MetricChart
            name={`CPU (% of a core), ${ENV_LABELS[env]}`}
            data={points}
            dataKey="cpu"
            unit=" %"
            color={SERIES[1]}
            summary={series('cpu')}
          />
        </div>
      )}
    </section>
  );
}

function MetricChart(props: {
  name: string;
  data: { time: string; requests: number | null; memory: number; cpu: number }[];
  dataKey: 'requests' | 'memory' | 'cpu';
  unit: string;
  color: string;
  summary: string;
}) {
  const points = props.data.filter((p) => p[props.dataKey] !== null).length;
  return (
    <ChartFigure name={props.name} caption={props.name} summary={props.summary} points={points}>
      <LineChart accessibilityLayer={false} data={props.data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="time" tick={{ fontSize: 11 }} minTickGap={16} />
        <YAxis tick={{ fontSize: 11 }} width={44} allowDecimals />
        <Tooltip formatter={(v) => `${v}${props.unit}`} />
        <Line
          type="monotone"
          dataKey={props.dataKey}
          stroke={props.color}
          strokeWidth={2}
          dot={{ r: 2.5 }}
          connectNulls={false}
          isAnimationActive={false}
        />
      </LineChart>
    </ChartFigure>
  );
}

/** A chart as a figure: the caption names it, `data-points` says how many points it drew, the label lists them for screen readers. */
function ChartFigure(props: { name: string; caption: string; summary: string; points: number; children: React.ReactElement }) {
  return (
    <figure className="min-w-0" data-chart={props.name} data-points={props.points}>
      <div role="img" aria-label={`${props.name}: ${props.summary}`} className="h-44 w-full">
        <ResponsiveContainer width="100%" height="100%">
          {props.children}
        </ResponsiveContainer>
      </div>
      <figcaption className="mt-1 text-xs text-slate-600">{props.caption}</figcaption>
    </figure>
  );
}
