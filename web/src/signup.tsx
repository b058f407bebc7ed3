/**
 * Sign up (and sign in: a returning user asks for a new link, which is the same
 * request; the mail then says "you already have an account" and its link signs in).
 */
import { useRef, useState, type FormEvent } from 'react';
import { ApiError, describeError, describeWait } from './lib/errors.ts';
import { Layout, mount } from './ui/layout.tsx';
import { Button, Field, Notice } from './ui/controls.tsx';
import { saveProfile } from './lib/profile.ts';

const MIGRATIONS = [
  ['fresh', 'Fresh', 'An empty environment.'],
  ['enhance', 'Enhance', 'Start from your existing setup and add to it.'],
  ['full', 'Full migration', 'Move everything over from your current system.'],
] as const;

type Errors = Partial<Record<'email' | 'name' | 'company' | 'migration' | 'form', string>>;
type Outcome = { kind: 'sent'; email: string } | { kind: 'error'; title: string; message: string };

function Signup() {
  const query = new URLSearchParams(location.search);
  const signIn = query.get('mode') === 'signin';
  const preset = MIGRATIONS.some(([value]) => value === query.get('migration')) ? query.get('migration')! : 'fresh';
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
    const payload: Record<string, string> = { email };
    if (!signIn) payload.migration = String(data.get('migration') ?? 'fresh');
    for (const name of ['name', 'company']) {
      const value = String(data.get(name) ?? '').trim();
      if (value) payload[name] = value;
    }
    if (query.get('plan')) payload.plan = query.get('plan')!;
    setBusy(true);
    try {
      const res = await fetch('/api/signup', { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(payload) });
      if (res.status === 202) {
        // The launch page suggests a tenant name from these (the activation answer does not carry them).
        saveProfile({ email, company: payload.company, name: payload.name });
        setOutcome({ kind: 'sent', email });
      } else {
        const body = await res.clone().json().catch(() => null);
        if (res.status === 400 && body?.error?.code === 'validation_failed') {
          const fields = (body.error.details?.fields ?? {}) as Record<string, string>;
          const next: Errors = {};
          for (const [name, message] of Object.entries(fields)) next[(['email', 'name', 'company', 'migration'].includes(name) ? name : 'form') as keyof Errors] = message;
          if (Object.keys(next).length === 0) next.form = body.error.message;
          setErrors(next);
          focusFirstInvalid();
        } else {
          const retryAfter = Number(res.headers.get('Retry-After')) || null;
          const title = res.status === 429 ? 'Too many attempts' : 'Something went wrong';
          const message = res.status === 429 ? `Please try again ${describeWait(retryAfter)}.` : describeError(new ApiError(body?.error?.message ?? `The server answered ${res.status}.`, res.status, 'x'));
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
          {signIn ? 'We will email you a link that signs you in. No password needed.' : 'We will email you a link to activate it. No password needed.'}
        </p>
        <form ref={form} noValidate onSubmit={submit} hidden={sent} className="mt-6 space-y-4">
          <Field label="Email address" name="email" type="email" autoComplete="email" inputMode="email" required maxLength={254} error={errors.email} />
          {!signIn && (
            <>
              <Field label={<>Your name <span className="font-normal text-slate-500">(optional)</span></>} name="name" autoComplete="name" maxLength={100} error={errors.name} />
              <Field label={<>Company <span className="font-normal text-slate-500">(optional)</span></>} name="company" autoComplete="organization" maxLength={100} error={errors.company} />
              <fieldset>
                <legend className="label">How do you want to start?</legend>
                <div className="grid gap-2">
                  {MIGRATIONS.map(([value, title, text]) => (
                    <label key={value} className="flex cursor-pointer gap-3 rounded-lg border border-slate-200 p-3 has-[:checked]:border-brand-500 has-[:checked]:bg-brand-50">
                      <input type="radio" name="migration" value={value} defaultChecked={value === preset} className="mt-1 accent-brand-600" />
                      <div>
                        <span className="font-medium">{title}</span>
                        <span className="block text-sm text-slate-600">{text}</span>
                      </div>
                    </label>
                  ))}
                </div>
                {errors.migration && <p className="field-error">{errors.migration}</p>}
              </fieldset>
            </>
          )}
          {errors.form && <p className="field-error">{errors.form}</p>}
          <Button type="submit" busy={busy} busyLabel={signIn ? 'Sending…' : 'Signing up…'} className="w-full sm:w-auto">
            {signIn ? 'Email me a sign-in link' : 'Sign up'}
          </Button>
          {signIn ? (
            <p className="text-sm text-slate-600">New here? <a href="/signup.html">Create an account</a>.</p>
          ) : (
            <p className="text-sm text-slate-600">Have an account? <a href="/signup.html?mode=signin">Sign in with an email link</a>.</p>
          )}
        </form>
        <div role="status" aria-live="polite" className="mt-4">
          {outcome?.kind === 'sent' && (
            <Notice kind="ok">
              <p ref={resultHeading} tabIndex={-1} className="font-semibold">Check your inbox</p>
              <p className="mt-1">
                We sent a link to <strong>{outcome.email}</strong>. Open it {signIn ? 'to sign in' : 'to activate your account'}; it works for 24 hours.
              </p>
              <p className="mt-1">No mail after a few minutes? Look in your spam folder, or ask again for a new link.</p>
            </Notice>
          )}
          {outcome?.kind === 'error' && (
            <Notice kind="error">
              <p ref={resultHeading} tabIndex={-1} className="font-semibold">{outcome.title}</p>
              <p className="mt-1">{outcome.message}</p>
            </Notice>
          )}
        </div>
      </div>
    </Layout>
  );
}

mount(<Signup />);
