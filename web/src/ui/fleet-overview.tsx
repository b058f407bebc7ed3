/**
 * The portal's fleet overview: tenants by state, environments failing now
 * (each linked to its tenant), launches per day and costs per day over the
 * last 30 days, drawn with recharts; each chart has its figures as a table too
 * (for screen readers and for copying).
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import { Badge, Notice, Spinner, formatTime } from './controls.tsx';

interface FleetOverview {
  generatedAt: string;
  tenantsByState: Record<string, number>;
  failing: { total: number; environments: { tenantId: string; env: string; error?: { code: string; message: string }; since: string }[] };
  launchesPerDay: { day: string; launches: number }[];
  costsPerDay: { day: string; total: number | null; currency: string | null }[];
}

const BRAND = '#4f46e5';

export function FleetOverviewPanel() {
  const [data, setData] = useState<FleetOverview | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api<FleetOverview>('/api/v1/fleet').then(setData, (err) => setError(describeError(err)));
  }, []);
  if (error) return <Notice kind="error">{error}</Notice>;
  if (!data) return <Spinner label="Loading the fleet overview…" />;
  const states = Object.entries(data.tenantsByState).map(([state, count]) => ({ state, count }));
  const currency = data.costsPerDay.find((d) => d.currency)?.currency ?? 'USD';
  const money = (v: number) => new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 2 }).format(v);
  const costs = data.costsPerDay.map((d) => ({ day: d.day.slice(5), total: d.total ?? 0 }));
  const launches = data.launchesPerDay.map((d) => ({ day: d.day.slice(5), launches: d.launches }));
  return (
    <div className="grid gap-6 lg:grid-cols-2">
      <ChartCard title="Tenants by state" id="fleet-states">
        <ResponsiveContainer width="100%" height={220}>
          <BarChart data={states} margin={{ left: -20, right: 8 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="state" tick={{ fontSize: 11 }} interval={0} />
            <YAxis allowDecimals={false} tick={{ fontSize: 11 }} />
            <Tooltip />
            <Bar dataKey="count" name="Tenants" fill={BRAND} isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
        <FigureTable caption="Tenants by state" head={['State', 'Tenants']} rows={states.map((s) => [s.state, String(s.count)])} />
      </ChartCard>
      <section aria-labelledby="fleet-failing" className="card">
        <h2 id="fleet-failing">Failing now</h2>
        {data.failing.total === 0 ? (
          <p className="mt-2 text-sm text-slate-600">No environment is failing.</p>
        ) : (
          <>
            <p className="mt-1 text-sm text-slate-600">
              {data.failing.total} environment{data.failing.total === 1 ? '' : 's'} failing
              {data.failing.total > data.failing.environments.length ? `; the ${data.failing.environments.length} most recent:` : ':'}
            </p>
            <ul className="mt-2 divide-y divide-slate-100 text-sm">
              {data.failing.environments.map((e) => (
                <li key={`${e.tenantId}/${e.env}`} className="py-2">
                  <a href={`/tenants.html?id=${e.tenantId}`}>
                    {e.tenantId} {e.env}
                  </a>{' '}
                  <Badge state="failed" label={e.error?.code ?? 'failed'} />
                  <span className="block text-xs text-slate-600">
                    since {formatTime(e.since)}
                    {e.error?.message ? ` — ${e.error.message}` : ''}
                  </span>
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
      <ChartCard title="Launches per day (last 30 days)" id="fleet-launches">
        <ResponsiveContainer width="100%" height={220}>
          <BarChart data={launches} margin={{ left: -20, right: 8 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="day" tick={{ fontSize: 11 }} minTickGap={12} />
            <YAxis allowDecimals={false} tick={{ fontSize: 11 }} />
            <Tooltip />
            <Bar dataKey="launches" name="Launches" fill={BRAND} isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
        <FigureTable
          caption="Launches per day"
          head={['Day', 'Launches']}
          rows={data.launchesPerDay.filter((d) => d.launches > 0).map((d) => [d.day, String(d.launches)])}
          empty="No launches in the last 30 days."
        />
      </ChartCard>
      <ChartCard title="Costs per day (last 30 days)" id="fleet-costs">
        <ResponsiveContainer width="100%" height={220}>
          <LineChart data={costs} margin={{ left: -10, right: 8 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="day" tick={{ fontSize: 11 }} minTickGap={12} />
            <YAxis tick={{ fontSize: 11 }} />
            <Tooltip formatter={(v) => money(Number(v))} />
            <Line type="monotone" dataKey="total" name="Cost" stroke={BRAND} dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
        <FigureTable
          caption="Costs per day"
          head={['Day', 'Cost']}
          rows={data.costsPerDay.filter((d) => d.total !== null).map((d) => [d.day, money(d.total ?? 0)])}
          empty="No costs recorded in the last 30 days (the nightly billing aggregation writes them)."
        />
      </ChartCard>
    </div>
  );
}

function ChartCard({ title, id, children }: { title: string; id: string; children: ReactNode }) {
  return (
    <section aria-labelledby={id} className="card">
      <h2 id={id}>{title}</h2>
      <div className="mt-3">{children}</div>
    </section>
  );
}

/** A chart's figures as a small table, folded away under "Figures". */
function FigureTable({ caption, head, rows, empty }: { caption: string; head: [string, string]; rows: string[][]; empty?: string }) {
  if (rows.length === 0) return <p className="mt-2 text-sm text-slate-600">{empty}</p>;
  return (
    <details className="mt-2 text-sm">
      <summary className="cursor-pointer text-slate-700">Figures</summary>
      <table className="mt-1 w-full text-left">
        <caption className="sr-only">{caption}</caption>
        <thead className="text-xs uppercase text-slate-600">
          <tr>
            <th scope="col">{head[0]}</th>
            <th scope="col">{head[1]}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r[0]}>
              <td>{r[0]}</td>
              <td>{r[1]}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
