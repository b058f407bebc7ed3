/**
 * The operator portal (admins): users (roles, projects), every tenant, the
 * fleet overview and the audit trail, each a tab. Tables search, filter,
 * sort and page on the server; the view lives in the URL (`?tab=&q=&…`), so a
 * reload or a shared link shows the same one.
 */
import { lazy, Suspense, useState } from 'react';
import type { SignedInUser } from './lib/auth.ts';
import { Spinner } from './ui/controls.tsx';
import { SignedInPage, mount } from './ui/layout.tsx';
import { AuditTable } from './ui/portal-audit.tsx';
import { TenantsTable } from './ui/portal-tenants.tsx';
import { UsersTable, type UserView } from './ui/portal-users.tsx';
import { ProjectsPanel } from './ui/projects-panel.tsx';
import { useUrlState } from './ui/url-state.ts';

// The charts (recharts) load only when the Fleet tab opens: the other tabs do without them.
const FleetOverviewPanel = lazy(async () => ({ default: (await import('./ui/fleet-overview.tsx')).FleetOverviewPanel }));

const TABS = [
  { id: 'users', label: 'Users' },
  { id: 'tenants', label: 'Tenants' },
  { id: 'fleet', label: 'Fleet' },
  { id: 'audit', label: 'Audit' },
] as const;
type TabId = (typeof TABS)[number]['id'];

function Portal({ user: me }: { user: SignedInUser }) {
  const [view, setView] = useUrlState();
  const tab: TabId = TABS.some((t) => t.id === view.tab) ? (view.tab as TabId) : 'users';
  const [selected, setSelected] = useState<UserView | null>(null);
  return (
    <>
      <h1>Portal</h1>
      <p className="mt-1 text-slate-600">Users and their roles, every tenant, the fleet at a glance, and who changed what.</p>
      <nav aria-label="Portal sections" className="mt-4 flex flex-wrap gap-2 border-b border-slate-200 pb-2">
        {TABS.map((t) => (
          <a
            key={t.id}
            href={`?tab=${t.id}`}
            aria-current={tab === t.id ? 'page' : undefined}
            className={`btn btn-small ${tab === t.id ? 'btn-primary' : 'btn-secondary'}`}
            onClick={(e) => {
              if (e.metaKey || e.ctrlKey || e.shiftKey) return;
              e.preventDefault();
              // A new section starts from its unfiltered first page.
              setView(Object.fromEntries([...Object.keys(view).map((k) => [k, '']), ['tab', t.id]]));
            }}
          >
            {t.label}
          </a>
        ))}
      </nav>
      <div className="mt-6">
        {tab === 'users' && (
          <div className="grid gap-6 xl:grid-cols-[2fr_1fr]">
            <UsersTable me={me} view={view} setView={setView} selected={selected?.uid ?? null} onSelect={setSelected} />
            {selected ? (
              <ProjectsPanel uid={selected.uid} email={selected.email ?? selected.uid} />
            ) : (
              <section className="card text-sm text-slate-600" aria-label="Projects">
                Choose “Projects” next to a user to manage that user's projects.
              </section>
            )}
          </div>
        )}
        {tab === 'tenants' && <TenantsTable view={view} setView={setView} />}
        {tab === 'fleet' && (
          <Suspense fallback={<Spinner label="Loading the charts…" />}>
            <FleetOverviewPanel />
          </Suspense>
        )}
        {tab === 'audit' && <AuditTable view={view} setView={setView} />}
      </div>
    </>
  );
}

mount(
  <SignedInPage title="Portal" wide admin>
    {(user) => <Portal user={user} />}
  </SignedInPage>,
);
