/** The operator portal (admins): users and their roles, every tenant, and each user's projects. */
import { useEffect, useState } from 'react';
import { api } from './lib/api.ts';
import type { SignedInUser } from './lib/auth.ts';
import { describeError } from './lib/errors.ts';
import { listTenants, type Tenant } from './lib/tenants.ts';
import { Badge, Button, Notice, Spinner } from './ui/controls.tsx';
import { SignedInPage, mount } from './ui/layout.tsx';
import { ProjectsPanel } from './ui/projects-panel.tsx';

interface UserView {
  uid: string;
  email: string | null;
  role: 'admin' | 'tenant';
  disabled: boolean;
  createdAt?: string;
}

function Portal({ user: me }: { user: SignedInUser }) {
  const [users, setUsers] = useState<UserView[] | null>(null);
  const [tenants, setTenants] = useState<Tenant[] | null>(null);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState<UserView | null>(null);
  useEffect(() => {
    api<{ users: UserView[] }>('/api/v1/users?pageSize=1000').then(
      (r) => setUsers(r.users),
      (err) => setError(describeError(err)),
    );
    listTenants().then(setTenants, (err) => setError(describeError(err)));
  }, []);
  const tenantsOf = (uid: string) => tenants?.filter((t) => t.ownerId === uid && t.state !== 'deleted').length ?? 0;

  return (
    <>
      <h1>Portal</h1>
      <p className="mt-1 text-slate-600">Users, their roles and projects, and every tenant on the platform.</p>
      {error && (
        <Notice kind="error" className="mt-4">
          {error}
        </Notice>
      )}
      <div className="mt-6 grid gap-6 lg:grid-cols-2">
        <section aria-labelledby="users-title" className="card">
          <h2 id="users-title">Users</h2>
          {!users && !error && <Spinner label="Loading users…" />}
          <ul className="mt-3 divide-y divide-slate-100">
            {users?.map((u) => (
              <UserRow
                key={u.uid}
                user={u}
                self={u.uid === me.uid}
                tenants={tenantsOf(u.uid)}
                selected={selected?.uid === u.uid}
                onSelect={() => setSelected(u)}
                onChanged={(next) => setUsers((all) => all?.map((x) => (x.uid === next.uid ? next : x)) ?? null)}
              />
            ))}
          </ul>
        </section>
        {selected ? (
          <ProjectsPanel uid={selected.uid} email={selected.email ?? selected.uid} />
        ) : (
          <section className="card text-sm text-slate-600" aria-label="Projects">
            Choose “Projects” next to a user to manage that user's projects.
          </section>
        )}
      </div>
      <section aria-labelledby="all-tenants" className="card mt-6">
        <h2 id="all-tenants">All tenants</h2>
        {!tenants && !error && <Spinner label="Loading tenants…" />}
        {tenants?.length === 0 && <p className="mt-2 text-sm text-slate-500">No tenants yet.</p>}
        <div className="mt-3 overflow-x-auto">
          <table className="w-full text-left text-sm">
            <thead className="text-xs uppercase text-slate-500">
              <tr>
                <th className="py-2">Name</th>
                <th className="hidden sm:table-cell">Owner</th>
                <th>State</th>
                <th className="hidden sm:table-cell">Environments</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {tenants
                ?.filter((t) => t.state !== 'deleted')
                .map((t) => (
                  <tr key={t.id}>
                    <td className="py-2 pr-2">
                      <a href={`/tenants.html?id=${t.id}`}>{t.name}</a> <span className="mono block text-slate-500">{t.id}</span>
                      <span className="block break-all text-xs text-slate-500 sm:hidden">
                        {t.ownerEmail ?? users?.find((u) => u.uid === t.ownerId)?.email ?? t.ownerId}
                      </span>
                    </td>
                    <td className="hidden break-all sm:table-cell">
                      {t.ownerEmail ?? users?.find((u) => u.uid === t.ownerId)?.email ?? t.ownerId}
                    </td>
                    <td>
                      <Badge state={t.state} />
                    </td>
                    <td className="hidden sm:table-cell">{t.environments.join(', ')}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}

function UserRow({
  user,
  self,
  tenants,
  selected,
  onSelect,
  onChanged,
}: {
  user: UserView;
  self: boolean;
  tenants: number;
  selected: boolean;
  onSelect: () => void;
  onChanged: (u: UserView) => void;
}) {
  const [role, setRole] = useState(user.role);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');
  const label = user.email ?? user.uid;
  async function save() {
    setBusy(true);
    setError('');
    setMessage('');
    try {
      const res = await api<{ user: UserView }>(`/api/v1/users/${encodeURIComponent(user.uid)}`, { method: 'PATCH', json: { role } });
      onChanged(res.user);
      setMessage(
        res.user.role === 'admin'
          ? `Saved: ${label} is now admin. It applies when their sign-in next refreshes (within an hour), or at once if they sign in again.`
          : `Saved: ${label} is now ${res.user.role}. They are signed out everywhere now and sign in again with the new role.`,
      );
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <li className={`py-3 ${selected ? 'bg-brand-50/50' : ''}`}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div className="min-w-0">
          <p className="truncate font-medium" title={label}>
            {label}
            {self && <span className="text-slate-500"> (you)</span>}
          </p>
          <p className="text-xs text-slate-500">
            <Badge state={user.role} /> {user.disabled && <Badge state="failed" label="disabled" />} {tenants} tenant
            {tenants === 1 ? '' : 's'}
          </p>
        </div>
        <div className="flex flex-wrap items-center gap-2">
          <select
            aria-label={`Role of ${label}`}
            className="input w-auto"
            value={role}
            onChange={(e) => setRole(e.target.value as UserView['role'])}
          >
            <option value="tenant">tenant</option>
            <option value="admin">admin</option>
          </select>
          <Button small variant="secondary" busy={busy} disabled={role === user.role} onClick={save} aria-label={`Save role of ${label}`}>
            Save
          </Button>
          <Button small variant="secondary" aria-pressed={selected} onClick={onSelect} aria-label={`Projects of ${label}`}>
            Projects
          </Button>
        </div>
      </div>
      <p aria-live="polite" className="mt-1 text-xs text-emerald-800">
        {message}
      </p>
      {error && (
        <p role="alert" className="field-error">
          {error}
        </p>
      )}
    </li>
  );
}

mount(
  <SignedInPage title="Portal" wide admin>
    {(user) => <Portal user={user} />}
  </SignedInPage>,
);
