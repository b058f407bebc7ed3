/**
 * An environment's logs, newest first. With **Follow** on (the default) the
 * page holds the log stream open (`GET …/logs/stream`, SSE on the api
 * function's own URL, resumed with Last-Event-ID after a drop or the server's
 * deadline), so a line the workload writes appears within about a second.
 * With Follow off it shows the lines read once, and **Refresh logs** reads
 * again. Lines wrap: nothing runs off the right edge, even at phone width.
 */
import { useEffect, useState } from 'react';
import { EnvOptions } from './env-options.tsx';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import { followEventStream } from '../lib/sse.ts';
import { ENV_LABELS, tenantPath, type EnvName, type Tenant } from '../lib/tenants.ts';
import { Button, Notice, formatTime } from './controls.tsx';

interface LogLine {
  time: string;
  stream: string;
  text: string;
}

/** A line with its place in what this panel received, as its React key (lines have no id of their own). */
type ShownLine = LogLine & { seq: number };

/** Lines kept on the page; older ones drop off the bottom. */
const KEEP = 500;

export function LogsPanel({ tenant }: { tenant: Tenant }) {
  const [env, setEnv] = useState<EnvName>(tenant.environments.includes('live') ? 'live' : tenant.environments[0]);
  const [lines, setLines] = useState<ShownLine[] | null>(null);
  const [follow, setFollow] = useState(true);
  const [connection, setConnection] = useState<'connecting' | 'live' | 'reconnecting' | 'off'>('off');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    setLines(null);
    setError('');
    const controller = new AbortController();
    if (follow) {
      // The stream starts with the last 200 lines, then each new one.
      const received: ShownLine[] = [];
      let scheduled = false;
      setConnection('connecting');
      followEventStream(`${tenantPath(tenant.id)}/logs/stream?env=${env}&limit=200`, {
        via: 'api',
        signal: controller.signal,
        onConnection: (state) => setConnection(state),
        onMessage(m) {
          if (m.event === 'error') return setError(JSON.parse(m.data).message);
          if (m.event !== 'log') return;
          received.push({ ...(JSON.parse(m.data) as LogLine), seq: received.length });
          // Lines come in bursts (the history first): render once per burst, not once per line.
          if (scheduled) return;
          scheduled = true;
          setTimeout(() => {
            scheduled = false;
            setLines(received.slice(-KEEP));
          }, 50);
        },
      })
        .then(() => setLines((current) => current ?? []))
        .catch((err) => {
          if (!controller.signal.aborted) setError(describeError(err));
        });
      // A stream with no lines yet: show that, not "Loading…".
      const empty = setTimeout(() => setLines((current) => current ?? (received.length ? current : [])), 3000);
      return () => {
        clearTimeout(empty);
        controller.abort();
        setConnection('off');
      };
    }
    setBusy(true);
    api<{ lines: LogLine[] }>(`${tenantPath(tenant.id)}/logs?env=${env}&limit=200`, { signal: controller.signal })
      .then((r) => setLines(r.lines.map((l, seq) => ({ ...l, seq }))))
      .catch((err) => {
        if (!controller.signal.aborted) setError(describeError(err));
      })
      .finally(() => setBusy(false));
    return () => controller.abort();
  }, [tenant.id, env, follow, reloads]);

  const newestFirst = lines ? [...lines].reverse() : null;
  return (
    <section aria-labelledby={`logs-${tenant.id}`} className="min-w-0 space-y-3">
      <div className="flex flex-wrap items-end gap-2">
        <h3 id={`logs-${tenant.id}`} className="mr-auto font-semibold">
          Logs <span className="text-xs font-normal text-slate-600">newest first</span>
        </h3>
        <label className="text-sm">
          <span className="sr-only">Log environment</span>
          <select className="input" value={env} onChange={(e) => setEnv(e.target.value as EnvName)}>
            <EnvOptions tenant={tenant} />
          </select>
        </label>
        <label className="flex items-center gap-1 text-sm">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} className="accent-brand-600" /> Follow
        </label>
        {!follow && (
          <Button small variant="secondary" busy={busy} onClick={() => setReloads((n) => n + 1)}>
            Refresh logs
          </Button>
        )}
      </div>
      <p className="text-xs text-slate-600" aria-live="polite">
        {follow
          ? connection === 'live'
            ? 'Following: new lines appear as they are written.'
            : connection === 'reconnecting'
              ? 'Reconnecting to the log stream…'
              : 'Connecting to the log stream…'
          : 'Not following; Refresh logs reads them again.'}
      </p>
      {error && <Notice kind="error">{error}</Notice>}
      <section
        aria-label={`Log lines of ${ENV_LABELS[env]}`}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a box that scrolls must be reachable by keyboard to be scrolled
        tabIndex={0}
        className="max-h-72 overflow-y-auto overflow-x-hidden rounded-lg bg-slate-900 p-3 text-slate-100"
      >
        {newestFirst === null ? (
          <p className="mono text-sm">Loading…</p>
        ) : newestFirst.length === 0 ? (
          <p className="mono text-sm">No log lines yet.</p>
        ) : (
          <ol className="mono space-y-0.5 text-xs leading-5">
            {newestFirst.map((l) => (
              <li
                key={l.seq}
                className={`whitespace-pre-wrap [overflow-wrap:anywhere] ${l.stream === 'stderr' ? 'text-red-300' : l.stream === 'system' ? 'text-amber-200' : ''}`}
              >
                <span className="text-slate-400">{formatTime(l.time)}</span> {l.stream === 'stderr' ? '! ' : ''}
                {l.text}
              </li>
            ))}
          </ol>
        )}
      </section>
    </section>
  );
}
