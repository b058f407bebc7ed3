/** Activation: exchanges the token from the mail link for an account and a sign-in token, then offers "Launch". */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { SESSION_KEY } from './lib/auth.ts';
import { describeWait } from './lib/errors.ts';
import { Layout, mount } from './ui/layout.tsx';
import { Notice, Spinner, type NoticeKind } from './ui/controls.tsx';

// Read once and drop from the address bar, history and any later Referer.
const token = new URLSearchParams(location.search).get('token');
if (token) history.replaceState(null, '', location.pathname);

interface Outcome {
  heading: string;
  kind: NoticeKind;
  body: ReactNode;
  actions: ReactNode;
}

const signUpAgain = (label = 'Sign up again', href = '/signup.html') => (
  <a href={href} className="btn btn-primary">
    {label}
  </a>
);

async function activate(): Promise<Outcome> {
  if (!token) return { heading: 'No activation link', kind: 'error', body: 'Open this page from the link in your activation email.', actions: signUpAgain('Sign up') };
  let res: Response;
  try {
    res = await fetch('/api/activate', { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify({ token }) });
  } catch {
    return { heading: 'We could not reach the server', kind: 'error', body: 'Check your connection and try again.', actions: <RetryButton /> };
  }
  const body = await res.json().catch(() => null);
  switch (res.status) {
    case 200: {
      const { uid, email, customToken, next } = body as { uid: string; email: string; customToken: string; next?: string };
      sessionStorage.setItem(SESSION_KEY, JSON.stringify({ uid, email, customToken, at: Date.now() }));
      return {
        heading: 'Your account is active',
        kind: 'ok',
        body: (
          <>
            Welcome, <strong>{email}</strong>. Press Launch to create your environment.
          </>
        ),
        actions: (
          <a href={next || '/launch.html'} id="launch" className="btn btn-primary" autoFocus>
            Launch
          </a>
        ),
      };
    }
    case 410:
      return { heading: 'This link has expired', kind: 'error', body: 'Activation links work for 24 hours. Sign up again and we will send you a new one.', actions: signUpAgain() };
    case 409:
      return {
        heading: 'Already activated',
        kind: 'ok',
        body: 'This link was already used, so your account is already active. To sign in again, ask for a sign-in link with the same address.',
        actions: signUpAgain('Get a sign-in link', '/signup.html?mode=signin'),
      };
    case 400:
      return { heading: 'This link is not valid', kind: 'error', body: 'It may be incomplete, or replaced by a newer link we sent you. Use the newest email, or sign up again.', actions: signUpAgain() };
    case 429:
      return { heading: 'Too many attempts', kind: 'error', body: `Please try again ${describeWait(Number(res.headers.get('Retry-After')) || null)}.`, actions: null };
    default: {
      const reference = res.headers.get('X-Request-Id');
      return {
        heading: 'We could not activate your account yet',
        kind: 'error',
        body: (
          <>
            {body?.error?.message ?? 'Check your connection and try again.'}
            {reference && ` If it keeps happening, contact us and quote reference ${reference}.`}
          </>
        ),
        actions: <RetryButton />,
      };
    }
  }
}

function RetryButton() {
  return (
    <button type="button" className="btn btn-primary" onClick={() => location.replace(`${location.pathname}?token=${encodeURIComponent(token ?? '')}`)}>
      Try again
    </button>
  );
}

function Activate() {
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    activate().then(setOutcome);
  }, []);
  useEffect(() => {
    // The heading names the outcome; focus it unless an action (Launch) took focus itself.
    if (outcome && document.activeElement === document.body) heading.current?.focus();
  }, [outcome]);
  return (
    <Layout title={outcome?.heading ?? 'Activating your account'}>
      <div className="card mx-auto max-w-lg">
        <h1 ref={heading} tabIndex={-1}>
          {outcome?.heading ?? 'Activating your account…'}
        </h1>
        <div role="status" aria-live="polite" aria-busy={!outcome} className="mt-4">
          {outcome ? <Notice kind={outcome.kind}><p>{outcome.body}</p></Notice> : <Spinner label="One moment while we check your link." />}
        </div>
        {outcome?.actions && <p className="mt-6 flex flex-wrap gap-3">{outcome.actions}</p>}
      </div>
    </Layout>
  );
}

mount(<Activate />);
