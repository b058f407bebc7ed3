/**
 * Sign up (and sign in: a returning user asks for a new link, which is the same
 * request; the mail then says "you already have an account" and its link signs in).
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, describeError, describeWait } from './lib/errors.ts';
import { Layout, mount } from './ui/layout.tsx';
import { Button, Field, Notice } from './ui/controls.tsx';
import { saveProfile } from './lib/profile.ts';

// The migration choice still travels from a marketing link (?migration=…); the form does not ask, since nothing here depends on it yet.
const MIGRATIONS = ['fresh', 'enhance', 'full'];
/** The per-address floor between two link mails (MAIL_PER_MINUTE's default: one a minute). */
const RESEND_SECONDS = 60;
const sentKey = (email: string) => `tenantplane.linkSentAt.${email.toLowerCase()}`;
const secondsToWait = (email: string) =>
  Math.max(0, Math.ceil((Number(localStorage.getItem(sentKey(email)) ?? 0) + RESEND_SECONDS * 1000 - Date.now()) / 1000));

type Errors = Partial<Record<'email' | 'name' | 'company' | 'migration' | 'form', string>>;
type Outcome = { kind: 'sent'; email: string; again: boolean } | { kind: 'error'; title: string; message: string };

function Signup() {
  const query = new URLSearchParams(location.search);
  const signIn = query.get('mode') === 'signin';
  const preset = MIGRATIONS.includes(query.get('migration') ?? '') ? query.get('migration')! : undefined;
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const form = useRef<HTMLFormElement>(null);
  const resultHeading = useRef<HTMLParagraphElement>(null);

  const focusFirstInvalid = () => requestAnimationFrame(() => form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const email = String(data.get('email') ?? '').trim();
    const emailInput = event.currentTarget.elements.namedItem('email') as HTMLInputElement;
    setErrors({});
    setOutcome(null);
    if (!email || !emailInput.checkValidity()) {
      setErrors({ email: 'Enter your email address, like ada@example.com.' });
      focusFirstInvalid();
      return;
    }
    // A second link within the floor would be silently dropped by the server: say so instead of pretending.
    if (secondsToWait(email) > 0) {
      setOutcome({ kind: 'sent', email, again: true });
      return;
    }
    const payload: Record<string, string> = { email };
    if (!signIn && preset) payload.migration = preset;
    for (const name of ['name', 'company']) {
      const value = String(data.get(name) ?? '').trim();
      if (value) payload[name] = value;
    }
    if (query.get('plan')) payload.plan = query.get('plan')!;
    setBusy(true);
    try {
      const res = await fetch('/api/signup', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(payload),
      });
      if (res.status === 202) {
        // The launch page suggests a tenant name from these (the activation answer does not carry them).
        if (!signIn) saveProfile({ email, company: payload.company, name: payload.name });
        localStorage.setItem(sentKey(email), String(Date.now()));
        setOutcome({ kind: 'sent', email, again: false });
      } else {
        const body = await res
          .clone()
          .json()
          .catch(() => null);
        if (res.status === 400 && body?.error?.code === 'validation_failed') {
          const fields = (body.error.details?.fields ?? {}) as Record<string, string>;
          const next: Errors = {};
          for (const [name, message] of Object.entries(fields))
            next[(['email', 'name', 'company', 'migration'].includes(name) ? name : 'form') as keyof Errors] = message;
          if (Object.keys(next).length === 0) next.form = body.error.message;
          setErrors(next);
          focusFirstInvalid();
        } else {
          const retryAfter = Number(res.headers.get('Retry-After')) || null;
          const title = res.status === 429 ? 'Too many attempts' : 'Something went wrong';
          const message =
            res.status === 429
              ? `Please try again ${describeWait(retryAfter)}.`
              : describeError(new ApiError(body?.error?.message ?? `The server answered ${res.status}.`, res.status, 'x'));
          setOutcome({ kind: 'error', title, message });
        }
      }
    } catch {
      setOutcome({ kind: 'error', title: 'We could not reach the server', message: 'Check your connection and try again.' });
    } finally {
      setBusy(false);
      requestAnimationFrame(() => resultHeading.current?.focus());
    }
  }

  const sent = outcome?.kind === 'sent';
  return (
    <Layout title={signIn ? 'Sign in' : 'Sign up'}>
      <div className="card mx-auto max-w-lg">
        <h1>{signIn ? 'Sign in' : 'Create your account'}</h1>
        <p className="mt-2 text-slate-600">
          {signIn
            ? 'We will email you a link that signs you in. No password needed.'
            : 'We will email you a link to activate it. No password needed.'}
        </p>
        <form ref={form} noValidate onSubmit={submit} hidden={sent} className="mt-6 space-y-4">
          <Field
            label="Email address"
            name="email"
            type="email"
            autoComplete="email"
            inputMode="email"
            required
            maxLength={254}
            error={errors.email}
          />
          {!signIn && (
            <>
              <Field
                label={
                  <>
                    Your name <span className="font-normal text-slate-500">(optional)</span>
                  </>
                }
                name="name"
                autoComplete="name"
                maxLength={100}
                error={errors.name}
              />
              <Field
                label={
                  <>
                    Company <span className="font-normal text-slate-500">(optional)</span>
                  </>
                }
                name="company"
                autoComplete="organization"
                maxLength={100}
                error={errors.company}
              />
            </>
          )}
          {errors.form && <p className="field-error">{errors.form}</p>}
          <Button type="submit" busy={busy} busyLabel={signIn ? 'Sending…' : 'Signing up…'} className="w-full sm:w-auto">
            {signIn ? 'Email me a sign-in link' : 'Sign up'}
          </Button>
          {signIn ? (
            <p className="text-sm text-slate-600">
              New here? <a href="/signup.html">Create an account</a>.
            </p>
          ) : (
            <p className="text-sm text-slate-600">
              Have an account? <a href="/signup.html?mode=signin">Sign in with an email link</a>.
            </p>
          )}
        </form>
        <div role="status" aria-live="polite" className="mt-4">
          {outcome?.kind === 'sent' && (
            <Notice kind="ok">
              <p ref={resultHeading} tabIndex={-1} className="font-semibold">
                Check your inbox
              </p>
              <p className="mt-1">
                {outcome.again ? 'We already sent a link to ' : 'We sent a link to '}
                <strong>{outcome.email}</strong>
                {signIn
                  ? ': a sign-in link if you have an account, or an activation link if you are new.'
                  : ': open it to activate your account (if you already have one, it signs you in instead).'}{' '}
                It works once, for 24 hours.
              </p>
              <p className="mt-1">No mail after a few minutes? Look in your spam folder, or send another link.</p>
              <Resend email={outcome.email} onSend={() => form.current?.requestSubmit()} busy={busy} />
              <p className="mt-2 text-sm">
                <button type="button" className="underline" onClick={() => setOutcome(null)}>
                  Use a different address
                </button>
              </p>
            </Notice>
          )}
          {outcome?.kind === 'error' && (
            <Notice kind="error">
              <p ref={resultHeading} tabIndex={-1} className="font-semibold">
                {outcome.title}
              </p>
              <p className="mt-1">{outcome.message}</p>
            </Notice>
          )}
        </div>
      </div>
    </Layout>
  );
}

/** "Send another link", disabled with a countdown while the per-address floor lasts. */
function Resend({ email, onSend, busy }: { email: string; onSend: () => void; busy: boolean }) {
  const [wait, setWait] = useState(() => secondsToWait(email));
  useEffect(() => {
    setWait(secondsToWait(email));
    const timer = setInterval(() => setWait(secondsToWait(email)), 1000);
    return () => clearInterval(timer);
  }, [email]);
  return (
    <p className="mt-3 flex flex-wrap items-center gap-3">
      <Button variant="secondary" small disabled={wait > 0} busy={busy} busyLabel="Sending…" onClick={onSend}>
        Send another link
      </Button>
      <span className="text-sm text-slate-600" aria-live="off">
        {wait > 0 ? `One link a minute per address: you can ask again in ${wait} s.` : 'You can ask for a new link now.'}
      </span>
    </p>
  );
}

mount(<Signup />);
