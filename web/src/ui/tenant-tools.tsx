/** The "manage" sections of a tenant: deploy and secrets (logs: logs-panel.tsx; costs and metrics: usage-charts.tsx). */
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import { ENV_LABELS, tenantPath, type Tenant } from '../lib/tenants.ts';
import { ConfirmDialog } from './confirm-dialog.tsx';
import { Button, Field, Notice, Spinner, formatTime } from './controls.tsx';

/** Runs an async action with busy and error state; the error is shown in words. */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError('');
    try {
      await work();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

interface RegistryToken {
  registry: string;
  username: string;
  token: string;
  repository: string;
  tag: string;
  expiresAt?: string;
}

/** Which environments an operation touches, in words, naming live when it is one of them. */
export function affected(tenant: Tenant): string {
  const names = tenant.environments.map((e) => ENV_LABELS[e]);
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * Deploy: says what an image is and how to push one, asks before it touches
 * the environments (live included), and leaves its outcome on the card.
 */
export function DeploySection({ tenant, onDeploy }: { tenant: Tenant; onDeploy: (image: string) => Promise<void> }) {
  const [image, setImage] = useState(tenant.image);
  const [push, setPush] = useState<RegistryToken | null>(null);
  const [pushError, setPushError] = useState('');
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run } = useAction();
  async function loadPush() {
    try {
      setPush(await api<RegistryToken>(`${tenantPath(tenant.id)}/registry-token`));
    } catch (err) {
      setPushError(describeError(err));
    }
  }
  const live = tenant.environments.includes('live');
  return (
    <section aria-labelledby={`deploy-${tenant.id}`} className="space-y-3">
      <h3 id={`deploy-${tenant.id}`} className="font-semibold">
        Deploy
      </h3>
      <p className="text-sm text-slate-600">
        A deploy runs a container image on {affected(tenant)}. Running now: <code className="mono break-all">{tenant.image}</code>. Deploy
        the platform image again to restart on it, or push your own build to your repository first.
      </p>
      <details className="text-sm" onToggle={(e) => (e.currentTarget.open && !push && !pushError ? void loadPush() : undefined)}>
        <summary className="cursor-pointer text-brand-700">How do I push my own image?</summary>
        <div className="mt-2 space-y-2">
          {!push && !pushError && <Spinner label="Getting a push token…" />}
          {pushError && <Notice kind="error">{pushError}</Notice>}
          {push && (
            <>
              <p>
                Log in to the registry with this short-lived token{push.expiresAt ? ` (valid until ${formatTime(push.expiresAt)})` : ''},
                tag your build, push it, then deploy that image here:
              </p>
              <pre className="mono overflow-x-auto whitespace-pre rounded-lg bg-slate-900 p-3 text-slate-100">
                {[
                  `echo '${push.token}' | docker login ${push.registry} -u ${push.username} --password-stdin`,
                  `docker tag my-app ${push.repository}:${push.tag}`,
                  `docker push ${push.repository}:${push.tag}`,
                ].join('\n')}
              </pre>
              <p className="flex flex-wrap gap-2">
                <Button small variant="secondary" onClick={() => setImage(`${push.repository}:${push.tag}`)}>
                  Use {push.repository.split('/').at(-1)}:{push.tag}
                </Button>
                <Button small variant="secondary" onClick={() => setImage(tenant.image)}>
                  Use the running image
                </Button>
              </p>
              <p className="text-xs text-slate-500">
                On this local platform there is no registry to push to: deploying the platform image restarts your environments on it.
              </p>
            </>
          )}
        </div>
      </details>
      <form
        className="flex flex-col gap-2 sm:flex-row sm:items-end"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          setConfirming(true);
        }}
      >
        <Field className="flex-1" label="Image" value={image} onChange={(e) => setImage(e.target.value)} spellCheck={false} required />
        <Button type="submit" busy={busy} busyLabel="Deploying…">
          Deploy…
        </Button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      <ConfirmDialog
        open={confirming}
        title={`Deploy to ${tenant.name}?`}
        confirmLabel={live ? 'Deploy, live included' : 'Deploy'}
        busy={busy}
        onCancel={() => setConfirming(false)}
        onConfirm={() => {
          setConfirming(false);
          void run(() => onDeploy(image.trim()));
        }}
      >
        <p>
          Every environment ({affected(tenant)}) restarts on <code className="mono break-all">{image.trim()}</code>.
        </p>
        {live && (
          <p className="mt-2">
            <strong>Live is included:</strong> your customers are served by the new image as soon as it is up.
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}

interface SecretMeta {
  key: string;
  origin: 'generated' | 'user';
  version: number;
  updatedAt: string;
}
type SecretChange = { kind: 'save'; key: string; value: string; exists: boolean; form: HTMLFormElement } | { kind: 'delete'; key: string };

/** `onRestarting` is told when a change restarts the environments, so the card can follow that restart. */
export function SecretsSection({ tenant, onRestarting }: { tenant: Tenant; onRestarting?: () => void }) {
  const [secrets, setSecrets] = useState<SecretMeta[] | null>(null);
  const [message, setMessage] = useState('');
  const [pending, setPending] = useState<SecretChange | null>(null);
  const { busy, error, run } = useAction();
  const base = `${tenantPath(tenant.id)}/secrets`;
  const reload = async () => setSecrets((await api<{ secrets: SecretMeta[] }>(base)).secrets);
  useEffect(() => void run(reload), [tenant.id]);
  // Environments restart to see a changed secret only while they run; live is then among them.
  const restarts = tenant.state === 'ready';
  async function apply(change: SecretChange) {
    setPending(null);
    await run(async () => {
      if (change.kind === 'save') {
        const answer = await api<{ secret: { restarting?: boolean } }>(`${base}/${encodeURIComponent(change.key)}`, {
          method: change.exists ? 'PATCH' : 'POST',
          json: { value: change.value },
        });
        change.form.reset();
        setMessage(
          `${change.exists ? 'Updated' : 'Added'} ${change.key}.${answer.secret?.restarting ? ` ${affected(tenant)} are restarting to see it.` : ''}`,
        );
        if (answer.secret?.restarting) onRestarting?.();
      } else {
        const answer = await api<{ restarting?: boolean }>(`${base}/${encodeURIComponent(change.key)}`, { method: 'DELETE' });
        setMessage(`Deleted ${change.key}.${answer?.restarting ? ` ${affected(tenant)} are restarting without it.` : ''}`);
        if (answer?.restarting) onRestarting?.();
      }
      await reload();
    });
  }
  function ask(change: SecretChange) {
    setMessage('');
    if (restarts) setPending(change);
    else void apply(change);
  }
  function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const key = String(data.get('key') ?? '').trim();
    ask({ kind: 'save', key, value: String(data.get('value') ?? ''), exists: Boolean(secrets?.some((s) => s.key === key)), form });
  }
  return (
    <section aria-labelledby={`secrets-${tenant.id}`} className="space-y-3">
      <h3 id={`secrets-${tenant.id}`} className="font-semibold">
        Secrets
      </h3>
      <p className="text-xs text-slate-500">
        Values are stored encrypted and never shown here. Changing one restarts every running environment
        {tenant.environments.includes('live') ? ', live included' : ''}.
      </p>
      {secrets === null ? (
        <Spinner label="Loading secrets…" />
      ) : (
        <ul className="divide-y divide-slate-100 rounded-lg border border-slate-200">
          {secrets.length === 0 && <li className="p-2 text-sm text-slate-500">No secrets yet.</li>}
          {secrets.map((s) => (
            <li key={s.key} className="flex items-center justify-between gap-2 p-2 text-sm">
              <span className="mono break-all">{s.key}</span>
              <span className="flex items-center gap-2">
                <span className="text-xs text-slate-500">{s.origin === 'generated' ? 'generated' : `v${s.version}`}</span>
                {s.origin === 'user' && (
                  <Button
                    small
                    variant="secondary"
                    aria-label={`Delete secret ${s.key}`}
                    disabled={busy}
                    onClick={() => ask({ kind: 'delete', key: s.key })}
                  >
                    Delete
                  </Button>
                )}
              </span>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={save} className="grid gap-2 sm:grid-cols-[1fr_1fr_auto] sm:items-end">
        <Field
          label="Key"
          name="key"
          required
          pattern="[A-Z][A-Z0-9_]{1,63}"
          placeholder="GEMINI_API_KEY"
          spellCheck={false}
          autoComplete="off"
        />
        <Field label="Value" name="value" type="password" required autoComplete="off" />
        <Button type="submit" busy={busy}>
          Save secret
        </Button>
      </form>
      <p aria-live="polite" className="text-sm text-slate-600">
        {message}
      </p>
      {error && <Notice kind="error">{error}</Notice>}
      <ConfirmDialog
        open={pending !== null}
        title={pending?.kind === 'delete' ? `Delete ${pending.key}?` : `Save ${pending?.key ?? ''}?`}
        confirmLabel={pending?.kind === 'delete' ? 'Delete and restart' : 'Save and restart'}
        busy={busy}
        onCancel={() => setPending(null)}
        onConfirm={() => pending && void apply(pending)}
      >
        <p>
          {affected(tenant)} restart to {pending?.kind === 'delete' ? 'drop it' : 'see the new value'}
          {tenant.environments.includes('live') ? (
            <>
              : <strong>live is briefly unavailable</strong>
            </>
          ) : (
            ''
          )}
          .
        </p>
      </ConfirmDialog>
    </section>
  );
}
