/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels) that can require typing a word. */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { Button } from './controls.tsx';

export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  typeToConfirm,
  busy,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** When set, the confirm button stays disabled until this exact text is typed. */
  typeToConfirm?: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  const id = useId();
  useEffect(() => {
    if (open && !dialog.current?.open) {
      setTyped('');
      dialog.current?.showModal();
    }
    if (!open && dialog.current?.open) dialog.current.close();
  }, [open]);
  return (
    <dialog
      ref={dialog}
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
      aria-labelledby={`${id}-title`}
      className="m-auto w-[min(28rem,calc(100vw-2rem))] rounded-xl p-0 shadow-xl backdrop:bg-slate-900/40"
    >
      <form
        method="dialog"
        className="space-y-4 p-5"
        onSubmit={(e) => {
          e.preventDefault();
          onConfirm();
        }}
      >
        <h2 id={`${id}-title`}>{title}</h2>
        <div className="text-sm text-slate-700">{children}</div>
        {typeToConfirm && (
          <div>
            <label htmlFor={`${id}-text`} className="label">
              Type <strong>{typeToConfirm}</strong> to confirm
            </label>
            <input id={`${id}-text`} className="input" autoComplete="off" value={typed} onChange={(e) => setTyped(e.target.value)} />
          </div>
        )}
        <div className="flex flex-wrap justify-end gap-2">
          <Button variant="secondary" onClick={onCancel}>
            Cancel
          </Button>
          <Button type="submit" variant="danger" busy={busy} disabled={Boolean(typeToConfirm) && typed.trim() !== typeToConfirm}>
            {confirmLabel}
          </Button>
        </div>
      </form>
    </dialog>
  );
}
