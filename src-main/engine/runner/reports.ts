/**
 * How the runner reports what happened, as pure functions: a driver's outcome (or a thrown
 * error) becomes the result or error the caller sees, the history result, the notification and
 * the log line. Three endings stay distinct on every surface: success, rolled back (the error
 * carries `details.rolled_back: true` and `cause`), and failure; a cancel is none of them
 * (ERR_CANCELLED, history `cancelled`, an `update_cancelled` notification).
 */
import type { ErrorView, Notification, OperationKind, OperationResult } from '../../../src-shared/api';
import { OperationError, isErrorCode, toUpkeepError, type ErrorCode, type UpkeepError } from '../../../src-shared/errors';
import type { ApplyOutcome, OutcomeCause, RollbackOutcome } from '../drivers/driver';

export interface ReportSubject {
  target: string;
  /** Display name of the target. */
  name: string;
  operation: OperationKind;
  from: string | null;
  to: string | null;
}

/** Everything the runner records and announces for one ended operation. */
export interface Report {
  /** The error the caller gets (null: the operation succeeded). */
  error: UpkeepError | null;
  history: OperationResult;
  notification: Omit<Notification, 'at'> | null;
  log: { level: 'info' | 'warn' | 'error'; message: string };
}

function view(e: { code: string; message: string }): ErrorView {
  return { code: e.code, message: e.message };
}

/** The history result of an error: cancelled, refused (security/policy) or failed. */
export function resultOfError(e: UpkeepError): OperationResult {
  if (e.code === 'ERR_CANCELLED') return 'cancelled';
  return e.kind === 'security' || e.kind === 'refused' ? 'refused' : 'failed';
}

/** The stable code of a cause (a code this build does not know becomes ERR_APPLY_FAILED). */
function codeOf(cause: OutcomeCause): ErrorCode {
  return isErrorCode(cause.code) ? cause.code : 'ERR_APPLY_FAILED';
}

/** The report of an operation that threw: nothing on the target was changed. */
export function errorReport(s: ReportSubject, err: unknown): Report {
  const e = toUpkeepError(err);
  const what = s.operation === 'apply' || s.operation === 'verify' ? `${s.operation} of ${s.to ?? 'the newest release'}` : s.operation;
  if (e.code === 'ERR_CANCELLED') {
    return {
      error: e,
      history: 'cancelled',
      notification: { type: 'update_cancelled', target: s.target, version: s.to, from_version: s.from, message: `${s.name}: ${what} cancelled` },
      log: { level: 'info', message: `${s.target}: ${what} cancelled` },
    };
  }
  const announce = s.operation === 'apply' || s.operation === 'download' || s.operation === 'rollback';
  return {
    error: e,
    history: resultOfError(e),
    notification: announce ? { type: 'update_failed', target: s.target, version: s.to, from_version: s.from, error: view(e), message: `${s.name}: ${e.message}` } : null,
    log: { level: 'error', message: `${s.target}: ${what} failed: ${e.message} (${e.code})` },
  };
}

/** The report of a driver's apply outcome. `committed` is success; the others carry an error. */
export function applyReport(s: ReportSubject, o: ApplyOutcome): Report {
  switch (o.kind) {
    case 'committed':
      return {
        error: null,
        history: 'success',
        notification: { type: 'update_completed', target: s.target, version: s.to, from_version: s.from, message: `${s.name} updated to ${s.to}` },
        log: { level: 'info', message: `${s.target}: updated ${s.from ?? 'nothing'} -> ${s.to}; rollback point ${o.rollback_id ?? 'none'}` },
      };
    case 'rolled_back': {
      const back = s.from ?? 'the previous state';
      const error = new OperationError(codeOf(o.cause), `${o.cause.message} — rolled back to ${back}`, {
        ...(o.cause.details ?? {}), rolled_back: true, cause: view(o.cause), to_version: s.to, rolled_back_to: s.from,
      });
      return {
        error,
        history: 'rolled_back',
        notification: { type: 'rolled_back', target: s.target, version: s.from, from_version: s.to, error: view(o.cause), message: `${s.name} ${s.to} failed (${o.cause.code}); rolled back to ${back}` },
        log: { level: 'error', message: `${s.target}: apply of ${s.to} failed: ${o.cause.message} (${o.cause.code}); rolled back` },
      };
    }
    case 'undo_failed': {
      const error = new OperationError(codeOf(o.cause), `${o.cause.message}; ${o.undo_error.message}`, {
        ...(o.cause.details ?? {}), rolled_back: false, undo_failed: true, cause: view(o.cause), undo_error: o.undo_error,
      });
      return {
        error,
        history: 'failed',
        notification: { type: 'update_failed', target: s.target, version: s.to, from_version: s.from, error: view(o.cause), message: `${s.name}: ${error.message}` },
        log: { level: 'error', message: `${s.target}: apply of ${s.to} failed and could not be undone: ${o.undo_error.message}` },
      };
    }
  }
}

/** The report of a driver's rollback outcome. */
export function rollbackReport(s: ReportSubject, o: RollbackOutcome): Report {
  switch (o.kind) {
    case 'committed':
      return {
        error: null,
        history: 'success',
        notification: { type: 'rolled_back', target: s.target, version: o.version, from_version: o.from_version, message: `${s.name} rolled back to ${o.version ?? 'its state before the first install'}` },
        log: { level: 'info', message: `${s.target}: rolled back ${o.from_version ?? 'nothing'} -> ${o.version ?? 'nothing'} (point ${o.rollback_id})` },
      };
    case 'rolled_back': {
      const error = new OperationError(codeOf(o.cause), `${o.cause.message} — the rollback was undone; ${s.from ?? 'the current state'} is kept`, {
        ...(o.cause.details ?? {}), rolled_back: true, cause: view(o.cause),
      });
      return { error, history: 'failed', notification: { type: 'update_failed', target: s.target, version: s.to, from_version: s.from, error: view(o.cause), message: `${s.name}: ${error.message}` }, log: { level: 'error', message: `${s.target}: rollback failed: ${o.cause.message} (${o.cause.code})` } };
    }
    case 'undo_failed': {
      const error = new OperationError(codeOf(o.cause), `${o.cause.message}; ${o.undo_error.message}`, {
        ...(o.cause.details ?? {}), undo_failed: true, cause: view(o.cause), undo_error: o.undo_error,
      });
      return { error, history: 'failed', notification: { type: 'update_failed', target: s.target, version: s.to, from_version: s.from, error: view(o.cause), message: `${s.name}: ${error.message}` }, log: { level: 'error', message: `${s.target}: rollback failed and could not be undone: ${o.undo_error.message}` } };
    }
  }
}
