/** "My tenants" (admins see every tenant): state, environments, operations, and the manage sections. */
import { lazy, Suspense, useEffect, useRef, useState } from 'react';
import { api } from './lib/api.ts';
import type { SignedInUser } from './lib/auth.ts';
import { describeError } from './lib/errors.ts';
import {
  ENV_LABELS,
  OPERATION_PATHS,
  followOperation,
  listTenants,
  tenantPath,
  type EnvironmentRecord,
  type OperationName,
  type Tenant,
} from './lib/tenants.ts';
import { ConfirmDialog } from './ui/confirm-dialog.tsx';
import { Badge, Button, Notice, Spinner, formatTime } from './ui/controls.tsx';
import { SignedInPage, mount } from './ui/layout.tsx';
import { DeploySection, SecretsSection, affected } from './ui/tenant-tools.tsx';
import { LogsPanel } from './ui/logs-panel.tsx';
import { CredentialsPanel } from './ui/credentials.tsx';
import { PlanSummary, usePlans } from './ui/plan.tsx';
import { TenantActivity } from './ui/tenant-activity.tsx';

/** Cost and metrics charts: the chart library loads only when a tenant is opened. */
const UsageCharts = lazy(() => import('./ui/usage-charts.tsx'));
import { DeletedTenants } from './ui/deleted-tenants.tsx';
import { DataSection } from './ui/data-section.tsx';
import { ReleaseSettingsSection } from './ui/release-settings.tsx';

function Tenants({ user }: { user: SignedInUser }) {
  const [tenants, setTenants] = useState<Tenant[] | null>(null);
  const [error, setError] = useState('');
  const [deletions, setDeletions] = useState(0);
  const load = () =>
    listTenants().then(
      (all) => setTenants(all.filter((t) => t.state !== 'deleted')),
      (err) => setError(describeError(err)),
    );
  useEffect(() => void load(), []);
  return (
    <>
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1>{user.role === 'admin' ? 'All tenants' : 'My tenants'}</h1>
        <a href="/launch.html" className="btn btn-primary">
          New tenant
        </a>
      </div>
      <div aria-live="polite" className="mt-4">
        {error && <Notice kind="error">{error}</Notice>}
        {!tenants && !error && <Spinner label="Loading your tenants…" />}
        {tenants?.length === 0 && (
          <Notice kind="info">
            You have no tenants yet. <a href="/launch.html">Launch one</a>.
          </Notice>
        )}
      </div>
      <ul className="mt-4 space-y-4">
        {tenants?.map((t) => (
          <li key={t.id}>
            <TenantCard
              initial={t}
              admin={user.role === 'admin'}
              onGone={() => {
                setTenants((all) => all?.filter((x) => x.id !== t.id) ?? null);
                setDeletions((n) => n + 1);
              }}
            />
          </li>
        ))}
      </ul>
      <DeletedTenants refreshKey={deletions} onRestored={() => void load()} />
    </>
  );
}

function TenantCard({ initial, admin, onGone }: { initial: Tenant; admin: boolean; onGone: () => void }) {
  const plans = usePlans();
  const [tenant, setTenant] = useState(initial);
  const [envs, setEnvs] = useState<EnvironmentRecord[]>([]);
  const [running, setRunning] = useState<OperationName | null>(null);
  const [progress, setProgress] = useState('');
  const [error, setError] = useState('');
  const [open, setOpen] = useState(new URLSearchParams(location.search).get('id') === initial.id);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [confirmSuspend, setConfirmSuspend] = useState(false);
  const [done, setDone] = useState('');
  const stop = useRef(new AbortController());
  const path = tenantPath(tenant.id);

  const refresh = async () => {
    const status = await api<{ tenant: Tenant; environments: EnvironmentRecord[] }>(`${path}/status`);
    setTenant(status.tenant);
    setEnvs(status.environments);
  };
  useEffect(() => {
    refresh().catch((err) => setError(describeError(err)));
    return () => stop.current.abort();
  }, []);

  async function operate(op: OperationName, request: () => Promise<unknown>) {
    setRunning(op);
    setError('');
    setDone('');
    setConfirmSuspend(false);
    setProgress('Starting…');
    try {
      await request();
      const result = await followOperation(tenant.id, op, (e) => setProgress(e.message), stop.current.signal);
      if (op === 'delete' && result.outcome === 'done') return onGone();
      if (result.outcome === 'failed') setError(result.event.message);
      // The outcome stays on the card until the next operation, so a quick one is not missed.
      else setDone(`Finished at ${formatTime(result.event.at)}: ${result.event.message}`);
      await refresh();
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(describeError(err));
    } finally {
      setRunning(null);
      setProgress('');
      setConfirmDelete(false);
    }
  }
  const post =
    (op: OperationName, json: unknown = {}) =>
    () =>
      api(`${path}/${OPERATION_PATHS[op]}`, { method: 'POST', json });

  const state = tenant.state;
  return (
    <article className="card" aria-labelledby={`name-${tenant.id}`}>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div>
          <h2 id={`name-${tenant.id}`} className="flex flex-wrap items-center gap-2">
            {tenant.name} <Badge state={state} />
          </h2>
          <p className="mono mt-1 text-slate-500">
            {tenant.id}
            {tenant.ownerEmail ? ` · ${tenant.ownerEmail}` : ''}
          </p>
        </div>
        <div className="flex flex-wrap gap-2">
          {state === 'ready' && (
            <Button
              variant="secondary"
              busy={running === 'suspend'}
              busyLabel="Suspending…"
              disabled={!!running}
              onClick={() => setConfirmSuspend(true)}
            >
              Suspend…
            </Button>
          )}
          {state === 'suspended' && (
            <Button
              variant="secondary"
              busy={running === 'resume'}
              busyLabel="Resuming…"
              disabled={!!running}
              onClick={() => operate('resume', post('resume'))}
            >
              Resume
            </Button>
          )}
          {state === 'failed' && (
            <Button
              variant="secondary"
              busy={running === 'provision'}
              busyLabel="Retrying…"
              disabled={!!running}
              onClick={() => operate('provision', post('provision'))}
            >
              Retry
            </Button>
          )}
          {state === 'provisioning' && (
            <a className="btn btn-secondary" href={`/launch.html?tenant=${tenant.id}`}>
              Watch progress
            </a>
          )}
          <Button variant="secondary" aria-expanded={open} aria-controls={`manage-${tenant.id}`} onClick={() => setOpen(!open)}>
            {open ? 'Close' : 'Manage'}
          </Button>
          <Button variant="danger" disabled={!!running || state === 'deleting'} onClick={() => setConfirmDelete(true)}>
            Delete
          </Button>
        </div>
      </div>
      <ul className="mt-4 grid gap-2 sm:grid-cols-3" aria-label={`Environments of ${tenant.name}`}>
        {tenant.environments.map((env) => {
          const record = envs.find((e) => e.env === env);
          const url = record?.url ?? tenant.urls[env];
          return (
            <li key={env} className="flex items-center justify-between gap-2 rounded-lg border border-slate-200 px-3 py-2 text-sm">
              <span className="font-medium">
                {ENV_LABELS[env]}
                {record?.release?.name && record.release.image === record.image && (
                  <span className="block text-xs font-normal text-slate-500">release {record.release.name}</span>
                )}
                {record?.error && <EnvironmentError record={record} />}
              </span>
              <span className="flex items-center gap-2">
                <Badge state={record?.status ?? 'pending'} label={`${ENV_LABELS[env]}: ${record?.status ?? 'loading'}`} />
                {url && state === 'ready' && (
                  <a href={url} target="_blank" rel="noopener" aria-label={`Open ${ENV_LABELS[env]} of ${tenant.name}`}>
                    Open
                  </a>
                )}
              </span>
            </li>
          );
        })}
      </ul>
      <div className="mt-3">
        <PlanSummary planId={tenant.plan} plans={plans} />
      </div>
      <p role="status" aria-live="polite" className="mt-3 text-sm text-slate-600">
        {running && <Spinner label={progress} />}
      </p>
      {done && !running && (
        <Notice kind="ok" className="mt-2">
          {done}
        </Notice>
      )}
      {(error || tenant.error) && (
        <Notice kind="error" className="mt-2">
          {error || tenant.error?.message}
        </Notice>
      )}
      {open && (
        <div id={`manage-${tenant.id}`} className="mt-6 grid grid-cols-1 gap-8 border-t border-slate-100 pt-6 lg:grid-cols-2 [&>*]:min-w-0">
          <DeploySection tenant={tenant} onDeploy={(image) => operate('deploy', post('deploy', { image }))} />
          <SecretsSection tenant={tenant} onRestarting={() => void operate('restart', async () => undefined)} />
          <CredentialsPanel tenant={tenant} busy={!!running} />
          <LogsPanel tenant={tenant} />
          <Suspense fallback={<Spinner label="Loading charts…" />}>
            <UsageCharts tenant={tenant} />
          </Suspense>
          <TenantActivity tenant={tenant} />
          <DataSection tenant={tenant} />
          {admin && <ReleaseSettingsSection tenant={tenant} />}
        </div>
      )}
      <ConfirmDialog
        open={confirmSuspend}
        title={`Suspend ${tenant.name}?`}
        confirmLabel="Suspend, live included"
        busy={running === 'suspend'}
        onCancel={() => setConfirmSuspend(false)}
        onConfirm={() => operate('suspend', post('suspend'))}
      >
        <p>
          Every environment ({affected(tenant)}) stops
          {tenant.environments.includes('live') ? (
            <>
              : <strong>live stops answering your customers</strong> until you resume
            </>
          ) : (
            ' until you resume'
          )}
          . All data is kept, and resume brings each back at the same address.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirmDelete}
        title={`Delete ${tenant.name}?`}
        confirmLabel="Delete for good"
        typeToConfirm={tenant.name}
        busy={running === 'delete'}
        onCancel={() => setConfirmDelete(false)}
        onConfirm={() => operate('delete', () => api(path, { method: 'DELETE' }))}
      >
        <p>
          Every environment stops. Its databases and buckets are kept for the grace period, when you can still restore it here; then they
          are deleted for good.
        </p>
      </ConfirmDialog>
    </article>
  );
}

mount(
  <SignedInPage title="My tenants" wide>
    {(user) => <Tenants user={user} />}
  </SignedInPage>,
);

/** An environment's last failure; a ready one with an error kept serving its previous version when an update failed. */
function EnvironmentError({ record }: { record: EnvironmentRecord }) {
  const message = record.error?.message ?? '';
  return (
    <span className="block text-xs font-normal text-amber-800">
      {record.status === 'ready' ? `Update failed, the previous version still serves: ${message}` : message}
    </span>
  );
}
