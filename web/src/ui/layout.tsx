/** The page shell: header with navigation and sign-out, a main landmark, and a skip link. */
import { useEffect, useState, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { loadCurrentUser, signOut, type SignedInUser } from '../lib/auth.ts';
import { describeError } from '../lib/errors.ts';
import { Notice, Spinner } from './controls.tsx';

/** Renders a page into `#root`. */
export function mount(page: ReactNode): void {
  createRoot(document.getElementById('root')!).render(page);
}

/**
 * `user` undefined: the header finds out itself whether someone is signed in
 * (public pages); null: nobody is (or not yet known, so neither "Sign in" nor an address shows).
 */
export function Layout({
  title,
  user,
  wide,
  children,
}: {
  title: string;
  user?: SignedInUser | null;
  wide?: boolean;
  children: ReactNode;
}) {
  const own = useSession(user === undefined);
  if (user === undefined && own.status === 'signed-in') user = own.user;
  const known = own.status === 'signed-out' || own.status === 'error';
  useEffect(() => {
    document.title = `${title} · tenantplane`;
  }, [title]);
  return (
    <>
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-10 focus:rounded focus:bg-white focus:p-2"
      >
        Skip to content
      </a>
      <header className="border-b border-slate-200 bg-white">
        <div className={`mx-auto flex flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3 ${wide ? 'max-w-6xl' : 'max-w-3xl'}`}>
          <a href="/" className="text-lg font-bold tracking-tight text-slate-900 no-underline">
            tenant<span className="text-brand-600">plane</span>
          </a>
          <nav aria-label="Main" className="flex flex-1 flex-wrap items-center gap-x-4 gap-y-1 text-sm">
            {user && <a href="/tenants.html">My tenants</a>}
            {user && <a href="/chat.html">Chat</a>}
            {user?.role === 'admin' && <a href="/portal.html">Portal</a>}
            {user?.role === 'admin' && <a href="/releases.html">Releases</a>}
          </nav>
          {user ? (
            <SignOut user={user} />
          ) : (
            known && (
              <a href="/signup.html?mode=signin" className="text-sm">
                Sign in
              </a>
            )
          )}
        </div>
      </header>
      <main id="main" className={`mx-auto px-4 py-6 sm:py-10 ${wide ? 'max-w-6xl' : 'max-w-3xl'}`}>
        {children}
      </main>
    </>
  );
}

function SignOut({ user }: { user: SignedInUser }) {
  const [busy, setBusy] = useState(false);
  return (
    <div className="flex items-center gap-2 text-sm">
      <span className="hidden max-w-48 truncate text-slate-600 sm:inline" title={user.email}>
        {user.email}
      </span>
      <button
        type="button"
        className="btn btn-secondary btn-small"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          await signOut().catch(() => undefined);
          location.assign('/');
        }}
      >
        Sign out
      </button>
    </div>
  );
}

type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out' }
  | { status: 'error'; message: string }
  | { status: 'signed-in'; user: SignedInUser };

/** Loads the signed-in user once per page. */
export function useSession(enabled = true): SessionState {
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  useEffect(() => {
    if (!enabled) return;
    loadCurrentUser().then(
      (user) => setState(user ? { status: 'signed-in', user } : { status: 'signed-out' }),
      (err) => setState({ status: 'error', message: describeError(err) }),
    );
  }, []);
  return state;
}

/** A page for signed-in users: shows loading, a sign-in prompt, or the page with its user. */
export function SignedInPage({
  title,
  wide,
  admin,
  children,
}: {
  title: string;
  wide?: boolean;
  admin?: boolean;
  children: (user: SignedInUser) => ReactNode;
}) {
  const session = useSession();
  if (session.status === 'signed-in') {
    if (admin && session.user.role !== 'admin') {
      return (
        <Layout title={title} user={session.user} wide={wide}>
          <h1>{title}</h1>
          <Notice kind="error" title="Admins only" className="mt-4">
            <p>This page is for administrators. Your account has the tenant role.</p>
            <p className="mt-2">
              <a href="/tenants.html">Go to my tenants</a>
            </p>
          </Notice>
        </Layout>
      );
    }
    return (
      <Layout title={title} user={session.user} wide={wide}>
        {children(session.user)}
      </Layout>
    );
  }
  return (
    <Layout title={title} user={null}>
      <h1>{title}</h1>
      <div role="status" aria-live="polite" className="mt-4">
        {session.status === 'loading' && <Spinner label="Signing you in…" />}
        {session.status === 'signed-out' && <SignInPrompt />}
        {session.status === 'error' && (
          <Notice kind="error" title="You are not signed in">
            <p>{session.message}</p>
            <p className="mt-2">
              <a href="/signup.html?mode=signin">Email me a sign-in link</a>
            </p>
          </Notice>
        )}
      </div>
    </Layout>
  );
}

function SignInPrompt() {
  return (
    <Notice kind="info" title="Please sign in">
      <p>We sign you in with a link sent to your email address: no password needed.</p>
      <p className="mt-2">
        <a href="/signup.html?mode=signin">Email me a sign-in link</a> · <a href="/signup.html">Create an account</a>
      </p>
    </Notice>
  );
}
