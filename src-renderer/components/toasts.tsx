/**
 * Notifications from the engine as toasts. Errors stay until dismissed (role=alert); the others
 * are polite status messages that leave after a while.
 */
import { useEffect } from 'react';
import { useUpkeep } from '../context';
import type { Toast } from '../store';

/** How long a non-error toast stays, in milliseconds. */
export const TOAST_LIFETIME_MS = 8000;

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: (id: number) => void }) {
  useEffect(() => {
    if (toast.level === 'error') return undefined;
    const timer = setTimeout(() => onDismiss(toast.id), TOAST_LIFETIME_MS);
    return () => clearTimeout(timer);
  }, [toast.id, toast.level, onDismiss]);
  return (
    <li className={`toast toast-${toast.level}`} role={toast.level === 'error' ? 'alert' : 'status'} data-testid="toast" data-level={toast.level}>
      <div className="toast-text">
        <strong>{toast.title}</strong>
        {toast.target ? <span className="muted"> · {toast.target}</span> : null}
        <p>{toast.message}</p>
      </div>
      <button type="button" className="icon-button" aria-label={`Dismiss notification: ${toast.title}`} onClick={() => onDismiss(toast.id)}>
        <span aria-hidden="true">×</span>
      </button>
    </li>
  );
}

/** The toast stack (bottom right). */
export function Toasts() {
  const toasts = useUpkeep((s) => s.toasts);
  const dismiss = useUpkeep((s) => s.dismissToast);
  return (
    <section className="toasts" aria-label="Notifications">
      <ul>
        {toasts.map((t) => (
          <ToastItem key={t.id} toast={t} onDismiss={dismiss} />
        ))}
      </ul>
    </section>
  );
}
