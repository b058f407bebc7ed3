/**
 * A tenant's release settings, for admins (issue 20): the release it is pinned
 * to (rollouts skip a pinned tenant) and its labels (a rollout can target a
 * label). The same settings as `tenantplane releases settings`.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';
import type { Tenant } from '../lib/tenants.ts';
import { parseLabels } from '../../../shared/releases/labels.ts';
import { Button, Field, Notice, Spinner } from './controls.tsx';

interface Settings {
  pin?: string | null;
  labels?: Record<string, string>;
}

const formatLabels = (labels: Record<string, string> = {}) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

export function ReleaseSettingsSection({ tenant }: { tenant: Tenant }) {
  const path = `/api/v1/tenants/${tenant.id}/release-settings`;
  const [settings, setSettings] = useState<Settings | null>(null);
  const [releases, setReleases] = useState<string[]>([]);
  const [pin, setPin] = useState('');
  const [labels, setLabels] = useState('');
  const [fieldError, setFieldError] = useState('');
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [saving, setSaving] = useState(false);

  const show = (s: Settings) => {
    setSettings(s);
    setPin(s.pin ?? '');
    setLabels(formatLabels(s.labels));
  };
  useEffect(() => {
    api<{ settings: Settings }>(path).then(
      (r) => show(r.settings),
      (err) => setMessage({ kind: 'error', text: describeError(err) }),
    );
    api<{ releases: { name: string }[] }>('/api/v1/releases').then(
      (r) => setReleases(r.releases.map((x) => x.name)),
      () => setReleases([]),
    );
  }, [tenant.id]);

  async function save(e: FormEvent) {
    e.preventDefault();
    const parsed = parseLabels(labels);
    if ('badPair' in parsed)
      return setFieldError(`Write labels as key=value pairs separated by commas, e.g. ring=early; "${parsed.badPair}" is not one.`);
    setFieldError('');
    setSaving(true);
    setMessage(null);
    try {
      const r = await api<{ settings: Settings }>(path, { method: 'PUT', json: { pin: pin || null, labels: parsed.labels } });
      show(r.settings);
      setMessage({ kind: 'ok', text: r.settings.pin ? `Pinned to ${r.settings.pin}; rollouts skip it.` : 'Saved; rollouts reach it.' });
    } catch (err) {
      setMessage({ kind: 'error', text: describeError(err) });
    } finally {
      setSaving(false);
    }
  }

  return (
    <section aria-labelledby={`release-settings-${tenant.id}`}>
      <h3 id={`release-settings-${tenant.id}`}>Release settings</h3>
      {!settings && !message && <Spinner label="Loading release settings…" />}
      {settings && (
        <form className="mt-2 space-y-3" aria-label={`Release settings of ${tenant.name}`} onSubmit={save}>
          <div>
            <label htmlFor={`pin-${tenant.id}`} className="label">
              Pinned to release
            </label>
            <select id={`pin-${tenant.id}`} className="input" value={pin} onChange={(e) => setPin(e.target.value)}>
              <option value="">Not pinned: rollouts reach it</option>
              {[...new Set([...(settings.pin ? [settings.pin] : []), ...releases])].map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
          <Field
            label="Labels"
            hint="key=value pairs separated by commas, e.g. ring=early, region=eu; a rollout can target one."
            value={labels}
            error={fieldError}
            onChange={(e) => setLabels(e.target.value)}
          />
          <Button type="submit" variant="secondary" busy={saving} busyLabel="Saving…">
            Save release settings
          </Button>
        </form>
      )}
      {message && (
        <Notice kind={message.kind} className="mt-2">
          {message.text}
        </Notice>
      )}
    </section>
  );
}
