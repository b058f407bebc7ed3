/** The "manage" sections of a tenant: deploy, secrets, logs and billing. */
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import { ENV_LABELS, tenantPath, type Tenant } from '../lib/tenants.ts';
import { BarChart } from './bar-chart.tsx';
import { Button, Field, Notice, Spinner, formatTime } from './controls.tsx';

/** Runs an async action with busy and error state; the error is shown in words. */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError('');
    try {
      await work();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

export function DeploySection({ tenant, onDeploy }: { tenant: Tenant; onDeploy: (image: string) => Promise<void> }) {
  const [image, setImage] = useState('');
  const { busy, error, run } = useAction();
  useEffect(() => {
    api<{ repository: string; tag: string }>(`${tenantPath(tenant.id)}/registry-token`).then((t) => setImage(`${t.repository}:${t.tag}`), () => setImage(tenant.image));
  }, [tenant.id]);
  return (
    <section aria-labelledby={`deploy-${tenant.id}`} className="space-y-3">
      <h3 id={`deploy-${tenant.id}`} className="font-semibold">Deploy</h3>
      <form className="flex flex-col gap-2 sm:flex-row sm:items-end" onSubmit={(e: FormEvent) => { e.preventDefault(); void run(() => onDeploy(image.trim())); }}>
        <Field className="flex-1" label="Image" value={image} onChange={(e) => setImage(e.target.value)} spellCheck={false} hint={`Push your build to this tag, or use the platform image ${tenant.image}.`} />
        <Button type="submit" busy={busy} busyLabel="Deploying…">Deploy</Button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
    </section>
  );
}

interface SecretMeta { key: string; origin: 'generated' | 'user'; version: number; updatedAt: string }

export function SecretsSection({ tenant }: { tenant: Tenant }) {
  const [secrets, setSecrets] = useState<SecretMeta[] | null>(null);
  const [message, setMessage] = useState('');
  const { busy, error, run } = useAction();
  const base = `${tenantPath(tenant.id)}/secrets`;
  const reload = async () => setSecrets((await api<{ secrets: SecretMeta[] }>(base)).secrets);
  useEffect(() => void run(reload), [tenant.id]);
  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const key = String(data.get('key') ?? '').trim();
    const value = String(data.get('value') ?? '');
    await run(async () => {
      const exists = secrets?.some((s) => s.key === key);
      await api(`${base}/${encodeURIComponent(key)}`, { method: exists ? 'PATCH' : 'POST', json: { value } });
      form.reset();
      setMessage(`${exists ? 'Updated' : 'Added'} ${key}; running environments restart to see it.`);
      await reload();
    });
  }
  return (
    <section aria-labelledby={`secrets-${tenant.id}`} className="space-y-3">
      <h3 id={`secrets-${tenant.id}`} className="font-semibold">Secrets</h3>
      <p className="text-xs text-slate-500">Values are stored encrypted and never shown here.</p>
      {secrets === null ? <Spinner label="Loading secrets…" /> : (
        <ul className="divide-y divide-slate-100 rounded-lg border border-slate-200">
          {secrets.length === 0 && <li className="p-2 text-sm text-slate-500">No secrets yet.</li>}
          {secrets.map((s) => (
            <li key={s.key} className="flex items-center justify-between gap-2 p-2 text-sm">
              <span className="mono break-all">{s.key}</span>
              <span className="flex items-center gap-2">
                <span className="text-xs text-slate-500">{s.origin === 'generated' ? 'generated' : `v${s.version}`}</span>
                {s.origin === 'user' && (
                  <Button small variant="secondary" aria-label={`Delete secret ${s.key}`} disabled={busy} onClick={() => run(async () => {
                    await api(`${base}/${encodeURIComponent(s.key)}`, { method: 'DELETE' });
                    setMessage(`Deleted ${s.key}.`);
                    await reload();
                  })}>Delete</Button>
                )}
              </span>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={save} className="grid gap-2 sm:grid-cols-[1fr_1fr_auto] sm:items-end">
        <Field label="Key" name="key" required pattern="[A-Z][A-Z0-9_]{1,63}" placeholder="GEMINI_API_KEY" spellCheck={false} autoComplete="off" />
        <Field label="Value" name="value" type="password" required autoComplete="off" />
        <Button type="submit" busy={busy}>Save secret</Button>
      </form>
      <p aria-live="polite" className="text-sm text-slate-600">{message}</p>
      {error && <Notice kind="error">{error}</Notice>}
    </section>
  );
}

interface LogLine { time: string; stream: string; text: string }

export function LogsSection({ tenant }: { tenant: Tenant }) {
  const [env, setEnv] = useState(tenant.environments.includes('live') ? 'live' : tenant.environments[0]);
  const [lines, setLines] = useState<LogLine[] | null>(null);
  const { busy, error, run } = useAction();
  const load = () => run(async () => setLines((await api<{ lines: LogLine[] }>(`${tenantPath(tenant.id)}/logs?env=${env}&limit=200`)).lines));
  useEffect(() => void load(), [tenant.id, env]);
  return (
    <section aria-labelledby={`logs-${tenant.id}`} className="space-y-3">
      <div className="flex flex-wrap items-end gap-2">
        <h3 id={`logs-${tenant.id}`} className="mr-auto font-semibold">Logs</h3>
        <label className="text-sm">
          <span className="sr-only">Environment</span>
          <select className="input" value={env} onChange={(e) => setEnv(e.target.value as typeof env)} aria-label="Log environment">
            {tenant.environments.map((e) => <option key={e} value={e}>{ENV_LABELS[e]}</option>)}
          </select>
        </label>
        <Button small variant="secondary" busy={busy} onClick={load}>Refresh logs</Button>
      </div>
      {error && <Notice kind="error">{error}</Notice>}
      <pre aria-label={`Log lines of ${env}`} tabIndex={0} className="mono max-h-64 overflow-auto rounded-lg bg-slate-900 p-3 text-slate-100">
        {lines === null ? 'Loading…' : lines.length === 0 ? 'No log lines yet.' : lines.map((l) => `${formatTime(l.time)} ${l.stream === 'stderr' ? '!' : ' '} ${l.text}`).join('\n')}
      </pre>
    </section>
  );
}

interface Billing { currency: string; total: number; from: string; to: string; days: { day: string; total: number }[] }

export function BillingSection({ tenant }: { tenant: Tenant }) {
  const [billing, setBilling] = useState<Billing | null>(null);
  const { error, run } = useAction();
  useEffect(() => void run(async () => setBilling(await api<Billing>(`${tenantPath(tenant.id)}/billing`))), [tenant.id]);
  return (
    <section aria-labelledby={`billing-${tenant.id}`} className="space-y-3">
      <h3 id={`billing-${tenant.id}`} className="font-semibold">Costs</h3>
      {error && <Notice kind="error">{error}</Notice>}
      {!billing && !error && <Spinner label="Loading costs…" />}
      {billing && (
        <>
          <p className="text-sm">
            {billing.from} to {billing.to}: <strong>{new Intl.NumberFormat(undefined, { style: 'currency', currency: billing.currency, maximumFractionDigits: 4 }).format(billing.total)}</strong>
          </p>
          <BarChart bars={billing.days.map((d) => ({ label: d.day, value: d.total }))} currency={billing.currency} title="Cost per day" />
        </>
      )}
    </section>
  );
}
