/** The home page: what tenantplane is, and the ways in. */
import { Layout, mount, useSession } from './ui/layout.tsx';

const FEATURES: [string, string][] = [
  ['Launch in seconds', 'Sign up, confirm your email, press Launch: Demo, Test and Live environments, each with its own URL.'],
  ['Run the whole life', 'Deploy, suspend and resume, secrets, logs, costs and deletion from one place.'],
  [
    'Ask in plain words',
    'The chat turns "create a tenant called shop" into the same safe actions, with confirmation for anything destructive.',
  ],
];

function Home() {
  const session = useSession();
  const user = session.status === 'signed-in' ? session.user : session.status === 'loading' ? null : undefined;
  return (
    <Layout title="Your product, one click per customer" user={user ?? null}>
      <section className="py-4 sm:py-10">
        <h1 className="max-w-2xl text-3xl sm:text-5xl">Your product, one click per customer.</h1>
        <p className="mt-4 max-w-2xl text-lg text-slate-600">
          tenantplane gives each of your customers an isolated environment of your product, and runs it for them from then on.
        </p>
        {session.status === 'signed-in' ? (
          <div className="mt-8 flex flex-wrap gap-3">
            <a href="/tenants.html" className="btn btn-primary">
              Go to my tenants
            </a>
            <a href="/launch.html" className="btn btn-secondary">
              Launch a tenant
            </a>
          </div>
        ) : (
          <div className="mt-8 flex flex-wrap gap-3">
            <a href="/signup.html" className="btn btn-primary">
              Sign up
            </a>
            <a href="/signup.html?mode=signin" className="btn btn-secondary">
              Sign in with an email link
            </a>
          </div>
        )}
      </section>
      <section aria-labelledby="features" className="mt-6">
        <h2 id="features" className="sr-only">
          What you get
        </h2>
        <ul className="grid gap-4 sm:grid-cols-3">
          {FEATURES.map(([title, text]) => (
            <li key={title} className="card">
              <h3 className="font-semibold text-slate-900">{title}</h3>
              <p className="mt-2 text-sm text-slate-600">{text}</p>
            </li>
          ))}
        </ul>
      </section>
    </Layout>
  );
}

mount(<Home />);
