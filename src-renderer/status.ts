/**
 * What a TargetState looks like to a person: one label and one tone per kind, switched
 * exhaustively so a new state kind fails the type check until the UI knows it.
 */
import type { Progress, TargetState } from '../src-shared/api';
import { assertNever } from '../src-shared/errors';
import { progressLabelPercent } from '../src-shared/format';

export type Tone = 'ok' | 'info' | 'warn' | 'danger' | 'busy' | 'neutral';

/**
 * The state machine's own predicates (src-shared/target-state.ts): `progressOf` gives a working
 * state's live progress; `isBusy` is true while anything runs on the target (checking included),
 * so buttons that would start another operation are disabled.
 */
export { isBusy, progressOf } from '../src-shared/target-state';

function pct(progress: Progress | null | undefined): string {
  const p = progress?.percent;
  return typeof p === 'number' && Number.isFinite(p) ? ` ${progressLabelPercent(progress!)}%` : '';
}

/** The code of an operation the user cancelled: shown as "Cancelled", never as a failure. */
export const CANCELLED_CODE = 'ERR_CANCELLED';

/** True for a failed state (or error) that is really a cancellation by the user. */
export function isCancelled(error: { code: string } | null | undefined): boolean {
  return error?.code === CANCELLED_CODE;
}

/**
 * What a working state is doing, named after the state kind (not the pipeline phase, which can
 * lag or run ahead): "Downloading", "Verifying", "Applying", "Checking health", "Rolling back".
 */
export function workingLabel(kind: 'downloading' | 'verifying' | 'applying' | 'health-checking' | 'rolling-back'): string {
  switch (kind) {
    case 'downloading':
      return 'Downloading';
    case 'verifying':
      return 'Verifying';
    case 'applying':
      return 'Applying';
    case 'health-checking':
      return 'Checking health';
    case 'rolling-back':
      return 'Rolling back';
    default:
      return assertNever(kind);
  }
}

/**
 * Title of the progress panel, from the state kind: "Downloading 1.2.0", "Checking health of
 * 1.2.0", "Rolling back to 1.0.0", "Rolling back to no installed version"; null when not working.
 */
export function activityTitle(state: TargetState): string | null {
  switch (state.kind) {
    case 'downloading':
    case 'verifying':
    case 'applying':
      return `${workingLabel(state.kind)} ${state.version}`;
    case 'health-checking':
      return `Checking health of ${state.version}`;
    case 'rolling-back':
      return state.to_version ? `Rolling back to ${state.to_version}` : 'Rolling back to no installed version';
    case 'idle':
    case 'checking':
    case 'up-to-date':
    case 'available':
    case 'failed':
      return null;
    default:
      return assertNever(state);
  }
}

/**
 * Badge text: "Up to date", "Update available", "Critical update", "Downloading 82%",
 * "Checking health", "Cancelled", "Failed: ERR_…". A working state's word comes from its kind; the
 * percent only from progress of the same operation: while downloading, of the bytes downloaded,
 * else of the whole operation (src-shared/format.ts progressLabelPercent).
 */
export function statusLabel(state: TargetState, live?: Progress | null): string {
  const pctOf = (progress: Progress) => pct(live && live.operation_id === progress.operation_id ? live : progress);
  switch (state.kind) {
    case 'idle':
      return 'Not checked yet';
    case 'checking':
      return 'Checking…';
    case 'up-to-date':
      return 'Up to date';
    case 'available':
      return state.is_critical ? 'Critical update' : 'Update available';
    case 'downloading':
    case 'verifying':
    case 'applying':
    case 'rolling-back':
      return `${workingLabel(state.kind)}${pctOf(state.progress)}`;
    case 'health-checking':
      return workingLabel(state.kind);
    case 'failed':
      return isCancelled(state.error) ? 'Cancelled' : `Failed: ${state.error.code}`;
    default:
      return assertNever(state);
  }
}

/** Colour family of the badge. */
export function statusTone(state: TargetState): Tone {
  switch (state.kind) {
    case 'idle':
      return 'neutral';
    case 'up-to-date':
      return 'ok';
    case 'available':
      return state.is_critical ? 'danger' : 'info';
    case 'checking':
    case 'downloading':
    case 'verifying':
    case 'applying':
    case 'health-checking':
    case 'rolling-back':
      return 'busy';
    case 'failed':
      return isCancelled(state.error) ? 'neutral' : 'danger';
    default:
      return assertNever(state);
  }
}

const PHASE_LABELS: Record<string, string> = {
  check: 'Checking',
  download: 'Downloading',
  verify: 'Verifying',
  stage: 'Staging files',
  backup: 'Backing up',
  switch: 'Switching',
  migrate: 'Migrating',
  smoke: 'Smoke test',
  health: 'Health check',
  commit: 'Committing',
  rollback: 'Rolling back',
  step: 'Running step',
};

/** "Downloading", "Backing up"… for a pipeline phase. */
export function phaseLabel(phase: string): string {
  return PHASE_LABELS[phase] ?? phase;
}
