/** Small building blocks shared by every page: buttons, fields, notices, badges, progress. */
import { useId, type ButtonHTMLAttributes, type InputHTMLAttributes, type ReactNode } from 'react';

type Variant = 'primary' | 'secondary' | 'danger';

/** A button that shows a spinner and keeps its width while `busy`; `busyLabel` is announced instead. */
export function Button({
  variant = 'primary',
  busy = false,
  busyLabel,
  small,
  className = '',
  children,
  ...rest
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; busy?: boolean; busyLabel?: string; small?: boolean }) {
  return (
    <button
      type="button"
      {...rest}
      disabled={busy || rest.disabled}
      aria-busy={busy || undefined}
      className={`btn btn-${variant} ${small ? 'btn-small' : ''} ${className}`}
    >
      {busy && <Spinner />}
      {busy && busyLabel ? busyLabel : children}
    </button>
  );
}

export function Spinner({ label }: { label?: string }) {
  return (
    <span className="inline-flex items-center gap-2">
      <span aria-hidden="true" className="size-4 animate-spin rounded-full border-2 border-current border-r-transparent" />
      {label && <span>{label}</span>}
    </span>
  );
}

/** A labelled input with its error below, tied together for screen readers. */
export function Field({
  label,
  hint,
  error,
  className = '',
  ...input
}: InputHTMLAttributes<HTMLInputElement> & { label: ReactNode; hint?: ReactNode; error?: string }) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={className}>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <input id={id} className="input" aria-invalid={error ? true : undefined} aria-describedby={describedBy} {...input} />
      {hint && (
        <p id={`${id}-hint`} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

export type NoticeKind = 'ok' | 'error' | 'info';

export function Notice({
  kind,
  title,
  children,
  className = '',
}: {
  kind: NoticeKind;
  title?: ReactNode;
  children?: ReactNode;
  className?: string;
}) {
  return (
    <div className={`notice notice-${kind} ${className}`}>
      {title && <p className="font-semibold">{title}</p>}
      {children}
    </div>
  );
}

const BADGE: Record<string, string> = {
  ready: 'bg-emerald-50 text-emerald-800 ring-emerald-600/30',
  active: 'bg-emerald-50 text-emerald-800 ring-emerald-600/30',
  provisioning: 'bg-amber-50 text-amber-800 ring-amber-600/30',
  pending: 'bg-amber-50 text-amber-800 ring-amber-600/30',
  activating: 'bg-amber-50 text-amber-800 ring-amber-600/30',
  deleting: 'bg-amber-50 text-amber-800 ring-amber-600/30',
  suspended: 'bg-slate-100 text-slate-700 ring-slate-500/30',
  inactive: 'bg-slate-100 text-slate-700 ring-slate-500/30',
  deleted: 'bg-slate-100 text-slate-500 ring-slate-400/30',
  failed: 'bg-red-50 text-red-800 ring-red-600/30',
  admin: 'bg-violet-50 text-violet-800 ring-violet-600/30',
  tenant: 'bg-brand-50 text-brand-700 ring-brand-500/30',
};

/** A state shown as a colored pill with its name in words (color is never the only signal). */
export function Badge({ state, label }: { state: string; label?: string }) {
  return <span className={`badge ${BADGE[state] ?? 'bg-slate-100 text-slate-700 ring-slate-400/30'}`}>{label ?? state}</span>;
}

/** A determinate progress bar with an accessible name and value. */
export function ProgressBar({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value * 100)));
  return (
    <div
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct}
      className="h-2 w-full overflow-hidden rounded-full bg-slate-200"
    >
      <div className="h-full rounded-full bg-brand-600 transition-[width] duration-500" style={{ width: `${pct}%` }} />
    </div>
  );
}

/** Formats an ISO time as a short local time. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
