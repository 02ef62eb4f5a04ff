/**
 * A target's status badge: one label and colour per TargetState kind, with the live percent while
 * an operation runs. `data-testid="status-badge"` and `data-state="<kind>"` for tests.
 */
import type { TargetState } from '../../src-shared/api';
import { useUpkeep } from '../context';
import { isWorking, statusLabel, statusTone } from '../status';

/** Badge for a state, with live progress from the store when given a target id. */
export function StatusBadge({ state, targetId }: { state: TargetState; targetId?: string }) {
  const live = useUpkeep((s) => (targetId ? s.progress[targetId] : undefined));
  const label = statusLabel(state, isWorking(state) ? (live ?? null) : null);
  return (
    <span className={`badge badge-${statusTone(state)}`} data-testid="status-badge" data-state={state.kind}>
      {isWorking(state) ? <span className="spinner spinner-small" aria-hidden="true" /> : null}
      {label}
    </span>
  );
}

/** Small flag badges shown next to a release. */
export function FlagBadge({ kind }: { kind: 'critical' | 'breaking' | 'migrations' }) {
  const text = kind === 'critical' ? 'Critical' : kind === 'breaking' ? 'Breaking changes' : 'Migrations required';
  return (
    <span className={`badge badge-flag badge-${kind === 'critical' ? 'danger' : 'warn'}`} data-testid={`${kind}-badge`}>
      {text}
    </span>
  );
}
