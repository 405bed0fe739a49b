import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

interface Props {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

/** An in-page confirmation dialog (never window.confirm). Escape cancels. */
export function ConfirmDialog({ title, children, confirmLabel, danger, busy, onConfirm, onCancel }: Props) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    cancelRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onCancel();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [onCancel]);
  return (
    <div class="modal-backdrop" data-testid="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onCancel()}>
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title" data-testid="confirm-dialog">
        <h2 id="modal-title">{title}</h2>
        <div class="modal-body" data-testid="confirm-text">
          {children}
        </div>
        <div class="modal-actions">
          <button ref={cancelRef} class="btn" data-testid="confirm-cancel" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
          <button
            class={danger ? 'btn btn-danger' : 'btn btn-primary'}
            data-testid="confirm-ok"
            onClick={onConfirm}
            disabled={busy}
          >
            {confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
