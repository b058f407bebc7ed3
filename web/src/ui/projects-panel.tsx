/** One user's projects (R-PROJECTS-1/2): Active/Inactive badges, activate/deactivate, and a /messages console. */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import { postEventStream } from '../lib/sse.ts';
import { Badge, Button, Field, Notice, Spinner } from './controls.tsx';

export interface Project {
  user_id: string;
  project_id: string;
  name: string;
  status: 'inactive' | 'activating' | 'active' | 'deactivating' | 'failed';
  endpoint?: string | null;
}

const STATUS_LABEL: Record<string, string> = {
  active: 'Active',
  inactive: 'Inactive',
  activating: 'Activating',
  deactivating: 'Deactivating',
  failed: 'Failed',
};

export function ProjectsPanel({ uid, email }: { uid: string; email: string }) {
  const base = `/api/v1/users/${encodeURIComponent(uid)}/projects`;
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState('');
  const [consoleFor, setConsoleFor] = useState<string | null>(null);
  const reload = async () => setProjects((await api<{ projects: Project[] }>(base)).projects);
  useEffect(() => {
    setProjects(null);
    setConsoleFor(null);
    reload().catch((err) => setError(describeError(err)));
  }, [uid]);

  async function act(key: string, work: () => Promise<unknown>) {
    setBusy(key);
    setError('');
    try {
      await work();
      await reload();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(null);
    }
  }

  function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get('name') ?? '').trim();
    void act('create', async () => {
      await api(base, { json: { name } });
      form.reset();
    });
  }

  return (
    <section aria-labelledby="projects-title" className="card space-y-4">
      <h2 id="projects-title">Projects of {email}</h2>
      <div aria-live="polite">
        {error && <Notice kind="error">{error}</Notice>}
        {!projects && !error && <Spinner label="Loading projects…" />}
        {projects?.length === 0 && <p className="text-sm text-slate-500">No projects yet.</p>}
      </div>
      <ul className="space-y-2">
        {projects?.map((p) => (
          <li key={p.project_id} className="rounded-lg border border-slate-200 p-3">
            <div className="flex flex-wrap items-center justify-between gap-2">
              <div>
                <span className="font-medium">{p.name}</span> <span className="mono text-slate-500">{p.project_id}</span>{' '}
                <Badge state={p.status} label={STATUS_LABEL[p.status] ?? p.status} />
              </div>
              <div className="flex flex-wrap gap-2">
                {p.status !== 'active' && (
                  <Button
                    small
                    busy={busy === `on:${p.project_id}`}
                    busyLabel="Activating…"
                    disabled={!!busy}
                    onClick={() => act(`on:${p.project_id}`, () => api(`${base}/${p.project_id}/activate`, { method: 'POST' }))}
                  >
                    Activate
                  </Button>
                )}
                {p.status === 'active' && (
                  <Button
                    small
                    variant="secondary"
                    busy={busy === `off:${p.project_id}`}
                    busyLabel="Deactivating…"
                    disabled={!!busy}
                    onClick={() => act(`off:${p.project_id}`, () => api(`${base}/${p.project_id}/deactivate`, { method: 'POST' }))}
                  >
                    Deactivate
                  </Button>
                )}
                {p.status === 'active' && (
                  <Button
                    small
                    variant="secondary"
                    aria-expanded={consoleFor === p.project_id}
                    onClick={() => setConsoleFor(consoleFor === p.project_id ? null : p.project_id)}
                  >
                    Console
                  </Button>
                )}
              </div>
            </div>
            {consoleFor === p.project_id && <MessageConsole path={`${base}/${p.project_id}/messages`} name={p.name} />}
          </li>
        ))}
      </ul>
      <form onSubmit={create} className="flex flex-col gap-2 sm:flex-row sm:items-end">
        <Field className="flex-1" label="New project name" name="name" required maxLength={80} />
        <Button type="submit" busy={busy === 'create'}>
          Create project
        </Button>
      </form>
    </section>
  );
}

/** Sends a message to the project's agent and shows its streamed answer as each chunk arrives. */
function MessageConsole({ path, name }: { path: string; name: string }) {
  const [reply, setReply] = useState('');
  const [state, setState] = useState<'idle' | 'streaming' | 'done' | 'error'>('idle');
  const [error, setError] = useState('');
  const stop = useRef<AbortController | null>(null);
  useEffect(() => () => stop.current?.abort(), []);

  async function send(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const message = String(new FormData(e.currentTarget).get('message') ?? '').trim();
    if (!message) return;
    stop.current = new AbortController();
    setReply('');
    setError('');
    setState('streaming');
    try {
      await postEventStream(
        path,
        { message },
        (m) => {
          if (m.event === 'done') return;
          let text = m.data;
          try {
            const data = JSON.parse(m.data) as { delta?: string; text?: string; content?: string; error?: { message?: string } };
            if (data.error?.message) throw new Error(data.error.message);
            text = data.delta ?? data.text ?? data.content ?? m.data;
          } catch (err) {
            if (!(err instanceof SyntaxError)) throw err;
          }
          setReply((r) => r + text);
        },
        { via: 'api', signal: stop.current.signal },
      );
      setState('done');
    } catch (err) {
      setError(describeError(err));
      setState('error');
    }
  }

  return (
    <div className="mt-3 space-y-2 border-t border-slate-100 pt-3">
      <form onSubmit={send} className="flex flex-col gap-2 sm:flex-row sm:items-end">
        <Field className="flex-1" label={`Message to ${name}'s agent`} name="message" required autoComplete="off" />
        <Button type="submit" busy={state === 'streaming'} busyLabel="Streaming…">
          Send
        </Button>
      </form>
      <div
        role="log"
        aria-live="polite"
        aria-label="Agent reply"
        className="min-h-12 whitespace-pre-wrap rounded-lg bg-slate-900 p-3 font-mono text-sm text-slate-100"
      >
        {reply || (state === 'streaming' ? '…' : 'The reply streams here.')}
      </div>
      {state === 'done' && <p className="text-xs text-slate-500">Reply complete.</p>}
      {error && <Notice kind="error">{error}</Notice>}
    </div>
  );
}
