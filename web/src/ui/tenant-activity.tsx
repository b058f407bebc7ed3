/** An owner's view of the audit trail for one tenant: the latest changes, who made them, through which path, and how they ended. */
import { useEffect, useState } from 'react';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import type { Tenant } from '../lib/tenants.ts';
import { Button, formatTime } from './controls.tsx';
import type { AuditEntryView } from './portal-audit.tsx';

export function TenantActivity({ tenant }: { tenant: Tenant }) {
  const [entries, setEntries] = useState<AuditEntryView[] | null>(null);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const load = async (pageToken?: string) => {
    setBusy(true);
    try {
      const q = new URLSearchParams({ tenantId: tenant.id, pageSize: '10' });
      if (pageToken) q.set('pageToken', pageToken);
      const page = await api<{ entries: AuditEntryView[]; nextPageToken?: string }>(`/api/v1/audit?${q}`);
      setEntries((old) => (pageToken ? [...(old ?? []), ...page.entries] : page.entries));
      setNext(page.nextPageToken);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    void load();
  }, [tenant.id]);
  return (
    <section aria-labelledby={`activity-${tenant.id}`} className="space-y-2">
      <h3 id={`activity-${tenant.id}`} className="font-semibold">
        Activity
      </h3>
      {error && <p className="field-error">{error}</p>}
      {entries?.length === 0 && <p className="text-sm text-slate-600">No changes recorded yet.</p>}
      <ul className="divide-y divide-slate-100 text-sm">
        {entries?.map((e) => (
          <li key={e.id} className="py-1.5">
            <span className="mono break-all">{e.action}</span>{' '}
            <span className={e.outcome.status < 400 ? 'text-emerald-800' : 'text-red-700'}>{e.outcome.status}</span>
            <span className="block text-xs text-slate-600">
              {formatTime(e.at)} · {e.actorEmail ?? e.actorId ?? 'anonymous'} · {e.source}
            </span>
          </li>
        ))}
      </ul>
      {next && (
        <Button small variant="secondary" busy={busy} onClick={() => void load(next)}>
          Show older changes
        </Button>
      )}
    </section>
  );
}
