/**
 * The state of one target and the one pure function that produces it.
 *
 * `TargetState` is a discriminated union switched exhaustively (the model is VS Code's
 * update-service `State`). Nothing builds a `TargetState` by hand: the engine feeds
 * `StateEvent`s to `nextState`, and its single writer (`setState`) stores the result and emits one
 * `state` event. Progress updates `progress` only, never the kind; within one operation the kinds
 * only move forward:
 *
 *   checking → downloading → verifying → applying → health-checking → (settled)
 *                                            └──────────────┴──→ rolling-back → failed | (settled)
 *
 * "Settled" is the resting state derived from what the engine knows (`RestingFacts`): `failed`
 * when the last operation left an error, `available` when a newer release is known, `up-to-date`
 * after a check, else `idle`. A cancelled operation settles like a successful one (cancel is not
 * failure), so a cancelled download shows `available` again.
 */
import type { ErrorView, Progress } from './api';
import { assertNever } from './errors';

export type TargetState =
  | { kind: 'idle' }
  | { kind: 'checking' }
  | { kind: 'up-to-date'; checked_at: string }
  | { kind: 'available'; version: string; is_critical: boolean; is_breaking: boolean; checked_at: string }
  | { kind: 'downloading'; version: string; progress: Progress }
  | { kind: 'verifying'; version: string; progress: Progress }
  | { kind: 'applying'; version: string; progress: Progress }
  | { kind: 'health-checking'; version: string; progress: Progress }
  | { kind: 'rolling-back'; to_version: string | null; progress: Progress }
  | { kind: 'failed'; error: ErrorView; at: string };

export type TargetStateKind = TargetState['kind'];

/** Every kind, in display order (tests iterate over it). */
export const TARGET_STATE_KINDS: readonly TargetStateKind[] = [
  'idle', 'checking', 'up-to-date', 'available', 'downloading', 'verifying', 'applying', 'health-checking', 'rolling-back', 'failed',
];

/** The states that carry live progress: an operation is changing or reading the target. */
export type WorkingState = Extract<TargetState, { progress: Progress }>;

/** What the engine knows about a target when no operation is running on it. */
export interface RestingFacts {
  /** Error of the last operation or check, null when it succeeded. */
  last_error: ErrorView | null;
  /** ISO time of the last completed check, null when never checked. */
  last_checked_at: string | null;
  /** The newest eligible release newer than the installed one, if the last check found one. */
  available: { version: string; is_critical: boolean; is_breaking: boolean } | null;
}

/** The phase kinds an operation moves through, with their order. */
export type OperationKindOfState = 'downloading' | 'verifying' | 'applying' | 'health-checking' | 'rolling-back';

/** Inputs of the state machine. `at` values are ISO 8601 times from the engine's clock. */
export type StateEvent =
  /** A check (alone, or the first step of an operation) started. */
  | { type: 'check-started' }
  /** An operation entered a phase: the kind moves there if that is forward. */
  | { type: 'phase'; kind: 'downloading' | 'verifying' | 'applying' | 'health-checking'; version: string; progress: Progress }
  /** A rollback (manual, or automatic after a failed switch/health check) started. */
  | { type: 'rollback-started'; to_version: string | null; progress: Progress }
  /** Live progress of the running phase: replaces `progress`, percent never decreases within an operation. */
  | { type: 'progress'; progress: Progress }
  /** The operation or check ended without error (or was cancelled): rest on the facts. */
  | { type: 'settled'; facts: RestingFacts }
  /** The operation or check ended with an error. */
  | { type: 'failed'; error: ErrorView; at: string };

export type StateEventType = StateEvent['type'];

/** Every event type (tests iterate over it). */
export const STATE_EVENT_TYPES: readonly StateEventType[] = ['check-started', 'phase', 'rollback-started', 'progress', 'settled', 'failed'];

const PHASE_RANK: Record<OperationKindOfState, number> = {
  downloading: 1,
  verifying: 2,
  applying: 3,
  'health-checking': 4,
  'rolling-back': 5,
};

/** The live progress of a working state, null for resting states and `checking`. */
export function progressOf(state: TargetState): Progress | null {
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
      return assertNever(state, 'target state');
  }
}

/** True while an operation changes or reads the target with progress (checking excluded: it is brief). */
export function isWorking(state: TargetState): state is WorkingState {
  return progressOf(state) !== null;
}

/** True while anything runs on the target (checking included): actions that start another one are disabled. */
export function isBusy(state: TargetState): boolean {
  return state.kind === 'checking' || isWorking(state);
}

/** True for the states an operation never leaves the target in (it always settles or fails). */
export function isResting(state: TargetState): boolean {
  return !isBusy(state);
}

/** The resting state the facts describe. */
export function restingState(f: RestingFacts): TargetState {
  if (f.last_error) return { kind: 'failed', error: f.last_error, at: f.last_checked_at ?? new Date(0).toISOString() };
  if (f.available) {
    return { kind: 'available', version: f.available.version, is_critical: f.available.is_critical, is_breaking: f.available.is_breaking, checked_at: f.last_checked_at ?? '' };
  }
  if (f.last_checked_at) return { kind: 'up-to-date', checked_at: f.last_checked_at };
  return { kind: 'idle' };
}

function rankOf(state: TargetState): number {
  return isWorking(state) ? PHASE_RANK[state.kind] : 0;
}

/** Progress that never goes backwards within one operation. */
function forwardProgress(prev: Progress | null, next: Progress): Progress {
  if (!prev || prev.operation_id !== next.operation_id || next.percent >= prev.percent) return next;
  return { ...next, percent: prev.percent };
}

/**
 * The state after `event`. Pure and total: an event that does not apply to the current state
 * (progress while resting, a phase that would move an operation backwards) leaves it unchanged.
 */
export function nextState(state: TargetState, event: StateEvent): TargetState {
  switch (event.type) {
    case 'check-started':
      // A check inside a running operation does not hide the operation.
      return isWorking(state) ? state : { kind: 'checking' };
    case 'phase': {
      if (isWorking(state) && PHASE_RANK[event.kind] < rankOf(state)) return state;
      return { kind: event.kind, version: event.version, progress: forwardProgress(progressOf(state), event.progress) };
    }
    case 'rollback-started':
      return { kind: 'rolling-back', to_version: event.to_version, progress: forwardProgress(progressOf(state), event.progress) };
    case 'progress': {
      if (!isWorking(state)) return state;
      const progress = forwardProgress(state.progress, event.progress);
      return { ...state, progress } as TargetState;
    }
    case 'settled':
      return restingState(event.facts);
    case 'failed':
      return { kind: 'failed', error: event.error, at: event.at };
    default:
      return assertNever(event, 'state event');
  }
}
