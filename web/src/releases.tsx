/**
 * Releases and rollouts (admins): the releases, a form to roll one out, and a
 * rollout's waves drawn as progress bars, followed live from its event
 * stream, with its failed environments one click from their logs.
 */
import { useCallback, useEffect, useState } from 'react';
import type { Release } from '../../shared/releases/releases.ts';
import type { RolloutView } from '../../shared/releases/rollouts.ts';
import { api } from './lib/api.ts';
import { describeError } from './lib/errors.ts';
import { followEventStream } from './lib/sse.ts';
import { ConfirmDialog } from './ui/confirm-dialog.tsx';
import { CreateReleaseForm, FailureLogs, StartRolloutForm } from './ui/rollout-forms.tsx';
import { Badge, Button, Notice, ProgressBar, Spinner, formatTime } from './ui/controls.tsx';
import { SignedInPage, mount } from './ui/layout.tsx';

type Rollout = RolloutView;

const ACTIONS: Record<string, { label: string; from: string[]; confirm?: string }> = {
  pause: { label: 'Pause', from: ['running'] },
  resume: { label: 'Resume', from: ['paused'] },
  cancel: { label: 'Cancel', from: ['running', 'paused'], confirm: 'Cancelling leaves the updated environments on the new release.' },
  rollback: {
    label: 'Roll back',
    from: ['running', 'paused', 'succeeded', 'failed', 'cancelled'],
    confirm: 'Every environment this rollout updated restarts on the image it ran before, live included.',
  },
};

function Releases() {
  const [releases, setReleases] = useState<Release[] | null>(null);
  const [rollouts, setRollouts] = useState<Rollout[]>([]);
  const [selected, setSelected] = useState<string | null>(new URLSearchParams(location.search).get('rollout'));
  const [error, setError] = useState('');
  const load = useCallback(() => {
    api<{ releases: Release[] }>('/api/v1/releases').then(
      (r) => setReleases(r.releases),
      (err) => setError(describeError(err)),
    );
    api<{ rollouts: Rollout[] }>('/api/v1/rollouts').then(
      (r) => setRollouts(r.rollouts),
      (err) => setError(describeError(err)),
    );
  }, []);
  useEffect(load, [load]);
  return (
    <>
      <h1>Releases</h1>
      <p className="mt-1 text-slate-600">Ship a release to every tenant in waves: canary first, demo before test before live.</p>
      {error && (
        <Notice kind="error" className="mt-4">
          {error}
        </Notice>
      )}
      <div className="mt-6 grid gap-6 lg:grid-cols-2">
        <section aria-labelledby="releases-title" className="card">
          <h2 id="releases-title">Releases</h2>
          {!releases && !error && <Spinner label="Loading releases…" />}
          {releases?.length === 0 && (
            <p className="mt-2 text-sm text-slate-500">No releases yet: create one below, or `tenantplane releases create`.</p>
          )}
          <ul className="mt-3 divide-y divide-slate-100">
            {releases?.map((r) => (
              <li key={r.name} className="py-2 text-sm">
                <span className="font-medium">{r.name}</span> <span className="mono break-all text-slate-500">{r.image}</span>
                <span className="block text-xs text-slate-500">
                  {r.notes} — {r.createdBy}, {formatTime(r.createdAt)}
                </span>
              </li>
            ))}
          </ul>
          {releases && releases.length > 0 && (
            <StartRolloutForm
              releases={releases}
              onStarted={(id) => {
                setSelected(id);
                load();
              }}
            />
          )}
          {releases && <CreateReleaseForm onCreated={load} />}
        </section>
        <section aria-labelledby="rollouts-title" className="card">
          <h2 id="rollouts-title">Rollouts</h2>
          {rollouts.length === 0 && <p className="mt-2 text-sm text-slate-500">No rollouts yet.</p>}
          <ul className="mt-3 divide-y divide-slate-100">
            {rollouts.map((r) => (
              <li key={r.id} className="flex items-center justify-between py-2 text-sm">
                <span>
                  <span className="mono">{r.id}</span> · {r.release} <Badge state={r.state} />
                </span>
                <Button small variant="secondary" aria-pressed={selected === r.id} onClick={() => setSelected(r.id)}>
                  Show
                </Button>
              </li>
            ))}
          </ul>
        </section>
      </div>
      {selected && <RolloutPanel key={selected} id={selected} onChanged={load} />}
    </>
  );
}

function RolloutPanel({ id, onChanged }: { id: string; onChanged: () => void }) {
  const [rollout, setRollout] = useState<Rollout | null>(null);
  const [error, setError] = useState('');
  const [asking, setAsking] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const refresh = useCallback(
    () =>
      api<{ rollout: Rollout }>(`/api/v1/rollouts/${id}`).then(
        (r) => setRollout(r.rollout),
        (err) => setError(describeError(err)),
      ),
    [id],
  );
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    void refresh();
    // Each event of the rollout redraws it (at most a few times a second).
    followEventStream(`/api/v1/rollouts/${id}/events`, {
      via: 'api',
      signal: controller.signal,
      onMessage: () => {
        clearTimeout(timer);
        timer = setTimeout(() => void refresh(), 250);
      },
    }).catch((err) => setError(describeError(err)));
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [id, refresh]);
  async function act(action: string) {
    setBusy(true);
    setError('');
    try {
      setRollout((await api<{ rollout: Rollout }>(`/api/v1/rollouts/${id}/${action}`, { method: 'POST' })).rollout);
      onChanged();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
      setAsking(null);
    }
  }
  if (!rollout) return error ? <Notice kind="error">{error}</Notice> : <Spinner label="Loading the rollout…" />;
  const failed = rollout.environments.filter((e) => e.status === 'failed');
  return (
    <section aria-labelledby="rollout-title" className="card mt-6">
      <h2 id="rollout-title">
        Rollout <span className="mono">{rollout.id}</span> of {rollout.release} <Badge state={rollout.state} />
      </h2>
      {rollout.reason && <p className="mt-1 text-sm text-red-800">{rollout.reason}</p>}
      {error && <Notice kind="error">{error}</Notice>}
      <ol className="mt-4 space-y-3">
        {rollout.waves.map((w) => (
          <li key={w.index} className="text-sm">
            <div className="flex justify-between">
              <span>
                Wave {w.index + 1} · {w.tenantIds.length} tenant(s) · {w.phase}
              </span>
              <span>
                {w.healthy}/{w.environments} healthy{w.failed ? `, ${w.failed} failed` : ''}
                {w.rolledBack ? `, ${w.rolledBack} rolled back` : ''}
              </span>
            </div>
            <ProgressBar
              label={`Wave ${w.index + 1}`}
              value={w.environments ? (w.healthy + w.failed + w.skipped + w.rolledBack) / w.environments : 1}
            />
          </li>
        ))}
      </ol>
      {failed.length > 0 && (
        <div className="mt-4">
          <h3 className="font-medium">Failed environments</h3>
          <ul className="mt-1 space-y-1 text-sm">
            {failed.map((e) => (
              <FailureLogs key={`${e.tenantId}-${e.env}`} tenantId={e.tenantId} env={e.env} error={e.error} />
            ))}
          </ul>
        </div>
      )}
      {rollout.skipped.length > 0 && (
        <p className="mt-3 text-xs text-slate-500">Skipped: {rollout.skipped.map((s) => `${s.tenantId} (${s.reason})`).join(', ')}</p>
      )}
      <div className="mt-4 flex flex-wrap gap-2">
        {Object.entries(ACTIONS)
          .filter(([, a]) => a.from.includes(rollout.state))
          .map(([name, a]) => (
            <Button key={name} small variant="secondary" busy={busy} onClick={() => (a.confirm ? setAsking(name) : void act(name))}>
              {a.label}
            </Button>
          ))}
      </div>
      <ConfirmDialog
        open={asking !== null}
        title={asking ? `${ACTIONS[asking].label} ${rollout.id}?` : ''}
        confirmLabel={asking ? ACTIONS[asking].label : ''}
        busy={busy}
        onConfirm={() => asking && void act(asking)}
        onCancel={() => setAsking(null)}
      >
        {asking ? ACTIONS[asking].confirm : ''}
      </ConfirmDialog>
    </section>
  );
}

mount(
  <SignedInPage title="Releases" wide admin>
    {() => <Releases />}
  </SignedInPage>,
);
