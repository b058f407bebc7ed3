import { useApiPage } from './use-api-page.ts';
import type { Tenant } from '../lib/tenants.ts';
import { Badge, Notice, formatTime } from './controls.tsx';
import { DataTable, FilterSelect, Pager, SearchBox, type Column } from './data-table.tsx';
import { usePlans } from './plan.tsx';
import type { UrlState } from './url-state.ts';

const PAGE_SIZE = 25;
const STATES = ['provisioning', 'ready', 'failed', 'suspended', 'deleting', 'deleted'] as const;
const DRIVERS = ['local', 'cloud-run', 'kubernetes', 'fly'] as const;

export function TenantsTable({ view, setView }: { view: UrlState; setView: (changes: UrlState, options?: { replace?: boolean }) => void }) {
  const plans = usePlans();
  const sort = view.sort || '-createdAt';
  // A search sorts by the searched field (the server does the same).
  const shown = view.q && sort.replace(/^-/, '') !== 'name' ? 'name' : sort;
  const query = new URLSearchParams({ pageSize: String(PAGE_SIZE), sort });
  for (const name of ['q', 'state', 'plan', 'driver'] as const) if (view[name]) query.set(name, view[name]);
  if (view.page) query.set('pageToken', view.page);
  const key = query.toString();
  const { data, loading, error } = useApiPage<{ tenants: Tenant[]; total: number; nextPageToken?: string }>(`/api/v1/tenants?${key}`);

  const columns: Column<Tenant>[] = [
    {
      key: 'name',
      label: 'Name',
      sort: 'name',
      cell: (t) => (
        <>
          <a href={`/tenants.html?id=${t.id}`}>{t.name}</a>
          <span className="mono block text-slate-600">{t.id}</span>
          <span className="block break-all text-xs text-slate-600 sm:hidden">{t.ownerEmail ?? t.ownerId}</span>
        </>
      ),
    },
    { key: 'owner', label: 'Owner', wide: true, cell: (t) => <span className="break-all">{t.ownerEmail ?? t.ownerId}</span> },
    { key: 'state', label: 'State', cell: (t) => <Badge state={t.state} /> },
    { key: 'plan', label: 'Plan', wide: true, cell: (t) => t.plan },
    { key: 'driver', label: 'Driver', wide: true, cell: (t) => t.driver },
    { key: 'created', label: 'Created', sort: 'createdAt', wide: true, cell: (t) => formatTime(t.createdAt) },
  ];

  return (
    <section aria-labelledby="all-tenants" className="card min-w-0">
      <h2 id="all-tenants">All tenants</h2>
      <div className="mt-3 flex flex-wrap items-end gap-3">
        <SearchBox
          label="Search tenants"
          placeholder="Name (start of it) or tenant id"
          value={view.q ?? ''}
          onSearch={(q) => setView({ q, page: '' }, { replace: true })}
        />
        <FilterSelect label="State" value={view.state ?? ''} options={STATES} onChange={(state) => setView({ state, page: '' })} />
        <FilterSelect
          label="Plan"
          value={view.plan ?? ''}
          options={plans?.map((p) => p.id) ?? (view.plan ? [view.plan] : [])}
          onChange={(plan) => setView({ plan, page: '' })}
        />
        <FilterSelect label="Driver" value={view.driver ?? ''} options={DRIVERS} onChange={(driver) => setView({ driver, page: '' })} />
      </div>
      {error && (
        <Notice kind="error" className="mt-3">
          {error}
        </Notice>
      )}
      <DataTable
        caption="Tenants"
        columns={columns}
        rows={data?.tenants ?? null}
        rowKey={(t) => t.id}
        sort={shown}
        onSort={(s) => setView({ sort: s, page: '' })}
        total={data?.total}
        loading={loading}
        empty="No tenants match."
      />
      <Pager label="Tenants" page={view.page ?? ''} next={loading ? undefined : data?.nextPageToken} onPage={(page) => setView({ page })} />
    </section>
  );
}
