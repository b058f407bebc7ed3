/**
 * `/device.html?code=XXXX-XXXX`: approves (or denies) a `tenantplane login`
 * waiting in a terminal (R-UX-1). Behind sign-in; the person checks that the
 * code matches the one the terminal shows before approving.
 */
import { useState, type FormEvent } from 'react';
import { api } from './lib/api.ts';
import type { SignedInUser } from './lib/auth.ts';
import { describeError } from './lib/errors.ts';
import { Button, Field, Notice } from './ui/controls.tsx';
import { SignedInPage, mount } from './ui/layout.tsx';

const fromLink = new URLSearchParams(location.search).get('code') ?? '';

type Outcome = { kind: 'approved' | 'denied' } | { kind: 'error'; message: string };

function Device({ user }: { user: SignedInUser }) {
  const [code, setCode] = useState(fromLink.toUpperCase());
  const [busy, setBusy] = useState<'approve' | 'deny' | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  async function decide(decision: 'approve' | 'deny', event?: FormEvent) {
    event?.preventDefault();
    setBusy(decision);
    setOutcome(null);
    try {
      await api(`/api/v1/device/${decision}`, { json: { user_code: code } });
      setOutcome({ kind: decision === 'approve' ? 'approved' : 'denied' });
    } catch (err) {
      setOutcome({ kind: 'error', message: describeError(err) });
    } finally {
      setBusy(null);
    }
  }

  if (outcome?.kind === 'approved') {
    return (
      <Notice kind="ok" title="The CLI is signed in" className="mt-4">
        <p role="status">
          The terminal that showed <strong>{code}</strong> is now signed in as <strong>{user.email}</strong>. You can close this page.
        </p>
      </Notice>
    );
  }
  if (outcome?.kind === 'denied') {
    return (
      <Notice kind="info" title="Sign-in denied" className="mt-4">
        <p role="status">
          The terminal that showed <strong>{code}</strong> was not signed in.
        </p>
      </Notice>
    );
  }
  return (
    <form className="mt-4 max-w-md space-y-4" onSubmit={(e) => decide('approve', e)}>
      <p>
        A terminal asks to sign in to tenantplane as <strong>{user.email}</strong>. Approve only if you just ran{' '}
        <code>tenantplane login</code> and it shows this code.
      </p>
      <Field
        label="Code shown in your terminal"
        name="user_code"
        value={code}
        onChange={(e) => setCode(e.target.value.toUpperCase())}
        autoComplete="off"
        spellCheck={false}
        placeholder="XXXX-XXXX"
        maxLength={9}
        className="font-mono"
        required
      />
      {outcome?.kind === 'error' && (
        <Notice kind="error" title="Not approved">
          <p role="alert">{outcome.message}</p>
        </Notice>
      )}
      <div className="flex gap-2">
        <Button type="submit" busy={busy === 'approve'} busyLabel="Approving…" disabled={busy !== null}>
          Approve
        </Button>
        <Button variant="secondary" busy={busy === 'deny'} busyLabel="Denying…" disabled={busy !== null} onClick={() => decide('deny')}>
          Deny
        </Button>
      </div>
    </form>
  );
}

mount(
  <SignedInPage title="Approve a CLI sign-in">
    {(user) => (
      <>
        <h1>Approve a CLI sign-in</h1>
        <Device user={user} />
      </>
    )}
  </SignedInPage>,
);
