/**
 * What a TargetState looks like to a person: one label and one tone per kind, switched
 * exhaustively so a new state kind fails the type check until the UI knows it.
 */
import type { Progress, TargetState } from '../src-shared/api';

export type Tone = 'ok' | 'info' | 'warn' | 'danger' | 'busy' | 'neutral';

/** Compile-time exhaustiveness guard. */
export function assertNever(value: never): never {
  throw new Error(`Unhandled state: ${JSON.stringify(value)}`);
}

/** The state's live progress, when it is a working state. */
export function stateProgress(state: TargetState): Progress | null {
  switch (state.kind) {
    case 'downloading':
    case 'verifying':
    case 'applying':
    case 'health-checking':
    case 'rolling-back':
      return state.progress;
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

/** True while an operation runs on the target (buttons that start another one are disabled). */
export function isWorking(state: TargetState): boolean {
  return state.kind === 'checking' || stateProgress(state) !== null;
}

function pct(progress: Progress | null | undefined): string {
  const p = progress?.percent;
  return typeof p === 'number' && Number.isFinite(p) ? ` ${Math.max(0, Math.min(100, Math.round(p)))}%` : '';
}

/** Badge text: "Up to date", "Update available", "Critical update", "Downloading 42%", "Failed: ERR_…". */
export function statusLabel(state: TargetState, live?: Progress | null): string {
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
      return `Downloading${pct(live ?? state.progress)}`;
    case 'verifying':
      return `Verifying${pct(live ?? state.progress)}`;
    case 'applying':
      return `Applying${pct(live ?? state.progress)}`;
    case 'health-checking':
      return 'Checking health…';
    case 'rolling-back':
      return `Rolling back${pct(live ?? state.progress)}`;
    case 'failed':
      return `Failed: ${state.error.code}`;
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
      return 'danger';
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
