/**
 * Small pure pieces of the pipeline: operation ids, progress percentages per install phase,
 * result kinds, and the state a target shows when no operation is running in this process.
 */
import { randomBytes } from 'node:crypto';
import type { OperationResult, Phase, ReleaseView, TargetState, TargetView } from '../../src-shared/api';
import type { UpkeepError } from '../../src-shared/errors';
import { defaultMode } from './apply';
import type { RuntimeState } from './state/store';

/** A new operation id: time-ordered and unique. */
export function newOperationId(now: Date): string {
  return `op_${now.toISOString().replace(/[-:.]/g, '').slice(0, 15)}_${randomBytes(3).toString('hex')}`;
}

/** The permission bits a manifest file is installed with. */
export function modeOf(f: { mode?: number | undefined; type: string }): number {
  return defaultMode(f.type, f.mode);
}

/** Install phases share 50–100 % in order, so the bar never moves backwards (download is 0–50). */
const INSTALL_RANGES: Record<string, [number, number]> = {
  stage: [50, 68],
  backup: [68, 76],
  switch: [76, 88],
  commit: [97, 99],
  rollback: [50, 99],
};

export function installPercent(phase: string, done: number, total: number): number {
  const [from, to] = INSTALL_RANGES[phase] ?? [50, 99];
  return from + Math.round((Math.min(done, total) / Math.max(1, total)) * (to - from));
}

export function phaseOf(p: string): Phase {
  return p === 'stage' || p === 'backup' || p === 'switch' || p === 'commit' || p === 'rollback' ? p : 'switch';
}

export function labelOf(p: string): string {
  return p === 'stage' ? 'Staging' : p === 'backup' ? 'Backing up' : p === 'switch' ? 'Switching' : p === 'commit' ? 'Committing' : 'Restoring';
}

export function resultOf(e: UpkeepError): OperationResult {
  return e.kind === 'security' || e.kind === 'refused' ? 'refused' : 'failed';
}

/** The release the last check found (runtime.json keeps it as plain JSON). */
export function availableOf(rt: RuntimeState): ReleaseView | null {
  const a = rt.available as ReleaseView | null | undefined;
  return a && typeof a === 'object' && typeof a.version === 'string' ? a : null;
}

export function derivedState(rt: RuntimeState, available: TargetView['available']): TargetState {
  const checkedAt = rt.last_checked_at ?? null;
  if (rt.last_error) return { kind: 'failed', error: rt.last_error, at: checkedAt ?? new Date(0).toISOString() };
  if (available) return { kind: 'available', version: available.version, is_critical: available.is_critical, is_breaking: available.is_breaking, checked_at: checkedAt ?? '' };
  if (checkedAt) return { kind: 'up-to-date', checked_at: checkedAt };
  return { kind: 'idle' };
}
