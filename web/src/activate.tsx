/** Activation and sign-in links: exchanges the token from the mail for an account and signs in at once,
 * then offers "Launch" (or, to a returning user with tenants, "Go to my tenants"). */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { signInWithLink, type SignedInUser } from './lib/auth.ts';
import { listTenants, type Tenant } from './lib/tenants.ts';
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
  /** Who the link signed in, for the header. */
  user?: SignedInUser;
}

const signUpAgain = (label = 'Sign up again', href = '/signup.html', variant = 'primary') => (
  <a href={href} className={`btn btn-${variant}`}>
    {label}
  </a>
);

async function activate(): Promise<Outcome> {
  if (!token)
    return {
      heading: 'No activation link',
      kind: 'error',
      body: 'Open this page from the link in your activation email.',
      actions: signUpAgain('Sign up'),
    };
  let res: Response;
  try {
    res = await fetch('/api/activate', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ token }),
    });
  } catch {
    return {
      heading: 'We could not reach the server',
      kind: 'error',
      body: 'Check your connection and try again.',
      actions: <RetryButton />,
    };
  }
  const body = await res.json().catch(() => null);
  switch (res.status) {
    case 200: {
      const { uid, email, customToken, next } = body as { uid: string; email: string; customToken: string; next?: string };
      let tenants: Tenant[] = [];
      let user: SignedInUser | undefined;
      try {
        user = await signInWithLink({ uid, email, customToken });
        tenants = (await listTenants(uid)).filter((t) => t.state !== 'deleted');
      } catch {
        // The next page signs in with the pending token and explains any failure itself.
      }
      if (tenants.length > 0) {
        return {
          heading: 'You are signed in',
          kind: 'ok',
          user,
          body: (
            <>
              Welcome back, <strong>{email}</strong>. You have{' '}
              {tenants.length === 1 ? (
                <>
                  a tenant, <strong>{tenants[0].name}</strong>
                </>
              ) : (
                `${tenants.length} tenants`
              )}
              . This browser keeps you signed in until you sign out.
            </>
          ),
          actions: (
            <>
              <a href="/tenants.html" className="btn btn-primary" autoFocus>
                Go to my tenants
              </a>
              <a href={next || '/launch.html'} className="btn btn-secondary">
                Launch another tenant
              </a>
            </>
          ),
        };
      }
      return {
        heading: 'Your account is active',
        kind: 'ok',
        user,
        body: (
          <>
            Welcome, <strong>{email}</strong>. You are signed in. Press Launch to create your first tenant: its demo, test and live
            environments.
          </>
        ),
        actions: (
          <>
            <a href={next || '/launch.html'} id="launch" className="btn btn-primary" autoFocus>
              Launch
            </a>
            {user?.role === 'admin' && (
              <a href="/portal.html" className="btn btn-secondary">
                Open the portal
              </a>
            )}
          </>
        ),
      };
    }
    case 410:
      return {
        heading: 'This link has expired',
        kind: 'error',
        body: 'Activation links work for 24 hours. Sign up again and we will send you a new one.',
        actions: signUpAgain(),
      };
    case 409:
      return {
        heading: 'Already activated',
        kind: 'ok',
        body: 'This link was already used, so your account is already active. If this browser does not have you signed in, ask for a new sign-in link.',
        actions: (
          <>
            <a href="/tenants.html" className="btn btn-primary">
              Go to my tenants
            </a>
            {signUpAgain('Get a sign-in link', '/signup.html?mode=signin', 'secondary')}
          </>
        ),
      };
    case 400:
      return {
        heading: 'This link is not valid',
        kind: 'error',
        body: 'It may be incomplete, or replaced by a newer link we sent you. Use the newest email, or sign up again.',
        actions: signUpAgain(),
      };
    case 429:
      return {
        heading: 'Too many attempts',
        kind: 'error',
        body: `Please try again ${describeWait(Number(res.headers.get('Retry-After')) || null)}.`,
        actions: null,
      };
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
    <button
      type="button"
      className="btn btn-primary"
      onClick={() => location.replace(`${location.pathname}?token=${encodeURIComponent(token ?? '')}`)}
    >
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
    <Layout title={outcome?.heading ?? 'Checking your link'} user={outcome?.user ?? null}>
      <div className="card mx-auto max-w-lg">
        <h1 ref={heading} tabIndex={-1} className="outline-none">
          {outcome?.heading ?? 'Checking your link…'}
        </h1>
        <div role="status" aria-live="polite" aria-busy={!outcome} className="mt-4">
          {outcome ? (
            <Notice kind={outcome.kind}>
              <p>{outcome.body}</p>
            </Notice>
          ) : (
            <Spinner label="One moment while we check your link." />
          )}
        </div>
        {outcome?.actions && <p className="mt-6 flex flex-wrap gap-3">{outcome.actions}</p>}
      </div>
    </Layout>
  );
}

mount(<Activate />);
