/**
 * Shows an engine error as the engine said it: the message and the stable code, e.g.
 * "Hash mismatch for file: bin/demo (ERR_HASH_MISMATCH)".
 */
import type { ReactNode } from 'react';
import type { ErrorView } from '../../src-shared/api';

/** An error box (role=alert) with an optional title and actions. */
export function ErrorMessage({ error, title, children }: { error: ErrorView; title?: string; children?: ReactNode }) {
  return (
    <div className="notice notice-error" role="alert" data-testid="error-message" data-code={error.code}>
      {title ? <strong className="notice-title">{title}</strong> : null}
      <p className="notice-body">
        <span data-testid="error-text">{error.message}</span> (<code data-testid="error-code">{error.code}</code>)
      </p>
      {children}
    </div>
  );
}
