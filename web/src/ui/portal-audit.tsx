/** The audit trail as a table: who did what, from where, to what, and how it ended; filters and pages on the server. */
import { useId } from 'react';
import { useApiPage } from './use-api-page.ts';
import { Badge, Notice, formatTime } from './controls.tsx';
import { DataTable, FilterSelect, Pager, SearchBox, type Column } from './data-table.tsx';
import type { UrlState } from './url-state.ts';

export interface AuditEntryView {
  id: string;
  at: string;
  actorId?: string;
  actorEmail?: string;
  actorRole?: string;
  source: string;
  action: string;
  target: { type: string; id?: string };
  requestId: string;
  ip?: string;
  outcome: { status: number; code?: string };
}

const SOURCES = ['api', 'cli', 'web', 'chat', 'webhook', 'rollout', 'system'] as const;
const PAGE_SIZE = 50;

const columns: Column<AuditEntryView>[] = [
  { key: 'at', label: 'Time', cell: (e) => <time dateTime={e.at}>{formatTime(e.at)}</time> },
  {
    key: 'actor',
    label: 'Actor',
    cell: (e) => (
      <>
        <span className="break-all">{e.actorEmail ?? e.actorId ?? 'anonymous'}</span>
        {e.actorRole && <span className="block text-xs text-slate-600">{e.actorRole}</span>}
      </>
    ),
  },
  { key: 'source', label: 'Source', cell: (e) => e.source },
  {
    key: 'action',
    label: 'Action',
    cell: (e) => (
      <>
        <span className="mono break-all">{e.action}</span>
        <span className="block text-xs text-slate-600 sm:hidden">{target(e)}</span>
      </>
    ),
  },
  { key: 'target', label: 'Target', wide: true, cell: (e) => target(e) },
  {
    key: 'outcome',
    label: 'Outcome',
    cell: (e) => (
      <Badge
        state={e.outcome.status < 400 ? 'ready' : 'failed'}
        label={`${e.outcome.status}${e.outcome.code ? ` ${e.outcome.code}` : ''}`}
      />
    ),
  },
  {
    key: 'request',
    label: 'Request',
    wide: true,
    cell: (e) => (
      <>
        <span className="mono block break-all">{e.requestId}</span>
        {e.ip && <span className="mono block text-slate-600">{e.ip}</span>}
      </>
    ),
  },
];

function target(e: AuditEntryView) {
  if (e.target.type === 'tenant' && e.target.id) return <a href={`/tenants.html?id=${e.target.id}`}>{e.target.id}</a>;
  return e.target.id ? `${e.target.type} ${e.target.id}` : e.target.type;
}

/**
 * Admins: every entry, filtered by actor, tenant, action, source and time.
 * `fixedTenant` shows one tenant's entries (an owner's view of their tenant).
 */
export function AuditTable({
  view,
  setView,
  fixedTenant,
}: {
  view: UrlState;
  setView: (changes: UrlState, options?: { replace?: boolean }) => void;
  fixedTenant?: string;
}) {
  const query = new URLSearchParams({ pageSize: String(PAGE_SIZE) });
  const tenant = fixedTenant ?? view.tenant;
  if (tenant) query.set('tenantId', tenant);
  for (const name of ['actor', 'action', 'source', 'from', 'to'] as const) if (view[name]) query.set(name, view[name]);
  if (view.page) query.set('pageToken', view.page);
  const key = query.toString();
  const { data, loading, error } = useApiPage<{ entries: AuditEntryView[]; nextPageToken?: string }>(`/api/v1/audit?${key}`);
  const fromId = useId();
  const toId = useId();
  return (
    <section aria-labelledby="audit-title" className="card min-w-0">
      <h2 id="audit-title">Audit trail</h2>
      <p className="mt-1 text-sm text-slate-600">
        Every change, newest first: who asked, through which path, about what, and how it ended.
      </p>
      {!fixedTenant && (
        <div className="mt-3 flex flex-wrap items-end gap-3">
          <SearchBox
            label="Actor"
            placeholder="User id or email"
            value={view.actor ?? ''}
            onSearch={(actor) => setView({ actor, page: '' }, { replace: true })}
          />
          <SearchBox
            label="Tenant"
            placeholder="t-…"
            value={view.tenant ?? ''}
            onSearch={(t) => setView({ tenant: t, page: '' }, { replace: true })}
          />
          <SearchBox
            label="Action"
            placeholder="e.g. POST /api/v1/tenants"
            value={view.action ?? ''}
            onSearch={(action) => setView({ action, page: '' }, { replace: true })}
          />
          <FilterSelect label="Source" value={view.source ?? ''} options={SOURCES} onChange={(source) => setView({ source, page: '' })} />
          <div>
            <label htmlFor={fromId} className="label">
              From
            </label>
            <input
              id={fromId}
              type="date"
              className="input w-auto"
              value={view.from ?? ''}
              onChange={(e) => setView({ from: e.target.value, page: '' })}
            />
          </div>
          <div>
            <label htmlFor={toId} className="label">
              Before
            </label>
            <input
              id={toId}
              type="date"
              className="input w-auto"
              value={view.to ?? ''}
              onChange={(e) => setView({ to: e.target.value, page: '' })}
            />
          </div>
        </div>
      )}
      {error && (
        <Notice kind="error" className="mt-3">
          {error}
        </Notice>
      )}
      <DataTable
        caption="Audit entries"
        columns={columns}
        rows={data?.entries ?? null}
        rowKey={(e) => e.id}
        sort=""
        onSort={() => undefined}
        loading={loading}
        empty="No entries match."
      />
      <Pager label="Audit" page={view.page ?? ''} next={loading ? undefined : data?.nextPageToken} onPage={(page) => setView({ page })} />
    </section>
  );
}
