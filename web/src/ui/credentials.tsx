/**
 * The generated credentials (R-SECRETS-2): revealed once, with copy buttons.
 * The one-time link is kept in this browser until it is used, so a reload
 * does not lose it; once used (here or elsewhere), the panel says so and
 * offers rotation, which asks first because every environment restarts.
 */
import { useState } from 'react';
import { api } from '../lib/api.ts';
import { ApiError, describeError } from '../lib/errors.ts';
import { followOperation, tenantPath, type Tenant } from '../lib/tenants.ts';
import { ConfirmDialog } from './confirm-dialog.tsx';
import { Button, Notice, Spinner } from './controls.tsx';

const linkKey = (tenantId: string) => `tenantplane.credentialsLink.${tenantId}`;

/** Keeps a tenant's one-time credentials link until it is used. */
export function rememberCredentialsLink(tenantId: string, link: string): void {
  localStorage.setItem(linkKey(tenantId), link);
}

function readLink(tenantId: string): string | null {
  return localStorage.getItem(linkKey(tenantId));
}

function forgetLink(tenantId: string): void {
  localStorage.removeItem(linkKey(tenantId));
}

/** `busy`: another operation of the tenant is running, so rotation waits for it. */
export function CredentialsPanel({ tenant, busy: othersBusy = false }: { tenant: Tenant; busy?: boolean }) {
  const [link, setLink] = useState(() => readLink(tenant.id));
  const [values, setValues] = useState<Record<string, string> | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [progress, setProgress] = useState('');

  async function reveal() {
    if (!link) return;
    setBusy(true);
    setError('');
    try {
      setValues((await api<{ credentials: Record<string, string> }>(link)).credentials);
      forgetLink(tenant.id);
    } catch (err) {
      // Gone (already read, or expired) or not valid: the link is useless now, so offer rotation instead.
      if (err instanceof ApiError && (err.status === 410 || err.status === 404)) {
        forgetLink(tenant.id);
        setLink(null);
      } else setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  async function rotate() {
    setBusy(true);
    setError('');
    setProgress('Starting…');
    try {
      const answer = await api<{ links: { credentials?: string } }>(`${tenantPath(tenant.id)}/rotate-credentials`, { method: 'POST' });
      if (answer.links.credentials) rememberCredentialsLink(tenant.id, answer.links.credentials);
      setConfirming(false);
      const result = await followOperation(tenant.id, 'rotate', (e) => setProgress(e.message), new AbortController().signal);
      if (result.outcome === 'failed') setError(result.event.message);
      setValues(null);
      setLink(answer.links.credentials ?? null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setConfirming(false);
      setBusy(false);
      setProgress('');
    }
  }

  return (
    <section aria-labelledby={`credentials-${tenant.id}`} className="space-y-3">
      <h3 id={`credentials-${tenant.id}`} className="font-semibold">
        Credentials
      </h3>
      {values ? (
        <div className="notice notice-info space-y-2">
          <p className="font-semibold">Copy them now: they are shown only this once.</p>
          <dl className="grid gap-2">
            {Object.entries(values).map(([key, value]) => (
              <div key={key} className="min-w-0">
                <dt className="mono font-semibold">{key}</dt>
                <dd className="flex items-center gap-2">
                  <code className="mono min-w-0 flex-1 break-all rounded bg-white px-2 py-1">{value}</code>
                  <CopyButton value={value} label={`Copy ${key}`} />
                </dd>
              </div>
            ))}
          </dl>
          <p className="flex flex-wrap gap-2">
            <CopyButton
              value={Object.entries(values)
                .map(([k, v]) => `${k}=${v}`)
                .join('\n')}
              label="Copy all as KEY=value lines"
              text="Copy all"
            />
            <Button small variant="secondary" onClick={() => setValues(null)}>
              I have saved them
            </Button>
          </p>
        </div>
      ) : link ? (
        <>
          <p className="text-sm text-slate-600">
            The generated database URL and keys of {tenant.name} can be shown once. Have somewhere safe to paste them.
          </p>
          <Button variant="secondary" busy={busy} busyLabel="Fetching…" onClick={reveal}>
            Show my credentials once
          </Button>
        </>
      ) : (
        <>
          <p className="text-sm text-slate-600">
            The generated credentials of {tenant.name} were already shown once and cannot be shown again. Lost them? Rotate: new values
            replace the old ones, every environment (live included) restarts, and you can show the new ones once.
          </p>
          <Button
            variant="secondary"
            busy={busy && !confirming}
            busyLabel="Rotating…"
            disabled={busy || othersBusy || tenant.state !== 'ready'}
            onClick={() => setConfirming(true)}
          >
            Rotate credentials…
          </Button>
        </>
      )}
      {progress && (
        <p role="status" className="text-sm text-slate-600">
          <Spinner label={progress} />
        </p>
      )}
      {error && <Notice kind="error">{error}</Notice>}
      <ConfirmDialog
        open={confirming}
        title={`Rotate the credentials of ${tenant.name}?`}
        confirmLabel="Rotate and restart"
        busy={busy}
        onCancel={() => setConfirming(false)}
        onConfirm={rotate}
      >
        <p>
          The old values stop working. Every environment restarts with the new ones, <strong>live included</strong>, so live is briefly
          unavailable.
        </p>
      </ConfirmDialog>
    </section>
  );
}

/** Copies a value to the clipboard and says so. */
export function CopyButton({ value, label, text = 'Copy' }: { value: string; label: string; text?: string }) {
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  return (
    <Button
      small
      variant="secondary"
      aria-label={label}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(value);
          setCopied('yes');
        } catch {
          setCopied('no');
        }
        setTimeout(() => setCopied(null), 2000);
      }}
    >
      {copied === 'yes' ? 'Copied' : copied === 'no' ? 'Select and copy' : text}
    </Button>
  );
}
