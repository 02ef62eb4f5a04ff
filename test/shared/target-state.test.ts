/**
 * The state machine: every kind × every event has one stated answer, progress never changes the
 * kind nor lowers the percent within an operation, and an operation's kinds only move forward.
 */
import { describe, it, expect } from 'vitest';
import type { Progress } from '../../src-shared/api';
import {
  STATE_EVENT_TYPES, TARGET_STATE_KINDS, isBusy, isWorking, nextState, progressOf, restingState,
  type StateEvent, type TargetState, type TargetStateKind,
} from '../../src-shared/target-state';

function progress(percent: number, op = 'op_1'): Progress {
  return {
    operation_id: op, phase: 'download', message: 'x', bytes_done: 0, bytes_total: 0, speed_bps: 0, eta_s: null,
    files_done: 0, files_total: 0, percent, cancellable: true,
  };
}

const AT = '2026-11-29T10:00:00.000Z';
const ERROR = { code: 'ERR_HASH_MISMATCH', message: 'bad' };

/** One state of each kind (working ones at 40 %). */
function stateOf(kind: TargetStateKind): TargetState {
  switch (kind) {
    case 'idle':
      return { kind };
    case 'checking':
      return { kind };
    case 'up-to-date':
      return { kind, checked_at: AT };
    case 'available':
      return { kind, version: '1.1.0', is_critical: false, is_breaking: false, checked_at: AT };
    case 'downloading':
    case 'verifying':
    case 'applying':
    case 'health-checking':
      return { kind, version: '1.1.0', progress: progress(40) };
    case 'rolling-back':
      return { kind, to_version: '1.0.0', progress: progress(40) };
    case 'failed':
      return { kind, error: ERROR, at: AT };
  }
}

const FACTS_AVAILABLE = { last_error: null, last_checked_at: AT, available: { version: '1.2.0', is_critical: true, is_breaking: false } };

/** One event of each type. */
function eventOf(type: StateEvent['type']): StateEvent {
  switch (type) {
    case 'check-started':
      return { type };
    case 'phase':
      return { type, kind: 'verifying', version: '1.1.0', progress: progress(50) };
    case 'rollback-started':
      return { type, to_version: null, progress: progress(60) };
    case 'progress':
      return { type, progress: progress(45) };
    case 'settled':
      return { type, facts: FACTS_AVAILABLE };
    case 'failed':
      return { type, error: ERROR, at: AT };
  }
}

/** The expected kind after each event from each kind: the whole transition table. */
const TABLE: Record<TargetStateKind, Record<StateEvent['type'], TargetStateKind>> = {
  idle: { 'check-started': 'checking', phase: 'verifying', 'rollback-started': 'rolling-back', progress: 'idle', settled: 'available', failed: 'failed' },
  checking: { 'check-started': 'checking', phase: 'verifying', 'rollback-started': 'rolling-back', progress: 'checking', settled: 'available', failed: 'failed' },
  'up-to-date': { 'check-started': 'checking', phase: 'verifying', 'rollback-started': 'rolling-back', progress: 'up-to-date', settled: 'available', failed: 'failed' },
  available: { 'check-started': 'checking', phase: 'verifying', 'rollback-started': 'rolling-back', progress: 'available', settled: 'available', failed: 'failed' },
  downloading: { 'check-started': 'downloading', phase: 'verifying', 'rollback-started': 'rolling-back', progress: 'downloading', settled: 'available', failed: 'failed' },
  verifying: { 'check-started': 'verifying', phase: 'verifying', 'rollback-started': 'rolling-back', progress: 'verifying', settled: 'available', failed: 'failed' },
  // An operation never moves backwards: `verifying` after `applying` is ignored.
  applying: { 'check-started': 'applying', phase: 'applying', 'rollback-started': 'rolling-back', progress: 'applying', settled: 'available', failed: 'failed' },
  'health-checking': { 'check-started': 'health-checking', phase: 'health-checking', 'rollback-started': 'rolling-back', progress: 'health-checking', settled: 'available', failed: 'failed' },
  'rolling-back': { 'check-started': 'rolling-back', phase: 'rolling-back', 'rollback-started': 'rolling-back', progress: 'rolling-back', settled: 'available', failed: 'failed' },
  failed: { 'check-started': 'checking', phase: 'verifying', 'rollback-started': 'rolling-back', progress: 'failed', settled: 'available', failed: 'failed' },
};

describe('nextState', () => {
  for (const kind of TARGET_STATE_KINDS) {
    for (const type of STATE_EVENT_TYPES) {
      it(`${kind} + ${type} → ${TABLE[kind][type]}`, () => {
        const before = stateOf(kind);
        const after = nextState(before, eventOf(type));
        expect(after.kind).toBe(TABLE[kind][type]);
        if (type === 'progress' || (type === 'check-started' && isWorking(before))) {
          // Progress and checks never change the kind; working states keep everything but progress.
          if (!isWorking(before)) expect(after).toEqual(before);
        }
        const p = progressOf(after);
        const prev = progressOf(before);
        if (p && prev && p.operation_id === prev.operation_id) expect(p.percent).toBeGreaterThanOrEqual(prev.percent);
      });
    }
  }

  it('covers every kind and every event type', () => {
    expect(Object.keys(TABLE).sort()).toEqual([...TARGET_STATE_KINDS].sort());
    for (const row of Object.values(TABLE)) expect(Object.keys(row).sort()).toEqual([...STATE_EVENT_TYPES].sort());
  });

  it('progress replaces the progress but never lowers the percent of the same operation', () => {
    const s1 = nextState(stateOf('downloading'), { type: 'progress', progress: progress(70) });
    expect(progressOf(s1)?.percent).toBe(70);
    const s2 = nextState(s1, { type: 'progress', progress: { ...progress(56), message: 'later' } });
    expect(s2.kind).toBe('downloading');
    expect(progressOf(s2)).toMatchObject({ percent: 70, message: 'later' });
    // A new operation starts its own bar.
    const s3 = nextState(s2, { type: 'phase', kind: 'downloading', version: '1.2.0', progress: progress(3, 'op_2') });
    expect(progressOf(s3)?.percent).toBe(3);
  });

  it('settles on the facts: failed, available, up-to-date or idle', () => {
    expect(restingState({ last_error: ERROR, last_checked_at: AT, available: null })).toEqual({ kind: 'failed', error: ERROR, at: AT });
    expect(restingState(FACTS_AVAILABLE)).toEqual({ kind: 'available', version: '1.2.0', is_critical: true, is_breaking: false, checked_at: AT });
    expect(restingState({ last_error: null, last_checked_at: AT, available: null })).toEqual({ kind: 'up-to-date', checked_at: AT });
    expect(restingState({ last_error: null, last_checked_at: null, available: null })).toEqual({ kind: 'idle' });
  });

  it('isBusy includes checking, isWorking only the states with progress', () => {
    const busy = TARGET_STATE_KINDS.filter((k) => isBusy(stateOf(k)));
    const working = TARGET_STATE_KINDS.filter((k) => isWorking(stateOf(k)));
    expect(busy).toEqual(['checking', 'downloading', 'verifying', 'applying', 'health-checking', 'rolling-back']);
    expect(working).toEqual(['downloading', 'verifying', 'applying', 'health-checking', 'rolling-back']);
  });
});
