/**
 * A tenant's data on My tenants (issue 21): database backups (list, back up
 * now, restore with an explicit confirmation naming what is replaced) and
 * the owner's export of its data as a .tar.gz download.
 */
import { useEffect, useRef, useState } from 'react';
import { EnvOptions } from './env-options.tsx';
import { api, send } from '../lib/api.ts';
import { describeError, errorFromResponse } from '../lib/errors.ts';
import { ENV_LABELS, followOperation, tenantPath, type EnvName, type Tenant } from '../lib/tenants.ts';
import { ConfirmDialog } from './confirm-dialog.tsx';
import { Button, Notice, Spinner, formatTime } from './controls.tsx';

interface Backup {
  id: string;
  env: EnvName;
  kind: string;
  status: string;
  createdAt: string;
  sizeBytes?: number;
}

const size = (bytes?: number) => (bytes === undefined ? '' : bytes < 1024 ? `${bytes} B` : `${Math.round(bytes / 1024)} KiB`);

export function DataSection({ tenant }: { tenant: Tenant }) {
  const path = tenantPath(tenant.id);
  const [backups, setBackups] = useState<Backup[] | null>(null);
  const [backupsNote, setBackupsNote] = useState('');
  const [env, setEnv] = useState<EnvName | ''>('');
  const [busy, setBusy] = useState('');
  const [progress, setProgress] = useState('');
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [restoring, setRestoring] = useState<Backup | null>(null);
  const [download, setDownload] = useState<{ href: string; name: string } | null>(null);
  const stop = useRef(new AbortController());
  useEffect(() => () => stop.current.abort(), []);

  const loadBackups = () =>
    api<{ backups: Backup[] }>(`${path}/backups`).then(
      (r) => setBackups(r.backups),
      (err) => setBackupsNote(describeError(err)),
    );
  useEffect(() => void loadBackups(), [tenant.id]);

  async function run(label: string, op: 'backup' | 'restore' | 'export', start: () => Promise<unknown>): Promise<boolean> {
    setBusy(label);
    setMessage(null);
    setProgress('Starting…');
    try {
      await start();
      const result = await followOperation(tenant.id, op, (e) => setProgress(e.message), stop.current.signal);
      setMessage({ kind: result.outcome === 'done' ? 'ok' : 'error', text: result.event.message });
      return result.outcome === 'done';
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setMessage({ kind: 'error', text: describeError(err) });
      return false;
    } finally {
      setBusy('');
      setProgress('');
      void loadBackups();
    }
  }

  async function backUp() {
    await run('backup', 'backup', () => api(`${path}/backups`, { method: 'POST', json: env ? { env } : {} }));
  }

  async function restore(backup: Backup) {
    setRestoring(null);
    await run(`restore:${backup.id}`, 'restore', () =>
      api(`${path}/backups/${encodeURIComponent(backup.id)}/restore`, { method: 'POST', json: { confirm: true } }),
    );
  }

  async function exportData() {
    let started: { export: { id: string }; links: { download: string } } | undefined;
    const ok = await run('export', 'export', async () => {
      started = await api(`${path}/exports`, { method: 'POST', json: env ? { env } : {} });
    });
    if (!ok || !started) return;
    // The archive comes with the tenant's own authorization, so it is fetched here and handed to the browser as a file.
    const res = await send(started.links.download, { headers: { Accept: 'application/gzip' } });
    if (!res.ok) return setMessage({ kind: 'error', text: describeError(await errorFromResponse(res)) });
    const name =
      /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `${tenant.name}-${started.export.id}.tar.gz`;
    if (download) URL.revokeObjectURL(download.href);
    setDownload({ href: URL.createObjectURL(await res.blob()), name });
  }

  return (
    <section aria-labelledby={`data-${tenant.id}`} className="space-y-3">
      <h3 id={`data-${tenant.id}`} className="font-semibold">
        Data: backups and export
      </h3>
      <p className="text-sm text-slate-600">
        Backups copy each environment's database; restoring one replaces that database with it. An export gives you each environment's
        database as SQL and its bucket's files in one .tar.gz.
      </p>
      <div className="flex flex-wrap items-end gap-2">
        <label className="text-sm font-medium">
          Environment
          <select className="input mt-1" value={env} onChange={(e) => setEnv(e.target.value as EnvName | '')} disabled={!!busy}>
            <option value="">All environments</option>
            <EnvOptions tenant={tenant} />
          </select>
        </label>
        <Button variant="secondary" small busy={busy === 'backup'} busyLabel="Backing up…" disabled={!!busy} onClick={backUp}>
          Back up now
        </Button>
        <Button variant="secondary" small busy={busy === 'export'} busyLabel="Exporting…" disabled={!!busy} onClick={exportData}>
          Export data
        </Button>
      </div>
      <div aria-live="polite">
        {busy && <Spinner label={progress} />}
        {message && <Notice kind={message.kind}>{message.text}</Notice>}
        {download && (
          <p className="mt-2">
            <a href={download.href} download={download.name}>
              Download {download.name}
            </a>
          </p>
        )}
      </div>
      {backupsNote && <p className="text-sm text-slate-600">{backupsNote}</p>}
      {backups && backups.length === 0 && <p className="text-sm text-slate-600">No backups yet; they are made every night.</p>}
      {backups && backups.length > 0 && (
        <ul className="divide-y divide-slate-100 text-sm" aria-label={`Backups of ${tenant.name}`}>
          {backups.map((b) => (
            <li key={b.id} className="flex flex-wrap items-center justify-between gap-2 py-2">
              <span>
                <span className="mono">{b.id}</span> · {ENV_LABELS[b.env]} · {b.kind} · {b.status} {size(b.sizeBytes)} ·{' '}
                {formatTime(b.createdAt)}
              </span>
              {b.status === 'done' && (
                <Button
                  variant="danger"
                  small
                  busy={busy === `restore:${b.id}`}
                  busyLabel="Restoring…"
                  disabled={!!busy}
                  onClick={() => setRestoring(b)}
                  aria-label={`Restore ${ENV_LABELS[b.env]} from backup ${b.id}`}
                >
                  Restore…
                </Button>
              )}
            </li>
          ))}
        </ul>
      )}
      <ConfirmDialog
        open={restoring !== null}
        title={`Restore ${restoring ? ENV_LABELS[restoring.env] : ''} from this backup?`}
        confirmLabel={`Replace ${restoring ? ENV_LABELS[restoring.env] : ''}'s data`}
        onCancel={() => setRestoring(null)}
        onConfirm={() => restoring && void restore(restoring)}
      >
        <p>
          Every change to the {restoring?.env} database since {restoring ? formatTime(restoring.createdAt) : ''} is replaced by backup{' '}
          <span className="mono">{restoring?.id}</span>, and the environment restarts.
        </p>
      </ConfirmDialog>
    </section>
  );
}
