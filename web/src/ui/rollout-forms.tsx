/**
 * The Releases page's forms (admins): create a release from an image, and
 * start a rollout of one with its target (all tenants, a plan, a label or a
 * list of ids) and strategy (waves, parallel updates, soak, error budget,
 * error rate), each field with the API's default. Also the last log lines of
 * a failed environment, one click from the rollout's failures.
 */
import { useState } from 'react';
import type { Release } from '../../../shared/releases/releases.ts';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import { ConfirmDialog } from './confirm-dialog.tsx';
import { Button } from './controls.tsx';

export function CreateReleaseForm({ onCreated }: { onCreated: (name: string) => void }) {
  const [name, setName] = useState('');
  const [image, setImage] = useState('');
  const [notes, setNotes] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  async function create(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const res = await api<{ release: Release }>('/api/v1/releases', { json: { name, image, ...(notes ? { notes } : {}) } });
      onCreated(res.release.name);
      setName('');
      setImage('');
      setNotes('');
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form aria-label="Create a release" className="mt-4 grid gap-2 border-t border-slate-100 pt-4 text-sm" onSubmit={create}>
      <h3 className="font-medium">Create a release</h3>
      <label>
        Release name
        <input className="input" required value={name} onChange={(e) => setName(e.target.value)} placeholder="v2" />
      </label>
      <label>
        Image
        <input
          className="input mono"
          required
          value={image}
          onChange={(e) => setImage(e.target.value)}
          placeholder="local/my-app@sha256:… (tenantplane images push ./folder)"
        />
      </label>
      <label>
        Notes
        <input className="input" value={notes} onChange={(e) => setNotes(e.target.value)} placeholder="What changed" />
      </label>
      <div>
        <Button type="submit" busy={busy}>
          Create release
        </Button>
      </div>
      {error && (
        <p role="alert" className="field-error">
          {error}
        </p>
      )}
    </form>
  );
}

type TargetKind = 'all' | 'plan' | 'label' | 'ids';

/** The API's strategy from the form's fields; waves as "1, 10%, 50%, 100%". */
function strategyOf(f: { waves: string; maxParallel: string; soak: string; errorBudget: string; maxErrorRate: string }) {
  const waves = f.waves
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean)
    .map((w) => (w.endsWith('%') ? w : Number(w)));
  return {
    waves,
    maxParallel: Number(f.maxParallel),
    soakSeconds: Number(f.soak),
    errorBudget: Number(f.errorBudget),
    maxErrorRate: Number(f.maxErrorRate) / 100,
  };
}

function targetOf(kind: TargetKind, value: string) {
  if (kind === 'all') return 'all';
  if (kind === 'plan') return { plan: value.trim() };
  if (kind === 'label') return { label: value.trim() };
  return {
    ids: value
      .split(/[\s,]+/)
      .map((v) => v.trim())
      .filter(Boolean),
  };
}

export function StartRolloutForm({ releases, onStarted }: { releases: Release[]; onStarted: (id: string) => void }) {
  const [release, setRelease] = useState(releases[0].name);
  const [kind, setKind] = useState<TargetKind>('all');
  const [value, setValue] = useState('');
  const [fields, setFields] = useState({ waves: '1, 10%, 50%, 100%', maxParallel: '5', soak: '60', errorBudget: '0', maxErrorRate: '10' });
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const set = (key: keyof typeof fields) => (e: React.ChangeEvent<HTMLInputElement>) => setFields({ ...fields, [key]: e.target.value });
  const who =
    kind === 'all'
      ? 'every tenant'
      : kind === 'plan'
        ? `the tenants on plan ${value}`
        : kind === 'label'
          ? `the tenants labelled ${value}`
          : value;
  async function start() {
    setBusy(true);
    setError('');
    try {
      const res = await api<{ rollout: { id: string } }>('/api/v1/rollouts', {
        json: { release, target: targetOf(kind, value), strategy: strategyOf(fields) },
      });
      onStarted(res.rollout.id);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
      setAsking(false);
    }
  }
  const small = 'input w-24';
  // The dialog holds a form of its own, so it stays outside this one.
  return (
    <>
      <form
        aria-label="Start a rollout"
        className="mt-4 grid gap-2 border-t border-slate-100 pt-4 text-sm"
        onSubmit={(e) => {
          e.preventDefault();
          setAsking(true);
        }}
      >
        <h3 className="font-medium">Start a rollout</h3>
        <div className="flex flex-wrap items-end gap-2">
          <label>
            Release
            <select aria-label="Release to roll out" className="input w-auto" value={release} onChange={(e) => setRelease(e.target.value)}>
              {releases.map((r) => (
                <option key={r.name}>{r.name}</option>
              ))}
            </select>
          </label>
          <label>
            Target
            <select className="input w-auto" value={kind} onChange={(e) => setKind(e.target.value as TargetKind)}>
              <option value="all">All tenants</option>
              <option value="plan">A plan</option>
              <option value="label">A label</option>
              <option value="ids">Tenant ids</option>
            </select>
          </label>
          {kind !== 'all' && (
            <label>
              {kind === 'plan' ? 'Plan' : kind === 'label' ? 'Label (key=value)' : 'Tenant ids (comma-separated)'}
              <input
                className="input"
                required
                value={value}
                onChange={(e) => setValue(e.target.value)}
                placeholder={kind === 'plan' ? 'pro' : kind === 'label' ? 'ring=early' : 't-abc…, t-def…'}
              />
            </label>
          )}
        </div>
        <div className="flex flex-wrap items-end gap-2">
          <label>
            Waves
            <input className="input w-44" value={fields.waves} onChange={set('waves')} />
          </label>
          <label>
            At most updating at once
            <input className={small} inputMode="numeric" value={fields.maxParallel} onChange={set('maxParallel')} />
          </label>
          <label>
            Soak (seconds)
            <input className={small} inputMode="numeric" value={fields.soak} onChange={set('soak')} />
          </label>
          <label>
            Error budget (tenants)
            <input className={small} inputMode="numeric" value={fields.errorBudget} onChange={set('errorBudget')} />
          </label>
          <label>
            Max error rate (%)
            <input className={small} inputMode="numeric" value={fields.maxErrorRate} onChange={set('maxErrorRate')} />
          </label>
        </div>
        <div>
          <Button type="submit">{kind === 'all' ? 'Roll out to all tenants…' : 'Roll out…'}</Button>
        </div>
        {error && (
          <p role="alert" className="field-error">
            {error}
          </p>
        )}
      </form>
      <ConfirmDialog
        open={asking}
        title={`Roll ${release} out`}
        confirmLabel="Start the rollout"
        busy={busy}
        onConfirm={start}
        onCancel={() => setAsking(false)}
      >
        {`${who.charAt(0).toUpperCase()}${who.slice(1)} not pinned to a release restarts on ${release}, in waves of ${fields.waves}, live included.`}
      </ConfirmDialog>
    </>
  );
}

interface LogLine {
  time: string;
  stream: string;
  text: string;
}

/** A failed environment of a rollout: one click shows its last log lines (the driver's system lines too). */
export function FailureLogs({ tenantId, env, error }: { tenantId: string; env: string; error?: string }) {
  const [lines, setLines] = useState<LogLine[] | null>(null);
  const [open, setOpen] = useState(false);
  const [problem, setProblem] = useState('');
  async function toggle() {
    if (open) return setOpen(false);
    setOpen(true);
    try {
      const res = await api<{ lines: LogLine[] }>(`/api/v1/tenants/${tenantId}/logs?env=${encodeURIComponent(env)}&limit=50`);
      setLines(res.lines);
    } catch (err) {
      setProblem(describeError(err));
    }
  }
  return (
    <li>
      <Button small variant="secondary" aria-expanded={open} onClick={() => void toggle()}>
        Logs of {tenantId} {env}
      </Button>{' '}
      <span className="text-slate-600">{error}</span> <a href={`/tenants.html?id=${tenantId}`}>tenant</a>
      {open && (
        <pre
          role="log"
          aria-label={`Logs of ${tenantId} ${env}`}
          className="mono mt-1 max-h-64 overflow-auto rounded bg-slate-900 p-2 text-xs text-slate-100"
        >
          {problem || (lines ? lines.map((l) => `${l.time} ${l.stream}: ${l.text}`).join('\n') || 'No log lines yet.' : 'Loading…')}
        </pre>
      )}
    </li>
  );
}
