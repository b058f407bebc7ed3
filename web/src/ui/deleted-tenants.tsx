/**
 * Deleted tenants still in their grace period (issue 21), under My tenants:
 * when their data is dropped, and a Restore button that brings each back,
 * running, with its databases and buckets, following the restore's events.
 */
import { useEffect, useRef, useState } from 'react';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import { OPERATION_PATHS, followOperation, tenantPath, type Tenant } from '../lib/tenants.ts';
import { Button, Notice } from './controls.tsx';

const formatDay = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString([], { dateStyle: 'full', timeStyle: 'short' }) : '';

/** `refreshKey` changes when a tenant was deleted on the page; `onRestored` reloads the live tenants. */
export function DeletedTenants({ refreshKey, onRestored }: { refreshKey: number; onRestored: () => void }) {
  const [deleted, setDeleted] = useState<Tenant[]>([]);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ tenants: Tenant[] }>('/api/v1/tenants?deleted=true&pageSize=100').then(
      (page) => setDeleted(page.tenants),
      (err) => setError(describeError(err)),
    );
  }, [refreshKey]);
  if (deleted.length === 0 && !error) return null;
  return (
    <section id="deleted" aria-labelledby="deleted-heading" className="mt-8">
      <h2 id="deleted-heading">Deleted — can still be restored</h2>
      <p className="mt-1 text-slate-600">
        Their environments are stopped; their databases and buckets are kept until the date shown, then deleted for good.
      </p>
      {error && <Notice kind="error">{error}</Notice>}
      <ul className="mt-3 space-y-3">
        {deleted.map((t) => (
          <li key={t.id}>
            <DeletedTenant
              tenant={t}
              onRestored={() => {
                setDeleted((all) => all.filter((x) => x.id !== t.id));
                onRestored();
              }}
            />
          </li>
        ))}
      </ul>
    </section>
  );
}

function DeletedTenant({ tenant, onRestored }: { tenant: Tenant; onRestored: () => void }) {
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState('');
  const [error, setError] = useState('');
  const stop = useRef(new AbortController());
  useEffect(() => () => stop.current.abort(), []);

  async function restore() {
    setBusy(true);
    setError('');
    setProgress('Starting…');
    try {
      await api(`${tenantPath(tenant.id)}/${OPERATION_PATHS.undelete}`, { method: 'POST', json: {} });
      const result = await followOperation(tenant.id, 'undelete', (e) => setProgress(e.message), stop.current.signal);
      if (result.outcome === 'done') return onRestored();
      setError(result.event.message);
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(describeError(err));
    } finally {
      setBusy(false);
      setProgress('');
    }
  }

  return (
    <article className="card" aria-labelledby={`deleted-${tenant.id}`}>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div>
          <h3 id={`deleted-${tenant.id}`}>{tenant.name}</h3>
          <p className="mono mt-1 text-slate-500">{tenant.id}</p>
          <p className="mt-1">Data kept until {formatDay(tenant.restorableUntil)}.</p>
        </div>
        <Button busy={busy} busyLabel="Restoring…" onClick={restore} aria-label={`Restore ${tenant.name}`}>
          Restore
        </Button>
      </div>
      <div aria-live="polite">
        {progress && <p className="mt-2 text-slate-600">{progress}</p>}
        {error && <Notice kind="error">{error}</Notice>}
      </div>
    </article>
  );
}
