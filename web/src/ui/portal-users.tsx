/** The portal's users table: search by email prefix or uid, filter by role, sort, page on the server; each row sets the role. */
import { useState } from 'react';
import { useApiPage } from './use-api-page.ts';
import { api } from '../lib/api.ts';
import type { SignedInUser } from '../lib/auth.ts';
import { describeError } from '../lib/errors.ts';
import { Badge, Button, Notice, formatTime } from './controls.tsx';
import { DataTable, FilterSelect, Pager, SearchBox, type Column } from './data-table.tsx';
import type { UrlState } from './url-state.ts';

export interface UserView {
  uid: string;
  email: string | null;
  role: 'admin' | 'tenant';
  disabled: boolean;
  createdAt?: string | null;
  lastSignInAt?: string | null;
}

const PAGE_SIZE = 25;

export function UsersTable({
  me,
  view,
  setView,
  selected,
  onSelect,
}: {
  me: SignedInUser;
  view: UrlState;
  setView: (changes: UrlState, options?: { replace?: boolean }) => void;
  selected: string | null;
  onSelect: (user: UserView) => void;
}) {
  const sort = view.sort || 'email';
  // A search sorts by the searched field (the server does the same).
  const shown = view.q && sort.replace(/^-/, '') !== 'email' ? 'email' : sort;
  const query = new URLSearchParams({ pageSize: String(PAGE_SIZE), sort });
  if (view.q) query.set('q', view.q);
  if (view.role) query.set('role', view.role);
  if (view.page) query.set('pageToken', view.page);
  const key = query.toString();
  const { data, setData, loading, error } = useApiPage<{ users: UserView[]; total: number; nextPageToken?: string }>(
    `/api/v1/users?${key}`,
  );

  const columns: Column<UserView>[] = [
    {
      key: 'email',
      label: 'Email',
      sort: 'email',
      cell: (u) => (
        <>
          <span className="break-all font-medium">{u.email ?? '(no email)'}</span>
          {u.uid === me.uid && <span className="text-slate-600"> (you)</span>}
          <span className="mono block break-all text-slate-600">{u.uid}</span>
        </>
      ),
    },
    {
      key: 'state',
      label: 'State',
      cell: (u) => (u.disabled ? <Badge state="failed" label="disabled" /> : <Badge state="ready" label="active" />),
    },
    { key: 'created', label: 'Created', sort: 'createdAt', wide: true, cell: (u) => formatTime(u.createdAt ?? undefined) },
    { key: 'lastSignIn', label: 'Last sign-in', wide: true, cell: (u) => formatTime(u.lastSignInAt ?? undefined) || 'never' },
    {
      key: 'role',
      label: 'Role',
      cell: (u) => (
        <RoleEditor
          key={u.uid}
          user={u}
          onChanged={(next) => setData((d) => d && { ...d, users: d.users.map((x) => (x.uid === next.uid ? next : x)) })}
        />
      ),
    },
    {
      key: 'projects',
      label: 'Projects',
      cell: (u) => (
        <Button
          small
          variant="secondary"
          aria-pressed={selected === u.uid}
          onClick={() => onSelect(u)}
          aria-label={`Projects of ${u.email ?? u.uid}`}
        >
          Projects
        </Button>
      ),
    },
  ];

  return (
    <section aria-labelledby="users-title" className="card min-w-0">
      <h2 id="users-title">Users</h2>
      <div className="mt-3 flex flex-wrap items-end gap-3">
        <SearchBox
          label="Search users"
          placeholder="Email (start of it) or user id"
          value={view.q ?? ''}
          onSearch={(q) => setView({ q, page: '' }, { replace: true })}
        />
        <FilterSelect label="Role" value={view.role ?? ''} options={['admin', 'tenant']} onChange={(role) => setView({ role, page: '' })} />
      </div>
      {error && (
        <Notice kind="error" className="mt-3">
          {error}
        </Notice>
      )}
      <DataTable
        caption="Users"
        columns={columns}
        rows={data?.users ?? null}
        rowKey={(u) => u.uid}
        sort={shown}
        onSort={(s) => setView({ sort: s, page: '' })}
        total={data?.total}
        loading={loading}
        empty="No users match."
      />
      <Pager label="Users" page={view.page ?? ''} next={loading ? undefined : data?.nextPageToken} onPage={(page) => setView({ page })} />
    </section>
  );
}

function RoleEditor({ user, onChanged }: { user: UserView; onChanged: (u: UserView) => void }) {
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
      setMessage(
        res.user.role === 'admin'
          ? `Saved: ${label} is now admin. It applies when their sign-in next refreshes (within an hour), or at once if they sign in again.`
          : `Saved: ${label} is now ${res.user.role}. They are signed out everywhere now and sign in again with the new role.`,
      );
      onChanged(res.user);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="min-w-40">
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
      </div>
      <p aria-live="polite" className="mt-1 text-xs text-emerald-800">
        {message}
      </p>
      {error && (
        <p role="alert" className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}
