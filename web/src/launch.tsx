/**
 * Launch (R-ACTIVATE-2): signs in with the activation's custom token, creates
 * the tenant, and shows each provisioning event live until every environment
 * answers, then links to them. `?tenant=<id>` watches an existing launch.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api } from './lib/api.ts';
import type { SignedInUser } from './lib/auth.ts';
import { ApiError, describeError } from './lib/errors.ts';
import { readProfile, suggestTenantName } from './lib/profile.ts';
import { ENV_LABELS, ENV_NAMES, followOperation, tenantPath, type Tenant, type TenantEvent } from './lib/tenants.ts';
import { Button, Field, Notice, ProgressBar, formatTime } from './ui/controls.tsx';
import { SignedInPage, mount } from './ui/layout.tsx';
import { CredentialsPanel, rememberCredentialsLink } from './ui/credentials.tsx';
import { PlanSummary, usePlans } from './ui/plan.tsx';
import { dataMilestones, getWebConfig } from './lib/config.ts';
import { progressOf } from './lib/progress.ts';

type Phase =
  | { kind: 'form' }
  | { kind: 'running'; tenant: Tenant }
  | { kind: 'ready'; tenant: Tenant }
  | { kind: 'failed'; tenant: Tenant; message: string };

function Launch({ user }: { user: SignedInUser }) {
  const watchId = new URLSearchParams(location.search).get('tenant');
  const profile = readProfile();
  const [phase, setPhase] = useState<Phase>({ kind: 'form' });
  const [events, setEvents] = useState<TenantEvent[]>([]);
  const [connection, setConnection] = useState<'live' | 'reconnecting'>('live');
  const [errors, setErrors] = useState<{ name?: string; environments?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const plans = usePlans();
  const stop = useRef(new AbortController());
  const [dataEvents, setDataEvents] = useState<string[]>([]);
  const outcomeHeading = useRef<HTMLHeadingElement>(null);

  useEffect(() => () => stop.current.abort(), []);
  useEffect(() => {
    if (!watchId) return;
    api<{ tenant: Tenant }>(tenantPath(watchId)).then(
      ({ tenant }) => watch(tenant),
      (err) => setErrors({ form: describeError(err) }),
    );
  }, [watchId]);
  useEffect(() => {
    if (phase.kind === 'ready' || phase.kind === 'failed') outcomeHeading.current?.focus();
  }, [phase.kind]);

  async function watch(tenant: Tenant) {
    setPhase({ kind: 'running', tenant });
    try {
      const result = await followOperation(
        tenant.id,
        'provision',
        (e) => setEvents((all) => (all.some((x) => x.id === e.id) ? all : [...all, e])),
        stop.current.signal,
        setConnection,
      );
      const latest = (await api<{ tenant: Tenant }>(tenantPath(tenant.id))).tenant;
      setPhase(
        result.outcome === 'done'
          ? { kind: 'ready', tenant: latest }
          : { kind: 'failed', tenant: latest, message: latest.error?.message ?? result.event.message },
      );
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setPhase({ kind: 'failed', tenant, message: describeError(err) });
    }
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const name = String(data.get('name') ?? '').trim();
    const environments = ENV_NAMES.filter((env) => data.getAll('environments').includes(env));
    const next: typeof errors = {};
    if (!/^[a-z][a-z0-9-]{1,28}[a-z0-9]$/.test(name))
      next.name = 'Use 3 to 30 lowercase letters, digits or dashes, starting with a letter.';
    if (environments.length === 0) next.environments = 'Choose at least one environment.';
    setErrors(next);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    try {
      const created = await api<{ tenant: Tenant; links: { credentials?: string } }>('/api/v1/tenants', { json: { name, environments } });
      if (created.links.credentials) rememberCredentialsLink(created.tenant.id, created.links.credentials);
      history.replaceState(null, '', `?tenant=${created.tenant.id}`);
      void watch(created.tenant);
    } catch (err) {
      const field = err instanceof ApiError && (err.details.field === 'name' || 'name' in ((err.details.fields as object) ?? {}));
      setErrors(field ? { name: describeError(err) } : { form: describeError(err) });
    } finally {
      setBusy(false);
    }
  }

  async function retry(tenant: Tenant) {
    setBusy(true);
    try {
      await api(`${tenantPath(tenant.id)}/retry-provision`, { method: 'POST' });
      void watch(tenant);
    } catch (err) {
      setPhase({ kind: 'failed', tenant, message: describeError(err) });
    } finally {
      setBusy(false);
    }
  }

  const tenant = phase.kind === 'form' ? null : phase.tenant;
  // The plan's blueprint says whether each environment announces database_ready and bucket_ready.
  useEffect(() => {
    if (tenant?.plan)
      getWebConfig().then(
        (config) => setDataEvents(dataMilestones(config, tenant.plan)),
        () => undefined,
      );
  }, [tenant?.plan]);
  return (
    <>
      <h1>{tenant ? (phase.kind === 'ready' ? `${tenant.name} is ready` : `Launching ${tenant.name}`) : 'Launch your tenant'}</h1>
      {phase.kind === 'form' && !watchId && (
        <form noValidate onSubmit={submit} className="card mt-6 space-y-5">
          <p className="text-slate-600">
            Signed in as <strong>{user.email}</strong>. Choose a name for your tenant: you will find it by this name in My tenants, the chat
            and the CLI.
          </p>
          <Field
            label="Name"
            name="name"
            defaultValue={suggestTenantName(profile.email === user.email ? profile.company : undefined, user.email)}
            autoComplete="off"
            spellCheck={false}
            maxLength={30}
            hint="3–30 lowercase letters, digits or dashes."
            error={errors.name}
          />
          <fieldset>
            <legend className="label">Environments</legend>
            <div className="flex flex-wrap gap-3">
              {ENV_NAMES.map((env) => (
                <label
                  key={env}
                  className="flex items-center gap-2 rounded-lg border border-slate-200 px-3 py-2 has-[:checked]:border-brand-500 has-[:checked]:bg-brand-50"
                >
                  <input type="checkbox" name="environments" value={env} defaultChecked className="accent-brand-600" />
                  {ENV_LABELS[env]}
                </label>
              ))}
            </div>
            <p className="mt-1 text-xs text-slate-500">Test is disposable; Live is protected from resets.</p>
            {errors.environments && <p className="field-error">{errors.environments}</p>}
          </fieldset>
          <PlanSummary planId="free" plans={plans} lead="It starts on the plan" />
          {errors.form && <Notice kind="error">{errors.form}</Notice>}
          <Button type="submit" busy={busy} busyLabel="Creating…">
            Launch
          </Button>
        </form>
      )}
      {phase.kind === 'form' && watchId && (
        <div role="status" className="mt-4">
          {errors.form ? <Notice kind="error">{errors.form}</Notice> : 'Loading…'}
        </div>
      )}
      {tenant && (
        <section className="card mt-6 space-y-4" aria-labelledby="progress-title">
          <h2 id="progress-title">Progress</h2>
          <ProgressBar
            value={phase.kind === 'ready' ? 1 : progressOf(events, tenant.environments, dataEvents)}
            label={`Provisioning ${tenant.name}`}
          />
          <p className="text-sm text-slate-600" aria-live="polite">
            {phase.kind === 'running' &&
              (connection === 'live'
                ? 'Working… each step appears below as it happens.'
                : 'Connection lost; reconnecting without missing a step…')}
          </p>
          <div
            role="log"
            aria-live="polite"
            aria-label="Provisioning events"
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a box that scrolls must be reachable by keyboard to be scrolled
            tabIndex={0}
            className="max-h-80 overflow-y-auto rounded-lg bg-slate-50 p-3 text-sm"
          >
            <ol className="space-y-1">
              {events.map((e) => (
                <li key={e.id} className={`flex gap-3 ${e.type.endsWith('_failed') ? 'text-red-800' : ''}`}>
                  <time className="mono shrink-0 pt-0.5 text-slate-500" dateTime={e.at}>
                    {formatTime(e.at)}
                  </time>
                  <span>{e.message}</span>
                </li>
              ))}
            </ol>
          </div>
        </section>
      )}
      {phase.kind === 'ready' && (
        <section className="card mt-6 space-y-4" aria-labelledby="ready-title">
          <h2 id="ready-title" ref={outcomeHeading} tabIndex={-1} className="outline-none">
            Your environments are ready
          </h2>
          <ul className="grid gap-3 sm:grid-cols-3">
            {phase.tenant.environments.map((env) => (
              <li key={env}>
                {phase.tenant.urls[env] ? (
                  <a href={phase.tenant.urls[env]} target="_blank" rel="noopener" className="btn btn-primary w-full">
                    Open {ENV_LABELS[env]}
                  </a>
                ) : (
                  <span className="text-sm text-slate-500">{ENV_LABELS[env]}: no address yet</span>
                )}
              </li>
            ))}
          </ul>
          <CredentialsPanel tenant={phase.tenant} />
          <p>
            <a href="/tenants.html">Manage it in My tenants</a>
          </p>
        </section>
      )}
      {phase.kind === 'failed' && (
        <section className="mt-6" aria-labelledby="failed-title">
          <Notice kind="error">
            <h2 id="failed-title" ref={outcomeHeading} tabIndex={-1} className="outline-none">
              Provisioning did not finish
            </h2>
            <p className="mt-1">{phase.message}</p>
            <p className="mt-3">
              <Button onClick={() => retry(phase.tenant)} busy={busy} busyLabel="Retrying…">
                Retry
              </Button>
            </p>
          </Notice>
        </section>
      )}
    </>
  );
}

mount(<SignedInPage title="Launch">{(user) => <Launch user={user} />}</SignedInPage>);
